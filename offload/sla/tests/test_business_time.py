"""Business-time arithmetic: pure, no database, exact expected instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import businesstimedelta  # type: ignore[import-untyped]  # no type information upstream
import holidays
import pytest
from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st

from bench import sla as sla_bench
from offload.sla import BusinessCalendar, business_time, spec

WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
H = timedelta(hours=1)
US = timedelta(microseconds=1)


def calendar(**fields: Any) -> BusinessCalendar:
    raw: dict[str, Any] = {
        "timezone": "Europe/Warsaw",
        "hours": {d: [["09:00", "18:00"]] for d in WEEKDAYS},
        "holidays": None,
    }
    return BusinessCalendar.from_spec({**raw, **fields})


def every_day(*windows: list[str]) -> dict[str, list[list[str]]]:
    return {d: [list(w) for w in windows] for d in spec.DAYS}


def wall(zone: tzinfo, *args: int, fold: int = 0) -> datetime:
    """A wall time: (year, month, day[, hour[, minute[, second[, microsecond]]]])."""
    year, month, day, hour, minute, second, micro = (*args, 0, 0, 0, 0)[:7]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone, fold=fold)


def warsaw(*args: int, fold: int = 0) -> datetime:
    return wall(WARSAW, *args, fold=fold)


def new_york(*args: int, fold: int = 0) -> datetime:
    return wall(NEW_YORK, *args, fold=fold)


def utc(*args: int) -> datetime:
    return wall(UTC, *args)


# ------------------------------------------------------------------ day windows and DST


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Europe/Warsaw", (2026, 3, 29)),  # spring forward
        ("Europe/Warsaw", (2026, 10, 25)),  # fall back
        ("America/New_York", (2026, 3, 8)),
        ("America/New_York", (2026, 11, 1)),
    ],
)
def test_day_window_is_nine_hours_on_either_side_of_a_clock_change(zone, day):
    # given
    cal = calendar(timezone=zone, hours=every_day(["09:00", "18:00"]))
    tz = ZoneInfo(zone)
    # when
    length = cal.elapsed(wall(tz, *day), wall(tz, *day, 23))
    # then
    assert length == 9 * H


def test_add_across_the_spring_change_in_new_york():
    # given: open every day 09:00-17:00; Saturday 16:00 EST is 21:00 UTC
    cal = calendar(timezone="America/New_York", hours=every_day(["09:00", "17:00"]))
    # when
    result = cal.add(new_york(2026, 3, 7, 16), 2 * H)
    # then: one hour on Saturday, one from 09:00 EDT on Sunday
    assert result == utc(2026, 3, 8, 14)
    assert result.tzinfo is UTC


def test_add_across_the_fall_change_in_warsaw():
    # given: Mon-Fri 09:00-18:00; Friday 23 October 17:00 CEST
    cal = calendar()
    # when
    result = cal.add(warsaw(2026, 10, 23, 17), 3 * H)
    # then: Monday 11:00 CET
    assert result == warsaw(2026, 10, 26, 11)
    assert result == utc(2026, 10, 26, 10)


@pytest.mark.parametrize(
    ("zone", "evening", "expected"),
    [
        ("Europe/Warsaw", (2026, 3, 28), 7 * H),
        ("Europe/Warsaw", (2026, 10, 24), 9 * H),
        ("Europe/Warsaw", (2026, 5, 9), 8 * H),
        ("America/New_York", (2026, 3, 7), 7 * H),
        ("America/New_York", (2026, 10, 31), 9 * H),
    ],
)
def test_overnight_window_on_the_night_the_clocks_move(zone, evening, expected):
    # given
    cal = calendar(timezone=zone, hours=every_day(["22:00", "06:00"]))
    tz = ZoneInfo(zone)
    start = wall(tz, *evening, 12)
    # when
    length = cal.elapsed(start, start + timedelta(days=1))
    # then
    assert length == expected


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Warsaw", (2026, 3, 29), 23),
        ("Europe/Warsaw", (2026, 10, 25), 25),
        ("America/New_York", (2026, 3, 8), 23),
        ("America/New_York", (2026, 11, 1), 25),
    ],
)
def test_always_open_day_of_a_clock_change_is_23_or_25_hours(zone, day, hours):
    # given
    cal = calendar(timezone=zone, hours="24/7")
    tz = ZoneInfo(zone)
    d = wall(tz, *day)
    # when
    length = cal.elapsed(d, datetime(d.year, d.month, d.day + 1, tzinfo=tz))
    # then
    assert length == hours * H


def test_always_open_adds_real_time():
    # given
    cal = calendar(hours="24/7")
    start = warsaw(2026, 3, 28, 12)
    # when
    result = cal.add(start, 24 * H)
    # then: 24 real hours, so 13:00 the next day on the wall clock
    assert result == utc(2026, 3, 29, 11)
    assert result.astimezone(WARSAW).hour == 13


# ------------------------------------------------------------------ window edges at clock changes


def test_window_opening_at_a_skipped_time_opens_at_the_change():
    # given: 02:30 does not exist on 29 March 2026 in Warsaw (02:00 CET -> 03:00 CEST)
    cal = calendar(hours={"sun": [["02:30", "06:00"]]})
    # when
    windows = list(cal.windows(warsaw(2026, 3, 29), warsaw(2026, 3, 30)))
    # then: open from 03:00 CEST (01:00 UTC), three hours
    assert windows == [(utc(2026, 3, 29, 1), utc(2026, 3, 29, 4))]


def test_window_closing_at_a_skipped_time_closes_at_the_change():
    # given
    cal = calendar(timezone="America/New_York", hours={"sun": [["00:00", "02:30"]]})
    # when
    length = cal.elapsed(new_york(2026, 3, 8), new_york(2026, 3, 9))
    # then: 00:00 EST to the change at 02:00 EST
    assert length == 2 * H


def test_window_inside_the_skipped_hour_is_empty_that_day():
    # given
    cal = calendar(hours={"sun": [["02:10", "02:40"]]})
    # when
    spring = cal.elapsed(warsaw(2026, 3, 29), warsaw(2026, 3, 30))
    other = cal.elapsed(warsaw(2026, 4, 5), warsaw(2026, 4, 6))
    # then
    assert spring == timedelta(0)
    assert other == 30 * timedelta(minutes=1)


def test_window_opening_in_the_repeated_hour_opens_at_its_first_pass():
    # given: 02:00-03:00 happens twice on 25 October 2026 in Warsaw
    cal = calendar(hours={"sun": [["02:30", "06:00"]]})
    # when
    windows = list(cal.windows(warsaw(2026, 10, 25), warsaw(2026, 10, 26)))
    # then: from 02:30 CEST (00:30 UTC) to 06:00 CET (05:00 UTC)
    assert windows == [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 5))]


def test_window_closing_in_the_repeated_hour_closes_at_its_second_pass():
    # given
    cal = calendar(timezone="America/New_York", hours={"sun": [["00:00", "01:30"]]})
    # when
    windows = list(cal.windows(new_york(2026, 11, 1), new_york(2026, 11, 2)))
    # then: 00:00 EDT to 01:30 EST, the repeated half hour included (compared in UTC:
    # an ambiguous wall time never equals a datetime of another zone, PEP 495)
    assert windows == [(utc(2026, 11, 1, 4), utc(2026, 11, 1, 6, 30))]
    assert windows[0][1].astimezone(NEW_YORK) == new_york(2026, 11, 1, 1, 30, fold=1)


# ------------------------------------------------------------------ holidays, closed, partial days


def test_polish_public_holiday_is_closed():
    # given: 11 November 2026 (Wednesday) is National Independence Day
    cal = calendar(holidays={"country": "PL", "subdivision": None})
    # when
    result = cal.add(warsaw(2026, 11, 10, 17), 2 * H)
    # then: one hour on Tuesday, one on Thursday
    assert result == warsaw(2026, 11, 12, 10)
    assert cal.is_open(warsaw(2026, 11, 11, 12)) is False


def test_us_holidays_with_a_subdivision():
    # given: Lincoln's Birthday (Thursday 12 February 2026) is a New York holiday only
    hours = {d: [["09:00", "17:00"]] for d in WEEKDAYS}
    state = calendar(
        timezone="America/New_York", hours=hours, holidays={"country": "US", "subdivision": "NY"}
    )
    country = calendar(
        timezone="America/New_York", hours=hours, holidays={"country": "US", "subdivision": None}
    )
    day = (new_york(2026, 2, 12), new_york(2026, 2, 13))
    # when / then
    assert state.elapsed(*day) == timedelta(0)
    assert country.elapsed(*day) == 8 * H
    assert state.add(new_york(2026, 2, 11, 16), 2 * H) == new_york(2026, 2, 13, 10)


def test_us_observed_holiday_in_the_year_before():
    # given: New Year's Day 2022 (a Saturday) is observed on Friday 31 December 2021
    cal = calendar(
        timezone="America/New_York",
        hours={d: [["09:00", "17:00"]] for d in WEEKDAYS},
        holidays={"country": "US", "subdivision": None},
    )
    # when / then
    assert cal.is_open(new_york(2021, 12, 31, 12)) is False
    assert cal.is_open(new_york(2021, 12, 30, 12)) is True


def test_closed_date_is_closed():
    # given: Thursday 24 December 2026
    cal = calendar(closed=["2026-12-24"])
    # when
    day = cal.elapsed(warsaw(2026, 12, 24), warsaw(2026, 12, 25))
    week = cal.elapsed(warsaw(2026, 12, 21), warsaw(2026, 12, 28))
    # then
    assert day == timedelta(0)
    assert week == 4 * 9 * H


def test_partial_day_has_its_own_hours():
    # given
    cal = calendar(partial=[{"date": "2026-12-31", "hours": [["09:00", "13:00"]]}])
    # when
    result = cal.add(warsaw(2026, 12, 31, 12), 3 * H)
    # then: one hour before 13:00, then Friday 1 January from 09:00
    assert cal.elapsed(warsaw(2026, 12, 31), warsaw(2027, 1, 1)) == 4 * H
    assert result == warsaw(2027, 1, 1, 11)


def test_partial_day_wins_over_a_public_holiday():
    # given
    cal = calendar(
        holidays={"country": "PL", "subdivision": None},
        partial=[{"date": "2026-11-11", "hours": [["10:00", "12:00"]]}],
    )
    # when
    length = cal.elapsed(warsaw(2026, 11, 11), warsaw(2026, 11, 12))
    # then
    assert length == 2 * H


def test_overnight_window_belongs_to_the_day_it_starts():
    # given: nights Mon-Fri; Wednesday 11 November 2026 is a holiday
    cal = calendar(
        hours={d: [["22:00", "06:00"]] for d in WEEKDAYS},
        holidays={"country": "PL", "subdivision": None},
    )
    # when: Tuesday's night runs into the holiday; Wednesday's night does not run
    windows = list(cal.windows(warsaw(2026, 11, 10, 12), warsaw(2026, 11, 13, 12)))
    # then
    assert windows == [
        (warsaw(2026, 11, 10, 22), warsaw(2026, 11, 11, 6)),
        (warsaw(2026, 11, 12, 22), warsaw(2026, 11, 13, 6)),
    ]


def test_overlapping_partial_spill_is_counted_once():
    # given: always open, and an overnight partial day spilling into the next day
    cal = calendar(hours="24/7", partial=[{"date": "2026-12-31", "hours": [["20:00", "02:00"]]}])
    # when
    length = cal.elapsed(warsaw(2026, 12, 31), warsaw(2027, 1, 2))
    # then: 20:00-24:00, then all of 1 January
    assert length == 28 * H


# ------------------------------------------------------------------ several windows a day


def test_multi_window_day():
    # given: Monday 09:00-13:00 and 14:00-18:00
    cal = calendar(hours={"mon": [["09:00", "13:00"], ["14:00", "18:00"]]})
    # when
    result = cal.add(warsaw(2026, 6, 1, 12), 2 * H)
    # then
    assert result == warsaw(2026, 6, 1, 15)
    assert cal.elapsed(warsaw(2026, 6, 1), warsaw(2026, 6, 2)) == 8 * H
    assert cal.is_open(warsaw(2026, 6, 1, 13, 30)) is False
    assert cal.next_open(warsaw(2026, 6, 1, 13, 30)) == warsaw(2026, 6, 1, 14)


def test_touching_windows_are_one_interval():
    # given
    cal = calendar(hours={"mon": [["09:00", "13:00"], ["13:00", "18:00"]]})
    # when
    windows = list(cal.windows(warsaw(2026, 6, 1), warsaw(2026, 6, 2)))
    # then
    assert windows == [(warsaw(2026, 6, 1, 9), warsaw(2026, 6, 1, 18))]


def test_windows_are_clipped_to_the_range_and_in_utc():
    # given
    cal = calendar(hours={"mon": [["09:00", "13:00"], ["14:00", "18:00"]]})
    # when
    windows = list(cal.windows(warsaw(2026, 6, 1, 10), warsaw(2026, 6, 8, 15)))
    # then
    assert windows == [
        (utc(2026, 6, 1, 8), utc(2026, 6, 1, 11)),
        (utc(2026, 6, 1, 12), utc(2026, 6, 1, 16)),
        (utc(2026, 6, 8, 7), utc(2026, 6, 8, 11)),
        (utc(2026, 6, 8, 12), utc(2026, 6, 8, 13)),
    ]
    assert list(cal.windows(warsaw(2026, 6, 2), warsaw(2026, 6, 1))) == []


# ------------------------------------------------------------------ add at and outside hours


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (warsaw(2026, 6, 6, 12), warsaw(2026, 6, 8, 9)),  # Saturday: Monday's opening
        (warsaw(2026, 6, 8, 7), warsaw(2026, 6, 8, 9)),  # before opening
        (warsaw(2026, 6, 8, 18), warsaw(2026, 6, 9, 9)),  # at closing: closed
        (warsaw(2026, 6, 8, 9), warsaw(2026, 6, 8, 9)),  # at opening: open
        (warsaw(2026, 6, 8, 12, 0, 1), warsaw(2026, 6, 8, 12, 0, 1)),  # open: itself
    ],
)
def test_add_zero_is_the_next_opening(start, expected):
    # given
    cal = calendar()
    # when
    result = cal.add(start, timedelta(0))
    # then
    assert result == expected
    assert cal.next_open(start) == expected


def test_add_outside_hours_counts_from_the_next_opening():
    # given
    cal = calendar()
    # when
    result = cal.add(warsaw(2026, 6, 6, 12), timedelta(minutes=90))
    # then
    assert result == warsaw(2026, 6, 8, 10, 30)


def test_add_that_uses_up_a_window_ends_at_its_close():
    # given
    cal = calendar()
    # when
    result = cal.add(warsaw(2026, 6, 8, 9), 9 * H)
    # then: 18:00 Monday, not 09:00 Tuesday
    assert result == warsaw(2026, 6, 8, 18)


def test_add_and_elapsed_take_any_zone_and_microseconds():
    # given
    cal = calendar()
    start = datetime(2026, 6, 8, 10, 0, 0, 1, tzinfo=UTC)  # 12:00:00.000001 in Warsaw
    # when
    result = cal.add(start, timedelta(hours=6, microseconds=5))
    # then
    assert result == warsaw(2026, 6, 9, 9, 0, 0, 6)
    assert cal.elapsed(start, result) == timedelta(hours=6, microseconds=5)


# ------------------------------------------------------------------ elapsed direction and bad input


def test_elapsed_backwards_is_negative():
    # given
    cal = calendar()
    early, late = warsaw(2026, 6, 8, 10), warsaw(2026, 6, 9, 12)
    # when / then
    assert cal.elapsed(early, late) == 11 * H
    assert cal.elapsed(late, early) == -11 * H
    assert cal.elapsed(late, late) == timedelta(0)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda c: c.add(datetime(2026, 6, 8, 10), H),
            ValueError,
            business_time.NAIVE.format(name="start"),
        ),
        (
            lambda c: c.elapsed(warsaw(2026, 6, 8), datetime(2026, 6, 9)),
            ValueError,
            business_time.NAIVE.format(name="end"),
        ),
        (
            lambda c: c.is_open(datetime(2026, 6, 8)),
            ValueError,
            business_time.NAIVE.format(name="at"),
        ),
        (
            lambda c: c.windows(datetime(2026, 6, 8), warsaw(2026, 6, 9)),
            ValueError,
            business_time.NAIVE.format(name="start"),
        ),
        (lambda c: c.add(warsaw(2026, 6, 8), -US), ValueError, business_time.NEGATIVE),
        (lambda c: c.add(warsaw(2026, 6, 8), 3600), TypeError, business_time.NOT_A_DURATION),
        (
            lambda c: c.next_open("2026-06-08"),
            TypeError,
            business_time.NOT_A_DATETIME.format(name="at"),
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(call, error, message):
    # given
    cal = calendar()
    # when / then
    with pytest.raises(error) as caught:
        call(cal)
    assert str(caught.value) == message


def test_calendar_that_never_opens_refuses_add_and_next_open():
    # given
    cal = calendar(hours={}, partial=[{"date": "2026-12-31", "hours": [["09:00", "13:00"]]}])
    # when / then
    assert cal.add(warsaw(2026, 1, 1), 4 * H) == warsaw(2026, 12, 31, 13)
    assert cal.elapsed(warsaw(2025, 1, 1), warsaw(2028, 1, 1)) == 4 * H
    with pytest.raises(ValueError, match=business_time.NEVER_OPENS):
        cal.add(warsaw(2026, 12, 31, 12), 2 * H)
    with pytest.raises(ValueError, match=business_time.NEVER_OPENS):
        cal.next_open(warsaw(2027, 1, 1))


# ------------------------------------------------------------------ building and caching


def test_from_spec_shares_one_calendar_per_spec():
    # given: the same spec with its keys in another order
    first = {"timezone": "Europe/Warsaw", "hours": "24/7", "holidays": None}
    second = {"holidays": None, "hours": "24/7", "timezone": "Europe/Warsaw"}
    # when / then
    assert BusinessCalendar.from_spec(first) is BusinessCalendar.from_spec(second)
    assert BusinessCalendar.from_spec(first) is not BusinessCalendar.from_spec(
        {**first, "timezone": "America/New_York"}
    )


def test_from_spec_refuses_a_bad_spec():
    # when / then
    with pytest.raises(spec.SpecError) as caught:
        BusinessCalendar.from_spec({"timezone": "Mars/Olympus", "hours": "24/7"})
    assert caught.value.problems == [
        ("timezone", spec.UNKNOWN_TIMEZONE.format(value="Mars/Olympus"))
    ]


def test_answers_do_not_depend_on_which_years_were_built_first():
    # given: one calendar asked far ahead, further still, then back; one asked in order
    raw = {"hours": {d: [["22:00", "06:00"]] for d in WEEKDAYS}, "holidays": {"country": "PL"}}
    jumping = BusinessCalendar(spec.parse({"timezone": "Europe/Warsaw", **raw}))
    steady = BusinessCalendar(spec.parse({"timezone": "Europe/Warsaw", **raw}))
    for year in range(2024, 2032):
        steady.add(warsaw(year, 6, 1), H)
    far, near = warsaw(2031, 1, 1, 3), warsaw(2024, 12, 31, 23)
    # when
    jumping.add(far, H)
    backwards = jumping.elapsed(near, far)
    jumping.add(warsaw(2090, 1, 1), H)  # beyond the gap: a fresh table
    # then
    assert backwards == steady.elapsed(near, far)
    assert jumping.add(near, 100 * H) == steady.add(near, 100 * H)
    assert jumping.elapsed(near, far) == backwards


def test_out_of_range_years_are_refused():
    # given
    cal = calendar()
    # when / then
    with pytest.raises(ValueError, match="covers only the years"):
        cal.add(datetime(9999, 12, 1, tzinfo=UTC), H)


# ------------------------------------------------------------------ the peer agrees


def test_add_agrees_with_businesstimedelta():
    # given: the benchmark's calendar and inputs, a small sample
    cal = BusinessCalendar.from_spec(sla_bench.SPEC)
    rules = sla_bench.peer_rules()
    cases = sla_bench.inputs(300, seed=7)
    # when
    ours = [cal.add(s, d) for s, d in cases]
    theirs = [s + businesstimedelta.BusinessTimeDelta(rules, timedelta=d) for s, d in cases]
    # then
    assert ours == theirs


# ------------------------------------------------------------------ properties

SPECS: dict[str, dict[str, Any]] = {
    "warsaw-split-days": {
        "timezone": "Europe/Warsaw",
        "hours": {
            "mon": [["09:00", "13:00"], ["14:00", "18:00"]],
            "tue": [["09:00", "18:00"]],
            "wed": [["09:00", "18:00"]],
            "thu": [["09:00", "18:00"]],
            "fri": [["09:00", "15:00"]],
        },
        "holidays": {"country": "PL", "subdivision": None},
        "closed": ["2026-12-24"],
        "partial": [{"date": "2026-12-31", "hours": [["09:00", "13:00"]]}],
    },
    "new-york-state": {
        "timezone": "America/New_York",
        "hours": {d: [["09:00", "17:00"]] for d in WEEKDAYS},
        "holidays": {"country": "US", "subdivision": "NY"},
    },
    "warsaw-nights": {
        "timezone": "Europe/Warsaw",
        "hours": {**every_day(["22:00", "06:00"]), "sun": []},
        "holidays": {"country": "PL", "subdivision": None},
        "partial": [{"date": "2027-03-27", "hours": [["21:00", "07:00"]]}],
    },
    "new-york-always": {
        "timezone": "America/New_York",
        "hours": "24/7",
        "holidays": {"country": "US", "subdivision": None},
    },
    # Edges in the skipped and repeated hours: not read plainly off the wall clock.
    "edges-in-clock-changes": {
        "timezone": "America/New_York",
        "hours": every_day(["01:30", "02:30"], ["02:45", "08:00"]),
        "holidays": None,
    },
}
CALENDARS = {name: BusinessCalendar.from_spec(raw) for name, raw in SPECS.items()}
WALL_CLOCK = sorted(set(SPECS) - {"edges-in-clock-changes"})
FROM = utc(2025, 12, 20)
TO = utc(2028, 1, 10)
INSTANTS = st.integers(min_value=0, max_value=(TO - FROM) // US).map(lambda n: FROM + n * US)
DURATIONS = st.integers(min_value=0, max_value=10 * 24 * 3600 * 10**6).map(lambda n: n * US)
CALENDAR = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)
PROPERTY = settings(max_examples=300, deadline=None)


PARSED = {name: spec.parse(raw) for name, raw in SPECS.items()}


@cache
def public_holidays(name: str) -> frozenset[date]:
    parsed = PARSED[name]
    if not parsed.holiday_country:
        return frozenset()
    found = holidays.country_holidays(
        parsed.holiday_country, subdiv=parsed.holiday_subdivision, years=range(2020, 2030)
    )
    return frozenset(found)


def open_on_the_wall_clock(name: str, at: datetime) -> bool:
    """A plain reading of the spec: the wall time is inside a window of its day, or
    inside the spill of an overnight window of the day before."""
    parsed = PARSED[name]
    local = at.astimezone(ZoneInfo(parsed.timezone))
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    public = public_holidays(name)

    def windows(day: date) -> tuple[spec.Window, ...]:
        if day in parsed.partial:
            return parsed.partial[day]
        if day in parsed.closed or day in public:
            return ()
        if parsed.always_open:
            return ((time(0), time(0)),)
        return parsed.hours[spec.DAYS[day.weekday()]]

    def minutes(t: time) -> int:
        return t.hour * 60 + t.minute

    today, yesterday = local.date(), local.date() - timedelta(days=1)
    for start, end in windows(today):
        overnight = minutes(end) <= minutes(start)
        if minutes(start) <= minute and (overnight or minute < minutes(end)):
            return True
    return any(
        minutes(end) <= minutes(start) and minute < minutes(end)
        for start, end in windows(yesterday)
    )


@PROPERTY
@hypothesis_given(st.sampled_from(WALL_CLOCK), INSTANTS)
def test_is_open_reads_the_wall_clock(name, at):
    # when / then
    assert CALENDARS[name].is_open(at) == open_on_the_wall_clock(name, at)


@pytest.mark.parametrize("name", WALL_CLOCK)
@pytest.mark.parametrize(
    "eve", [(2026, 3, 28), (2026, 10, 24), (2026, 3, 7), (2026, 10, 31), (2026, 12, 31)]
)
def test_is_open_and_elapsed_read_the_wall_clock_around_clock_changes(name, eve):
    # given: every 7 minutes for 60 hours from the eve of a clock change or a new year
    cal = CALENDARS[name]
    instants = [utc(*eve) - 12 * H + k * timedelta(minutes=7) for k in range(60 * 60 // 7)]
    # when
    seen = [(cal.is_open(at), cal.elapsed(at, at + US)) for at in instants]
    # then
    expected = [open_on_the_wall_clock(name, at) for at in instants]
    assert seen == [(o, US if o else timedelta(0)) for o in expected]


@PROPERTY
@hypothesis_given(CALENDAR, INSTANTS, DURATIONS)
def test_elapsed_inverts_add(cal, start, duration):
    # when
    result = cal.add(start, duration)
    # then
    assert result >= start
    assert cal.elapsed(start, result) == duration


@PROPERTY
@hypothesis_given(CALENDAR, INSTANTS, INSTANTS, DURATIONS, DURATIONS)
def test_add_is_monotonic_in_both_arguments(cal, a, b, d, e):
    # given
    early, late = sorted((a, b))
    short, long = sorted((d, e))
    # when / then
    assert cal.add(early, short) <= cal.add(late, short)
    assert cal.add(early, short) <= cal.add(early, long)


@PROPERTY
@hypothesis_given(CALENDAR, INSTANTS, INSTANTS, INSTANTS)
def test_elapsed_is_additive_over_any_split(cal, a, b, c):
    # when / then
    assert cal.elapsed(a, c) == cal.elapsed(a, b) + cal.elapsed(b, c)


@PROPERTY
@hypothesis_given(CALENDAR, INSTANTS, DURATIONS)
def test_add_never_lands_in_a_closed_period(cal, start, duration):
    # when
    result = cal.add(start, duration)
    # then: open there, or closing exactly there; a zero duration lands on an opening
    if duration:
        assert cal.is_open(result) or cal.is_open(result - US)
    else:
        assert cal.is_open(result)
        assert result == cal.next_open(start)


@PROPERTY
@hypothesis_given(CALENDAR, INSTANTS, INSTANTS)
def test_windows_add_up_to_elapsed(cal, a, b):
    # given
    start, end = sorted((a, b))
    # when
    windows = list(cal.windows(start, end))
    # then
    assert sum((close - opens for opens, close in windows), timedelta(0)) == cal.elapsed(start, end)
    assert all(start <= opens < close <= end for opens, close in windows)
    assert all(
        (cal.is_open(opens) and not cal.is_open(close)) or close == end for opens, close in windows
    )
