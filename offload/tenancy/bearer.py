"""A bearer API key to the principal it acts as, kept between requests.

Finding a key and its roles through the ORM costs about 2.5 ms of Python per
request, more than the routing cycle itself. So each process keeps the principal
it made for a key, with the rows it was made from (the key, its organisation, its
user and the user's memberships there, all in one read), and uses it again only
while a fresh read of those rows gives the same values. Any change to them (a
revocation, an expiry, a removed membership, a changed role, a deactivated user)
is seen on the very next request, in every process: nothing here can be stale.

Each request gets its own copies of the kept model instances, so nothing one
request does to its principal reaches another.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime
from functools import cache
from typing import TypeVar

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from offload.core import models as core_models
from offload.core import prepared
from offload.tenancy import services, visibility
from offload.tenancy.models import ApiKey, Membership, Organisation, User
from offload.tenancy.visibility import Principal

# Columns that change without changing who the key acts as: the key's own
# last use (touched by authentication) and the user's last sign-in.
_VOLATILE = {(ApiKey, "last_used_at"), (User, "last_login")}
# Beyond this many kept keys the memory is cleared and refilled as keys are used.
KEEP_AT_MOST = 10_000

_kept: dict[str, tuple[tuple[tuple[object, ...], ...], Principal | None]] = {}
_lock = threading.Lock()


def principal_for_secret(secret: str, *, now: datetime | None = None) -> Principal | None:
    """The principal a live key with this secret acts as, or None (as
    services.api_key_authenticate decides); notes when the key was last used."""
    now = now or timezone.now()
    digest = services.digest(secret)
    rows = _rows(digest)
    if not rows:
        return None
    kept = _kept.get(digest)
    if kept is not None and kept[0] == rows:
        principal = kept[1]
    else:
        key = services.api_key_find(secret, now=now)
        principal = visibility.principal_for_api_key(key) if key is not None else None
        with _lock:
            if len(_kept) >= KEEP_AT_MOST:
                _kept.clear()
            _kept[digest] = (rows, principal)
    if principal is None or principal.api_key is None:
        return None
    key = principal.api_key
    if key.expires_at is not None and key.expires_at <= now:
        return None
    services.api_key_touch(key, now=now)
    return _copied(principal)


def forget() -> None:
    """Drop every kept principal (tests; nothing else needs to)."""
    with _lock:
        _kept.clear()


def _copied(principal: Principal) -> Principal:
    """The kept principal with copies of its rows: a request that changes one (the
    key's last use) changes its own."""
    return dataclasses.replace(
        principal,
        organisation=_row_copy(principal.organisation),
        user=None if principal.user is None else _row_copy(principal.user),
        api_key=None if principal.api_key is None else _row_copy(principal.api_key),
    )


M = TypeVar("M", bound=Model)


def _row_copy(row: M) -> M:
    """What copy.copy makes of a loaded row (its attributes, and its own cache of
    related rows), without the detour through pickling's protocol, which was a
    twentieth of an API request's Python."""
    attributes = {name: value for name, value in row.__dict__.items() if name != "_state"}
    return core_models.loaded_instance(type(row), attributes, related=row._state.fields_cache)


def _rows(digest: str) -> tuple[tuple[object, ...], ...]:
    # Prepared: planning this join costs PostgreSQL more than running it.
    return tuple(prepared.rows(_rows_statement(), {"digest": digest}))


@cache
def _rows_statement() -> prepared.Statement:
    """The key's row with its organisation's, its user's and each of the user's
    memberships in that organisation: one row per membership (at least one)."""
    quote = connection.ops.quote_name

    def columns(model: type[Model], alias: str) -> list[str]:
        return [
            f"{alias}.{quote(f.column)}"
            for f in model._meta.concrete_fields
            if (model, f.name) not in _VOLATILE
        ]

    selected = [
        *columns(ApiKey, "k"),
        *columns(Organisation, "o"),
        *columns(User, "u"),
        *columns(Membership, "m"),
    ]
    return prepared.statement(
        f"SELECT {', '.join(selected)} "  # noqa: S608 (table and column names only)
        f"FROM {quote(ApiKey._meta.db_table)} k "
        f"JOIN {quote(Organisation._meta.db_table)} o ON o.id = k.organisation_id "
        f"LEFT JOIN {quote(User._meta.db_table)} u ON u.id = k.user_id "
        f"LEFT JOIN {quote(Membership._meta.db_table)} m "
        "ON m.user_id = k.user_id AND m.organisation_id = k.organisation_id "
        "WHERE k.digest = %(digest)s AND k.revoked_at IS NULL AND k.expired_at IS NULL "
        "ORDER BY m.id"
    )
