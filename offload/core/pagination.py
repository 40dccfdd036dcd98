"""Cursor pagination for API lists: keyset on the primary key, opaque cursors."""

from __future__ import annotations

import base64
import binascii
from typing import TypeVar

from django.db.models import Model, QuerySet

from offload.core import errors

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
BAD_CURSOR = "not a cursor this API issued"
BAD_LIMIT = f"must be between 1 and {MAX_LIMIT}"


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"pk:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "pk":
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.ValidationFailed.single("cursor", BAD_CURSOR) from exc


def paginate(
    queryset: QuerySet[M],
    *,
    cursor: str | None,
    limit: int = DEFAULT_LIMIT,
    newest_first: bool = False,
) -> tuple[list[M], str | None]:
    """One page in primary-key order and the cursor of the next, or None at the end.

    `newest_first` turns the order around (an inbox is read from the top); its
    cursors look the same and mean "older than this one".
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.ValidationFailed.single("limit", BAD_LIMIT)
    if cursor:
        after = decode_cursor(cursor)
        queryset = queryset.filter(pk__lt=after) if newest_first else queryset.filter(pk__gt=after)
    rows = list(queryset.order_by("-pk" if newest_first else "pk")[: limit + 1])
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].pk)
    return rows, None


def page(queryset: QuerySet[M], *, cursor: str | None, limit: int) -> dict[str, object]:
    """The `{"items": [...], "next_cursor": ...}` body every list endpoint answers."""
    items, next_cursor = paginate(queryset, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}
