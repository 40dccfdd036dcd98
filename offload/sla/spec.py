"""The business-calendar spec: one documented JSON shape for the API, admin and engine.

    {"timezone": "Europe/Warsaw",
     "hours": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], ..., "sun": []} | "24/7",
     "holidays": {"country": "PL", "subdivision": null} | null,
     "closed": ["2026-12-24"],
     "partial": [{"date": "2026-12-31", "hours": [["09:00", "13:00"]]}]}

A window whose end is not after its start runs overnight into the next day.
`parse` checks a spec and answers every problem as (field path, message).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import holidays

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = "24/7"

Window = tuple[time, time]


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
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


def _time(value: Any, path: str, problems: list[tuple[str, str]]) -> time | None:
    if not isinstance(value, str):
        problems.append((path, "must be a time as 'HH:MM'"))
        return None
    if value == "24:00":
        return time(0, 0)
    try:
        hh, mm = value.split(":")
        if len(hh) != 2 or len(mm) != 2:
            raise ValueError(value)
        return time(int(hh), int(mm))
    except ValueError:
        problems.append((path, f"'{value}' is not a time as 'HH:MM'"))
        return None


def _windows(value: Any, path: str, problems: list[tuple[str, str]]) -> tuple[Window, ...]:
    if not isinstance(value, list):
        problems.append((path, "must be a list of [start, end] pairs"))
        return ()
    out: list[Window] = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            problems.append((f"{path}[{i}]", "must be a [start, end] pair"))
            continue
        start = _time(pair[0], f"{path}[{i}][0]", problems)
        end = _time(pair[1], f"{path}[{i}][1]", problems)
        if start is not None and end is not None:
            if start == end and pair[1] != "24:00":
                problems.append((f"{path}[{i}]", "start and end are the same time"))
                continue
            out.append((start, end))
    return tuple(out)


def _date(value: Any, path: str, problems: list[tuple[str, str]]) -> date | None:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        problems.append((path, f"'{value}' is not a date as 'YYYY-MM-DD'"))
        return None


def parse(spec: Any) -> CalendarSpec:
    """Check and normalise a spec; raises SpecError naming every bad field."""
    problems: list[tuple[str, str]] = []
    if not isinstance(spec, dict):
        raise SpecError([("spec", "must be an object")])
    unknown = set(spec) - {"timezone", "hours", "holidays", "closed", "partial"}
    problems.extend((k, "unknown field") for k in sorted(unknown))

    tz = spec.get("timezone")
    if not isinstance(tz, str) or tz not in zoneinfo.available_timezones():
        problems.append(("timezone", f"'{tz}' is not an IANA time zone"))

    raw_hours = spec.get("hours")
    always_open = raw_hours == ALWAYS_OPEN
    hours: dict[str, tuple[Window, ...]] = dict.fromkeys(DAYS, ())
    if not always_open:
        if not isinstance(raw_hours, dict):
            problems.append(("hours", 'must be an object of weekdays or "24/7"'))
        else:
            for day in sorted(set(raw_hours) - set(DAYS)):
                problems.append((f"hours.{day}", "is not a weekday (mon..sun)"))
            for day in DAYS:
                hours[day] = _windows(raw_hours.get(day, []), f"hours.{day}", problems)

    country = subdivision = None
    raw_holidays = spec.get("holidays")
    if raw_holidays is not None:
        if not isinstance(raw_holidays, dict) or "country" not in raw_holidays:
            problems.append(("holidays", 'must be {"country": ..., "subdivision": ...} or null'))
        else:
            country = raw_holidays.get("country")
            subdivision = raw_holidays.get("subdivision")
            supported = holidays.list_supported_countries()
            if country not in supported:
                problems.append(("holidays.country", f"'{country}' has no holiday calendar"))
            elif subdivision is not None and subdivision not in supported[country]:
                problems.append(
                    ("holidays.subdivision", f"'{subdivision}' is not a subdivision of {country}")
                )

    closed_raw = spec.get("closed", [])
    closed: list[date] = []
    if not isinstance(closed_raw, list):
        problems.append(("closed", "must be a list of dates"))
    else:
        for i, value in enumerate(closed_raw):
            if (d := _date(value, f"closed[{i}]", problems)) is not None:
                closed.append(d)

    partial: dict[date, tuple[Window, ...]] = {}
    partial_raw = spec.get("partial", [])
    if not isinstance(partial_raw, list):
        problems.append(("partial", "must be a list of {date, hours}"))
    else:
        for i, entry in enumerate(partial_raw):
            if not isinstance(entry, dict):
                problems.append((f"partial[{i}]", "must be an object with date and hours"))
                continue
            d = _date(entry.get("date"), f"partial[{i}].date", problems)
            windows = _windows(entry.get("hours"), f"partial[{i}].hours", problems)
            if d is not None:
                partial[d] = windows

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
    total = 0.0
    for windows in spec.hours.values():
        for start, end in windows:
            minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
            total += (minutes if minutes > 0 else minutes + 24 * 60) / 60
    return total
