"""What the workforce pages' forms share: reading a posted id or date, and the
messages of fields that do not parse."""

from __future__ import annotations

from datetime import date

ID_DIGITS_MAX = 18
BAD_DATE = "not a date (YYYY-MM-DD)"
BAD_DATETIME = "not a date and time"
BAD_NUMBER = "not a number"


def posted_id(value: str) -> int | None:
    """A posted id, or None when it is not one (never an error: the form says so)."""
    return int(value) if value.isdigit() and len(value) <= ID_DIGITS_MAX else None


def posted_date(value: str, field: str, problems: list[tuple[str, str | None]]) -> date | None:
    """A posted YYYY-MM-DD date, or None with the field's problem added."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append((field, BAD_DATE))
        return None
