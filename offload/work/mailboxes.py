"""Mailboxes: the addresses of processes of channel email, and their IMAP settings.

A provider admin creates and edits them; every change is audited on the client's
chain, the IMAP password as "changed" or "cleared", never its value. The password is
stored as a Fernet token under a key derived from settings.SECRET_KEY (and readable
under SECRET_KEY_FALLBACKS, so a key rotation does not lock the poller out). The
rules are docs/email.md.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from offload.contracts.models import Channel, Process
from offload.core import errors
from offload.core.errors import FieldError
from offload.tenancy import audit, visibility
from offload.tenancy.models import OrganisationKind
from offload.tenancy.visibility import Principal
from offload.work.models import Mailbox

NOT_EMAIL_PROCESS = "a mailbox belongs to a process of channel email; this process is '{channel}'"
BAD_ADDRESS = "must be an e-mail address"
ADDRESS_TAKEN = "another mailbox has this address"
REQUIRED_WITH_HOST = "is required when imap_host is set"
BAD_PORT = "must be a port number, 1 to 65535"
NOT_READABLE = "the IMAP password cannot be decrypted (SECRET_KEY changed?); enter it again"

# Audited; the password is audited separately, as a marker.
MAILBOX_FIELDS = [
    "process_id",
    "address",
    "display_name",
    "is_active",
    "auto_acknowledge",
    "imap_host",
    "imap_port",
    "imap_username",
    "imap_folder",
    "imap_use_ssl",
]
EDITABLE = frozenset(MAILBOX_FIELDS) - {"process_id"} | {"imap_password"}
PASSWORD = "imap_password"  # noqa: S105 (a field's name, not a password)
CHANGED, CLEARED = "(changed)", "(cleared)"


# ------------------------------------------------------------------ the password


def _fernet(secret: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"offload.mailbox.imap-password"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(s) for s in secrets])


def password_encrypt(password: str) -> str:
    return _keys().encrypt(password.encode()).decode() if password else ""


def password_decrypt(token: str) -> str:
    """The stored password; a 409 when no current or fallback key opens it."""
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise errors.Conflict(NOT_READABLE) from exc


# ------------------------------------------------------------------ checks


def _problems(data: Mapping[str, Any], mailbox: Mailbox | None) -> list[FieldError]:
    problems: list[FieldError] = []
    if "address" in data:
        try:
            validate_email(data["address"])
        except ValidationError:
            problems.append(FieldError("address", BAD_ADDRESS))
        else:
            taken = Mailbox.objects.filter(address=data["address"])
            if mailbox is not None:
                taken = taken.exclude(pk=mailbox.pk)
            if taken.exists():
                problems.append(FieldError("address", ADDRESS_TAKEN))
    port = data.get("imap_port")
    if port is not None and not 1 <= int(port) <= 65535:
        problems.append(FieldError("imap_port", BAD_PORT))
    host = data.get("imap_host", mailbox.imap_host if mailbox else "")
    if host:
        for name in ("imap_username", "imap_folder"):
            value = data.get(name, getattr(mailbox, name, "") if mailbox else "")
            if not str(value or "").strip():
                problems.append(FieldError(name, REQUIRED_WITH_HOST))
    return problems


def _check(problems: list[FieldError]) -> None:
    if problems:
        raise errors.ValidationFailed(problems)


def _require(actor: Principal | None) -> None:
    if actor is not None:
        visibility.require(actor, "mailbox.manage")
        visibility.require_side(actor, OrganisationKind.PROVIDER)


def _save(mailbox: Mailbox, **kwargs: Any) -> None:
    """Save, turning a race on the unique address into a 422 naming it."""
    try:
        with transaction.atomic():
            mailbox.save(**kwargs)
    except IntegrityError as exc:
        raise errors.ValidationFailed.single("address", ADDRESS_TAKEN) from exc


def _normalise(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if isinstance(out.get("address"), str):
        out["address"] = out["address"].strip().lower()
    for name in ("imap_host", "imap_username", "display_name", "imap_folder"):
        if isinstance(out.get(name), str):
            out[name] = out[name].strip()
    return out


# ------------------------------------------------------------------ services


@transaction.atomic
def mailbox_create(
    *,
    actor: Principal | None,
    process: Process,
    address: str,
    display_name: str = "",
    is_active: bool = True,
    auto_acknowledge: bool = False,
    imap_host: str = "",
    imap_port: int = 993,
    imap_username: str = "",
    imap_password: str = "",
    imap_folder: str = "INBOX",
    imap_use_ssl: bool = True,
) -> Mailbox:
    """A new mailbox of a process of channel email; with an IMAP host it is polled at once."""
    _require(actor)
    if actor is not None and not visibility.can_see(actor, process):
        raise errors.NotFound("process not found")
    data = _normalise(
        {
            "address": address,
            "display_name": display_name,
            "is_active": is_active,
            "auto_acknowledge": auto_acknowledge,
            "imap_host": imap_host,
            "imap_port": imap_port,
            "imap_username": imap_username,
            "imap_folder": imap_folder,
            "imap_use_ssl": imap_use_ssl,
        }
    )
    problems = _problems(data, None)
    if process.channel != Channel.EMAIL:
        problems.insert(
            0, FieldError("process_id", NOT_EMAIL_PROCESS.format(channel=process.channel))
        )
    _check(problems)
    mailbox = Mailbox(
        client_id=process.client_id,
        provider_id=process.provider_id,
        process=process,
        imap_password_encrypted=password_encrypt(imap_password),
        next_poll_at=timezone.now() if data["imap_host"] else None,
        **data,
    )
    _save(mailbox)
    changes = audit.diff({}, audit.snapshot(mailbox, MAILBOX_FIELDS))
    if imap_password:
        changes[PASSWORD] = [None, CHANGED]
    audit.record(
        organisation=mailbox.client,
        actor=actor,
        action="mailbox.create",
        obj=mailbox,
        changes=changes,
    )
    return mailbox


@transaction.atomic
def mailbox_update(
    *, actor: Principal | None, mailbox: Mailbox, data: Mapping[str, Any]
) -> Mailbox:
    """Edit a mailbox's fields (`EDITABLE`); `imap_password` "" clears the password.
    Only what changed is saved and audited."""
    _require(actor)
    data = _normalise({k: v for k, v in data.items() if k in EDITABLE})
    locked = Mailbox.objects.select_for_update().select_related("client").get(pk=mailbox.pk)
    _check(_problems(data, locked))
    before = audit.snapshot(locked, MAILBOX_FIELDS)
    password = data.pop(PASSWORD, None)
    for key, value in data.items():
        setattr(locked, key, value)
    changes = audit.diff(before, audit.snapshot(locked, MAILBOX_FIELDS))
    if password is not None and (password or locked.imap_password_encrypted):
        locked.imap_password_encrypted = password_encrypt(password)
        changes[PASSWORD] = [None, CHANGED if password else CLEARED]
    if changes:
        # A changed IMAP setting is tried at once, and its last error forgotten.
        if any(k.startswith("imap_") or k == "is_active" for k in changes):
            locked.last_poll_error = ""
            locked.next_poll_at = timezone.now() if locked.imap_host else None
        _save(locked)
        audit.record(
            organisation=locked.client,
            actor=actor,
            action="mailbox.update",
            obj=locked,
            changes=changes,
        )
    return locked
