"""Files on work items: checked, stored through Django's storage, and an event.

A file is accepted when its size is within the per-file limit, the item's files stay
within the per-item limit, its declared content type is on the allow-list
(settings.OFFLOAD_ATTACHMENT_TYPES) and its first bytes agree with that type: a
declared PDF must start like a PDF, a declared text file must be text. Trusting the
declared type alone would let an executable ride in as `text/plain`.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Sum
from django.http import FileResponse

from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.visibility import Principal
from offload.work import history, services
from offload.work.lifecycle import Status
from offload.work.models import Attachment, WorkItem

FIELD = "file"
TOO_LARGE = "the file is {size} bytes; the limit per file is {limit} bytes"
ITEM_FULL = "the item's files would add up to {total} bytes; the limit per item is {limit} bytes"
EMPTY = "the file is empty"
TYPE_NOT_ALLOWED = "content type '{type}' is not allowed; allowed: {allowed}"
CONTENT_MISMATCH = "the file's content does not look like '{type}' ({found})"
CLOSED_ITEM = "files cannot be added to an item that is {status}"
NAME_MAX = 255
OCTET_STREAM = "application/octet-stream"

# Signatures of the binary types on the default allow-list; text types are checked
# by decoding instead.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.ms-excel": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "application/msword": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
}
_TEXT_TYPES = frozenset(
    {"text/plain", "text/csv", "application/json", "application/xml", "text/xml", "message/rfc822"}
)
_FINAL = frozenset({Status.CLOSED, Status.CANCELLED})


def content_type_of(filename: str, declared: str | None) -> str:
    """The declared type, or the one the name suggests when none (or octet-stream) was sent."""
    declared = (declared or "").split(";")[0].strip().lower()
    if declared and declared != OCTET_STREAM:
        return declared
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or OCTET_STREAM


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may end inside a multi-byte character.
        return exc.start >= len(head) - 3
    return True


def _content_problem(content_type: str, head: bytes) -> str | None:
    if content_type == "image/webp":
        ok = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
        return None if ok else CONTENT_MISMATCH.format(type=content_type, found="no WEBP header")
    signatures = _SIGNATURES.get(content_type)
    if signatures is not None:
        if head.startswith(signatures):
            return None
        return CONTENT_MISMATCH.format(type=content_type, found=f"it starts with {head[:8]!r}")
    if content_type in _TEXT_TYPES or content_type.startswith("text/"):
        if _is_text(head):
            return None
        return CONTENT_MISMATCH.format(type=content_type, found="it is not UTF-8 text")
    # A type an operator added to the allow-list that we hold no signature for.
    return None


def file_problems(*, filename: str, content_type: str, data: bytes) -> list[errors.FieldError]:
    """Why this file may not be attached, field by field (empty when it may)."""
    limit = settings.OFFLOAD_ATTACHMENT_MAX_BYTES
    allowed: Sequence[str] = settings.OFFLOAD_ATTACHMENT_TYPES
    if not data:
        return [errors.FieldError(FIELD, EMPTY)]
    if len(data) > limit:
        return [errors.FieldError(FIELD, TOO_LARGE.format(size=len(data), limit=limit))]
    if content_type not in allowed:
        message = TYPE_NOT_ALLOWED.format(type=content_type, allowed=", ".join(allowed))
        return [errors.FieldError(FIELD, message)]
    problem = _content_problem(content_type, data[:4096])
    return [errors.FieldError(FIELD, problem)] if problem else []


def _safe_name(filename: str) -> str:
    """The last path part, without control characters, at most NAME_MAX long."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "file"
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 16 else ""
        name = (stem if keep else name)[: NAME_MAX - len(keep) - 1] + (f".{keep}" if keep else "")
    return name


def _permission(principal: Principal) -> str:
    return "work_item.client_act" if principal.is_client else "work_item.act"


def may_attach(principal: Principal) -> bool:
    """Whoever may act on an item may add files to it: the provider's people and bots,
    the client's admins."""
    return visibility.allowed(principal, _permission(principal))


@transaction.atomic
def attachment_add(
    *,
    actor: Principal | None,
    item: WorkItem,
    filename: str,
    data: bytes,
    content_type: str | None = None,
    source: str = "upload",
) -> Attachment:
    """Attach a file to an item, with an `attachment_added` event, in one transaction."""
    if actor is not None:
        visibility.require(actor, _permission(actor))
    name = _safe_name(filename)
    kind = content_type_of(name, content_type)
    problems = file_problems(filename=name, content_type=kind, data=data)
    if problems:
        raise errors.ValidationFailed(problems)
    locked = services.item_lock(actor, item)
    if locked.status in _FINAL:
        raise errors.Conflict(CLOSED_ITEM.format(status=locked.status), current=locked.status)
    # The item's row lock serialises uploads, so the total cannot be overrun by a race.
    held = Attachment.objects.filter(item=locked).aggregate(s=Sum("size"))["s"] or 0
    item_limit = settings.OFFLOAD_ITEM_ATTACHMENTS_MAX_BYTES
    if held + len(data) > item_limit:
        message = ITEM_FULL.format(total=held + len(data), limit=item_limit)
        raise errors.ValidationFailed([errors.FieldError(FIELD, message)])
    attachment = Attachment(
        client_id=locked.client_id,
        provider_id=locked.provider_id,
        item=locked,
        filename=name,
        content_type=kind,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=actor.user if actor else None,
        source=source,
    )
    attachment.file.save(name, ContentFile(data), save=False)
    # The file is stored before the row; if the row or its event fails, remove it.
    try:
        attachment.save()
        history.append(
            locked,
            "attachment_added",
            actor=actor,
            data={
                "attachment": attachment.pk,
                "filename": name,
                "content_type": kind,
                "size": len(data),
                "source": source,
            },
        )
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment


def upload_bytes(upload: UploadedFile) -> bytes:
    """An upload's content, refused by size before it is read into memory."""
    limit = settings.OFFLOAD_ATTACHMENT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        message = TOO_LARGE.format(size=upload.size, limit=limit)
        raise errors.ValidationFailed([errors.FieldError(FIELD, message)])
    return bytes(upload.read())


def download(attachment: Attachment) -> FileResponse:
    """The stored file as a download under its own name and content type; never shown
    inline, so an uploaded file cannot run as a page of this site."""
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
