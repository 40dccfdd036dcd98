"""A business calendar's days as a person reads them: pure, no Django.

For each local date of the calendar's zone: its open windows as wall-clock "HH:MM"
pairs, the minutes they are open and why the day is closed or short. The windows
come from the SLA engine (`offload.sla.BusinessCalendar.windows`), so the preview
shows exactly the time the clocks count:

- a day is cut at local midnight, so an overnight window shows on both days
  ("22:00"-"24:00", then "00:00"-"06:00"), and a holiday after it still shows the
  morning it spills into;
- minutes are real time: a window across a clock change is an hour shorter or
  longer than its wall-clock edges say (01:00-05:00 on the night the clocks go
  forward is 180 minutes).

docs/calendars.md#preview says the same for readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays

from offload.sla import BusinessCalendar
from offload.sla import spec as calendar_spec

DEFAULT_DAYS = 14
MAX_DAYS = 62
# A preview stays within these years (the engine covers more; nobody plans further).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
# Holiday names in this language where the country's holiday calendar has it.
HOLIDAY_LANGUAGE = "en_US"
END_OF_DAY = "24:00"

BAD_DAYS = "must be from 1 to {maximum}"
BAD_START = "the preview covers {first} to {last} only"


class Reason(StrEnum):
    """Why a day has no weekly hours, or other hours than its weekday's."""

    WEEKEND = "weekend"  # its weekday has no weekly hours
    PUBLIC_HOLIDAY = "public_holiday"  # the country's holiday calendar closes it
    CLOSED = "closed"  # a date of the spec's `closed`
    PARTIAL = "partial"  # a date of the spec's `partial`, with its own hours


@dataclass(frozen=True)
class PreviewDay:
    date: date
    weekday: str  # mon..sun, as the spec names weekdays
    windows: tuple[tuple[str, str], ...]  # local "HH:MM" pairs; "24:00" ends the day
    open_minutes: int
    reason: Reason | None  # None: an ordinary working day
    holiday: str | None  # the public holiday's name, also when another reason wins


def range_problems(start: date, days: int) -> list[tuple[str, str]]:
    """(field, message) for a preview range that cannot be shown."""
    problems: list[tuple[str, str]] = []
    if not 1 <= days <= MAX_DAYS:
        problems.append(("days", BAD_DAYS.format(maximum=MAX_DAYS)))
    elif not FIRST_DAY <= start <= LAST_DAY - timedelta(days=days - 1):
        problems.append(("start", BAD_START.format(first=FIRST_DAY, last=LAST_DAY)))
    return problems


def holiday_names(spec: calendar_spec.CalendarSpec, first: date, last: date) -> dict[date, str]:
    """The public holidays from `first` to `last` with their names, observed days
    included, as the engine reads them."""
    if spec.holiday_country is None:
        return {}
    found = holidays.country_holidays(
        spec.holiday_country,
        subdiv=spec.holiday_subdivision,
        # Neighbouring years too: an observed day can fall in the year before its
        # holiday (US New Year's Day 2022 is observed on 2021-12-31).
        years=range(first.year - 1, last.year + 2),
        language=HOLIDAY_LANGUAGE,
    )
    return {d: str(name) for d, name in found.items() if first <= d <= last}


def _reason(
    spec: calendar_spec.CalendarSpec, day: date, weekday: str, holiday: str | None
) -> Reason | None:
    # The engine's order: a partial date replaces the day's hours (winning over a
    # public holiday); a closed date and a holiday drop them; else the weekday rules.
    if day in spec.partial:
        return Reason.PARTIAL
    if day in spec.closed:
        return Reason.CLOSED
    if holiday is not None:
        return Reason.PUBLIC_HOLIDAY
    if not spec.always_open and not spec.hours.get(weekday):
        return Reason.WEEKEND
    return None


def preview_days(
    calendar: BusinessCalendar, spec: calendar_spec.CalendarSpec, start: date, days: int
) -> list[PreviewDay]:
    """`days` local dates from `start` of `calendar` (built from `spec`)."""
    zone = ZoneInfo(spec.timezone)
    last = start + timedelta(days=days - 1)
    names = holiday_names(spec, start, last)
    out = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        # Local midnights; one that a clock change skips is the instant of the change.
        opens = datetime.combine(day, time(0), tzinfo=zone)
        closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        windows = list(calendar.windows(opens, closes))
        weekday = calendar_spec.DAYS[day.weekday()]
        holiday = names.get(day)
        out.append(
            PreviewDay(
                date=day,
                weekday=weekday,
                windows=tuple(
                    (
                        a.astimezone(zone).strftime("%H:%M"),
                        END_OF_DAY if b == closes else b.astimezone(zone).strftime("%H:%M"),
                    )
                    for a, b in windows
                ),
                open_minutes=sum((b - a for a, b in windows), timedelta()) // timedelta(minutes=1),
                reason=_reason(spec, day, weekday, holiday),
                holiday=holiday,
            )
        )
    return out


def preview(raw_spec: object, start: date, days: int) -> list[PreviewDay]:
    """The preview of a JSON spec; spec.SpecError if it does not parse."""
    parsed = calendar_spec.parse(raw_spec)
    return preview_days(BusinessCalendar.from_spec(raw_spec), parsed, start, days)
