"""The business-calendar spec: one documented JSON shape for the API, admin and engine.

    {"timezone": "Europe/Warsaw",
     "hours": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], ..., "sun": []} | "24/7",
     "holidays": {"country": "PL", "subdivision": null} | null,
     "closed": ["2026-12-24"],
     "partial": [{"date": "2026-12-31", "hours": [["09:00", "13:00"]]}]}

Times are "HH:MM" (00:00 to 23:59, and "24:00" as the end of a window); dates are
"YYYY-MM-DD". A window whose end is not after its start runs overnight into the
next day. Windows may not overlap, counting an overnight window's spill into the
next day (so weekly open hours are never counted twice). A date may appear once
among `closed` and `partial` together.
`parse` checks a spec and answers every problem as (field path, message).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, time
from functools import cache
from typing import Any

import holidays

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = "24/7"
END_OF_DAY = "24:00"
FIELDS = frozenset({"timezone", "hours", "holidays", "closed", "partial"})
HOLIDAY_FIELDS = frozenset({"country", "subdivision"})
PARTIAL_FIELDS = frozenset({"date", "hours"})
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

NOT_AN_OBJECT = "must be an object"
UNKNOWN_FIELD = "unknown field"
UNKNOWN_TIMEZONE = "'{value}' is not an IANA time zone"
BAD_HOURS = 'must be an object of weekdays or "24/7"'
NOT_A_WEEKDAY = "is not a weekday (mon..sun)"
NOT_WINDOWS = "must be a list of [start, end] pairs"
NOT_A_PAIR = "must be a [start, end] pair"
BAD_TIME = "'{value}' is not a time as 'HH:MM'"
END_OF_DAY_STARTS = "'24:00' can only end a window"
EMPTY_WINDOW = "start and end are the same time"
OVERLAP = "overlaps {other}"
BAD_HOLIDAYS = 'must be {"country": ..., "subdivision": ...} or null'
NO_HOLIDAYS = "'{value}' has no holiday calendar"
NOT_A_SUBDIVISION = "'{value}' is not a subdivision of {country}"
NOT_DATES = "must be a list of dates"
BAD_DATE = "'{value}' is not a date as 'YYYY-MM-DD'"
NOT_PARTIALS = "must be a list of {date, hours}"
NOT_A_PARTIAL = "must be an object with date and hours"
REPEATED_DATE = "{value} already appears at {other}"

_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Window = tuple[time, time]
Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class CalendarSpec:
    timezone: str
    always_open: bool
    hours: dict[str, tuple[Window, ...]]
    holiday_country: str | None
    holiday_subdivision: str | None
    closed: tuple[date, ...]
    partial: dict[date, tuple[Window, ...]]


class SpecError(ValueError):
    def __init__(self, problems: Problems) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _holiday_countries() -> dict[str, frozenset[str]]:
    return {c: frozenset(subs) for c, subs in holidays.list_supported_countries().items()}


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _length(window: Window) -> int:
    """Minutes a window is open; an end not after the start runs overnight."""
    start, end = window
    minutes = _minutes(end) - _minutes(start)
    return minutes if minutes > 0 else minutes + MINUTES_PER_DAY


def _time(value: Any, path: str, problems: Problems, *, end: bool) -> time | None:
    if value == END_OF_DAY:
        if end:
            return time(0, 0)
        problems.append((path, END_OF_DAY_STARTS))
        return None
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        problems.append((path, BAD_TIME.format(value=value)))
        return None
    return time(int(value[:2]), int(value[3:]))


def _windows(value: Any, path: str, problems: Problems) -> list[tuple[str, Window]]:
    """The valid windows of a list, each with its field path."""
    if not isinstance(value, list):
        problems.append((path, NOT_WINDOWS))
        return []
    out: list[tuple[str, Window]] = []
    for i, pair in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            problems.append((where, NOT_A_PAIR))
            continue
        start = _time(pair[0], f"{where}[0]", problems, end=False)
        stop = _time(pair[1], f"{where}[1]", problems, end=True)
        if start is None or stop is None:
            continue
        if start == stop and pair[1] != END_OF_DAY:
            problems.append((where, EMPTY_WINDOW))
            continue
        out.append((where, (start, stop)))
    return out


def _overlaps(
    intervals: list[tuple[int, int, str]], problems: Problems, *, period: int | None
) -> None:
    """Report each interval [start, end) that overlaps an earlier one; with a period,
    the intervals lie on a circle (a week) and the last may wrap onto the first."""
    ordered = sorted(intervals)
    reach, reach_path = -1, ""
    for start, end, path in ordered:
        if start < reach:
            problems.append((path, OVERLAP.format(other=reach_path)))
        if end > reach:
            reach, reach_path = end, path
    if period is not None and ordered and reach > ordered[0][0] + period:
        problems.append((ordered[0][2], OVERLAP.format(other=reach_path)))


def _date(value: Any, path: str, problems: Problems) -> date | None:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append((path, BAD_DATE.format(value=value)))
    return None


def _unknown(value: dict[Any, Any], known: frozenset[str], prefix: str, problems: Problems) -> None:
    problems.extend((f"{prefix}{k}", UNKNOWN_FIELD) for k in sorted(map(str, set(value) - known)))


def _parse_hours(raw: Any, problems: Problems) -> dict[str, tuple[Window, ...]]:
    hours: dict[str, tuple[Window, ...]] = dict.fromkeys(DAYS, ())
    if not isinstance(raw, dict):
        problems.append(("hours", BAD_HOURS))
        return hours
    for day in sorted(map(str, set(raw) - set(DAYS))):
        problems.append((f"hours.{day}", NOT_A_WEEKDAY))
    weekly: list[tuple[int, int, str]] = []
    for index, day in enumerate(DAYS):
        windows = _windows(raw.get(day, []), f"hours.{day}", problems)
        hours[day] = tuple(w for _, w in windows)
        for where, window in windows:
            start = index * MINUTES_PER_DAY + _minutes(window[0])
            weekly.append((start, start + _length(window), where))
    _overlaps(weekly, problems, period=MINUTES_PER_WEEK)
    return hours


def _parse_holidays(raw: Any, problems: Problems) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or "country" not in raw:
        problems.append(("holidays", BAD_HOLIDAYS))
        return None, None
    _unknown(raw, HOLIDAY_FIELDS, "holidays.", problems)
    country, subdivision = raw.get("country"), raw.get("subdivision")
    supported = _holiday_countries()
    if not isinstance(country, str) or country not in supported:
        problems.append(("holidays.country", NO_HOLIDAYS.format(value=country)))
        return None, None
    if subdivision is not None and (
        not isinstance(subdivision, str) or subdivision not in supported[country]
    ):
        problems.append(
            ("holidays.subdivision", NOT_A_SUBDIVISION.format(value=subdivision, country=country))
        )
        return country, None
    return country, subdivision


def parse(spec: Any) -> CalendarSpec:
    """Check and normalise a spec; raises SpecError naming every bad field."""
    problems: Problems = []
    if not isinstance(spec, dict):
        raise SpecError([("spec", NOT_AN_OBJECT)])
    _unknown(spec, FIELDS, "", problems)

    tz = spec.get("timezone")
    if not isinstance(tz, str) or tz not in _timezones():
        problems.append(("timezone", UNKNOWN_TIMEZONE.format(value=tz)))

    raw_hours = spec.get("hours")
    always_open = raw_hours == ALWAYS_OPEN
    hours: dict[str, tuple[Window, ...]] = (
        dict.fromkeys(DAYS, ()) if always_open else _parse_hours(raw_hours, problems)
    )

    country, subdivision = _parse_holidays(spec.get("holidays"), problems)

    seen: dict[date, str] = {}

    def first_time(d: date, where: str) -> bool:
        if d in seen:
            problems.append((where, REPEATED_DATE.format(value=d.isoformat(), other=seen[d])))
            return False
        seen[d] = where
        return True

    closed_raw = spec.get("closed", [])
    closed: list[date] = []
    if not isinstance(closed_raw, list):
        problems.append(("closed", NOT_DATES))
    else:
        for i, value in enumerate(closed_raw):
            where = f"closed[{i}]"
            if (d := _date(value, where, problems)) is not None and first_time(d, where):
                closed.append(d)

    partial: dict[date, tuple[Window, ...]] = {}
    partial_raw = spec.get("partial", [])
    if not isinstance(partial_raw, list):
        problems.append(("partial", NOT_PARTIALS))
    else:
        for i, entry in enumerate(partial_raw):
            where = f"partial[{i}]"
            if not isinstance(entry, dict):
                problems.append((where, NOT_A_PARTIAL))
                continue
            _unknown(entry, PARTIAL_FIELDS, f"{where}.", problems)
            d = _date(entry.get("date"), f"{where}.date", problems)
            windows = _windows(entry.get("hours"), f"{where}.hours", problems)
            _overlaps(
                [(_minutes(w[0]), _minutes(w[0]) + _length(w), path) for path, w in windows],
                problems,
                period=None,
            )
            if d is not None and first_time(d, f"{where}.date"):
                partial[d] = tuple(w for _, w in windows)

    if problems:
        raise SpecError(problems)
    return CalendarSpec(
        timezone=str(tz),
        always_open=always_open,
        hours=hours,
        holiday_country=country,
        holiday_subdivision=subdivision,
        closed=tuple(sorted(closed)),
        partial=partial,
    )


def weekly_open_hours(spec: CalendarSpec) -> float:
    """Nominal open hours in a week, ignoring holidays and clock changes."""
    if spec.always_open:
        return 168.0
    minutes = sum(_length(w) for windows in spec.hours.values() for w in windows)
    return minutes / 60
