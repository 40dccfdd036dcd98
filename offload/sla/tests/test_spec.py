"""The business-calendar spec validator: pure, no database, no Django."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st

from offload.sla import spec

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def valid(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "timezone": "Europe/Warsaw",
        "hours": {d: [["09:00", "17:00"]] for d in WEEKDAYS},
        "holidays": {"country": "PL", "subdivision": None},
        "closed": [],
        "partial": [],
    }
    return {**base, **overrides}


def problems_of(raw: Any) -> list[tuple[str, str]]:
    with pytest.raises(spec.SpecError) as caught:
        spec.parse(raw)
    return caught.value.problems


def fields_of(raw: Any) -> list[str]:
    return [field for field, _ in problems_of(raw)]


# ------------------------------------------------------------------ valid specs


def test_parse_valid_spec_with_several_windows_closed_and_partial_dates():
    # given
    raw = valid(
        hours={
            "mon": [["09:00", "13:00"], ["14:00", "18:00"]],
            "tue": [["09:00", "17:00"]],
            "sat": [],
        },
        holidays={"country": "US", "subdivision": "NY"},
        closed=["2026-12-24", "2026-01-02"],
        partial=[{"date": "2026-12-31", "hours": [["09:00", "13:00"]]}],
    )
    # when
    parsed = spec.parse(raw)
    # then
    assert parsed.timezone == "Europe/Warsaw"
    assert parsed.always_open is False
    assert parsed.hours["mon"] == ((time(9), time(13)), (time(14), time(18)))
    assert parsed.hours["tue"] == ((time(9), time(17)),)
    assert parsed.hours["wed"] == ()
    assert parsed.hours["sun"] == ()
    assert (parsed.holiday_country, parsed.holiday_subdivision) == ("US", "NY")
    assert parsed.closed == (date(2026, 1, 2), date(2026, 12, 24))
    assert parsed.partial == {date(2026, 12, 31): ((time(9), time(13)),)}


def test_parse_overnight_window_runs_into_the_next_day():
    # given
    raw = valid(hours={"fri": [["22:00", "06:00"]]})
    # when
    parsed = spec.parse(raw)
    # then
    assert parsed.hours["fri"] == ((time(22), time(6)),)
    assert spec.weekly_open_hours(parsed) == 8.0


def test_parse_always_open_with_holidays_null():
    # given
    raw = {"timezone": "UTC", "hours": "24/7", "holidays": None}
    # when
    parsed = spec.parse(raw)
    # then
    assert parsed.always_open is True
    assert parsed.holiday_country is None
    assert parsed.closed == ()
    assert parsed.partial == {}
    assert spec.weekly_open_hours(parsed) == 168.0


def test_parse_window_ending_at_24_00_closes_at_midnight():
    # given
    raw = valid(hours={"mon": [["18:00", "24:00"]], "tue": [["00:00", "24:00"]]})
    # when
    parsed = spec.parse(raw)
    # then
    assert parsed.hours["mon"] == ((time(18), time(0)),)
    assert spec.weekly_open_hours(parsed) == 6.0 + 24.0


def test_parse_back_to_back_windows_do_not_overlap():
    # given: an overnight window ending exactly when the next day's opens
    raw = valid(hours={"mon": [["22:00", "06:00"]], "tue": [["06:00", "14:00"]]})
    # when
    parsed = spec.parse(raw)
    # then
    assert spec.weekly_open_hours(parsed) == 16.0


# ------------------------------------------------------------------ weekly hours


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ({d: [["09:00", "17:00"]] for d in WEEKDAYS}, 40.0),
        ({"mon": [["09:00", "12:30"], ["13:15", "17:45"]]}, 3.5 + 4.5),
        ({"sat": [["22:00", "06:00"]], "sun": [["22:00", "06:00"]]}, 16.0),
        ({"mon": [["08:00", "08:45"]]}, 0.75),
        ({}, 0.0),
    ],
)
def test_weekly_open_hours_exact(hours, expected):
    # given
    parsed = spec.parse(valid(hours=hours))
    # when
    total = spec.weekly_open_hours(parsed)
    # then
    assert total == expected


# ------------------------------------------------------------------ bad input names its field


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "'Mars/Olympus' is not an IANA time zone"),
        ({"timezone": 7}, "timezone", "'7' is not an IANA time zone"),
        ({"hours": {"mon": [["25:00", "17:00"]]}}, "hours.mon[0][0]", "'25:00' is not a time"),
        ({"hours": {"mon": [["09:00", "17:60"]]}}, "hours.mon[0][1]", "'17:60' is not a time"),
        ({"hours": {"tue": [["9:00", "17:00"]]}}, "hours.tue[0][0]", "'9:00' is not a time"),
        ({"hours": {"tue": [[" 9:00", "17:00"]]}}, "hours.tue[0][0]", "' 9:00' is not a time"),
        ({"hours": {"wed": [[900, "17:00"]]}}, "hours.wed[0][0]", "'900' is not a time"),
        ({"hours": {"thu": [["24:00", "06:00"]]}}, "hours.thu[0][0]", spec.END_OF_DAY_STARTS),
        ({"hours": {"fri": [["09:00"]]}}, "hours.fri[0]", spec.NOT_A_PAIR),
        ({"hours": {"fri": [["09:00", "09:00"]]}}, "hours.fri[0]", spec.EMPTY_WINDOW),
        ({"hours": {"sat": "09:00-17:00"}}, "hours.sat", spec.NOT_WINDOWS),
        ({"hours": {"funday": []}}, "hours.funday", spec.NOT_A_WEEKDAY),
        ({"hours": "always"}, "hours", spec.BAD_HOURS),
        ({"holidays": {"country": "XX"}}, "holidays.country", "'XX' has no holiday calendar"),
        ({"holidays": {"country": ["US"]}}, "holidays.country", "has no holiday calendar"),
        (
            {"holidays": {"country": "US", "subdivision": "ZZ"}},
            "holidays.subdivision",
            "'ZZ' is not a subdivision of US",
        ),
        ({"holidays": {"country": "US", "region": "NY"}}, "holidays.region", spec.UNKNOWN_FIELD),
        ({"holidays": "US"}, "holidays", spec.BAD_HOLIDAYS),
        ({"closed": ["2026-02-30"]}, "closed[0]", "'2026-02-30' is not a date"),
        ({"closed": ["20261224"]}, "closed[0]", "'20261224' is not a date"),
        ({"closed": [20261224]}, "closed[0]", "is not a date"),
        ({"closed": "2026-12-24"}, "closed", spec.NOT_DATES),
        (
            {"partial": [{"date": "31/12/2026", "hours": [["09:00", "13:00"]]}]},
            "partial[0].date",
            "'31/12/2026' is not a date",
        ),
        (
            {"partial": [{"date": "2026-12-31", "hours": [["09:00", "13:61"]]}]},
            "partial[0].hours[0][1]",
            "'13:61' is not a time",
        ),
        ({"partial": [{"date": "2026-12-31"}]}, "partial[0].hours", spec.NOT_WINDOWS),
        (
            {"partial": [{"date": "2026-12-31", "hours": [], "note": "x"}]},
            "partial[0].note",
            spec.UNKNOWN_FIELD,
        ),
        ({"partial": ["2026-12-31"]}, "partial[0]", spec.NOT_A_PARTIAL),
        ({"partial": {}}, "partial", spec.NOT_PARTIALS),
        ({"timezones": "UTC"}, "timezones", spec.UNKNOWN_FIELD),
    ],
)
def test_parse_names_the_bad_field(overrides, field, message):
    # given
    raw = valid(**overrides)
    # when
    problems = problems_of(raw)
    # then
    assert [f for f, _ in problems] == [field]
    assert message in problems[0][1]


def test_parse_refuses_a_spec_that_is_not_an_object():
    # when
    problems = problems_of(["timezone", "UTC"])
    # then
    assert problems == [("spec", spec.NOT_AN_OBJECT)]


def test_parse_refuses_missing_timezone_and_hours():
    # when
    fields = fields_of({})
    # then
    assert fields == ["timezone", "hours"]


def test_parse_reports_every_bad_field_at_once():
    # given
    raw = valid(
        timezone="Nowhere/City",
        hours={"mon": [["25:00", "17:00"]], "xyz": []},
        closed=["tomorrow"],
        colour="blue",
    )
    # when
    fields = fields_of(raw)
    # then
    assert fields == ["colour", "timezone", "hours.xyz", "hours.mon[0][0]", "closed[0]"]


# ------------------------------------------------------------------ overlaps and repeats


def test_parse_refuses_overlapping_windows_of_one_day():
    # given
    raw = valid(hours={"mon": [["09:00", "17:00"], ["12:00", "14:00"], ["16:00", "18:00"]]})
    # when
    problems = problems_of(raw)
    # then
    assert problems == [
        ("hours.mon[1]", spec.OVERLAP.format(other="hours.mon[0]")),
        ("hours.mon[2]", spec.OVERLAP.format(other="hours.mon[0]")),
    ]


def test_parse_refuses_overnight_window_spilling_onto_next_mornings_window():
    # given
    raw = valid(hours={"mon": [["22:00", "06:00"]], "tue": [["05:00", "13:00"]]})
    # when
    problems = problems_of(raw)
    # then
    assert problems == [("hours.tue[0]", spec.OVERLAP.format(other="hours.mon[0]"))]


def test_parse_refuses_sunday_overnight_window_spilling_onto_monday():
    # given
    raw = valid(hours={"mon": [["05:00", "13:00"]], "sun": [["22:00", "06:00"]]})
    # when
    problems = problems_of(raw)
    # then
    assert problems == [("hours.mon[0]", spec.OVERLAP.format(other="hours.sun[0]"))]


def test_parse_refuses_overlapping_windows_of_a_partial_day():
    # given
    raw = valid(partial=[{"date": "2026-12-31", "hours": [["09:00", "13:00"], ["12:00", "15:00"]]}])
    # when
    problems = problems_of(raw)
    # then
    assert problems == [("partial[0].hours[1]", spec.OVERLAP.format(other="partial[0].hours[0]"))]


def test_parse_refuses_a_date_listed_twice():
    # given
    raw = valid(
        closed=["2026-12-24", "2026-12-24"],
        partial=[{"date": "2026-12-24", "hours": [["09:00", "12:00"]]}],
    )
    # when
    problems = problems_of(raw)
    # then
    assert problems == [
        ("closed[1]", spec.REPEATED_DATE.format(value="2026-12-24", other="closed[0]")),
        ("partial[0].date", spec.REPEATED_DATE.format(value="2026-12-24", other="closed[0]")),
    ]


# ------------------------------------------------------------------ properties

MINUTE_OF_DAY = st.integers(min_value=0, max_value=24 * 60 - 1)


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@hypothesis_given(
    st.dictionaries(
        st.sampled_from(spec.DAYS),
        st.lists(st.tuples(MINUTE_OF_DAY, MINUTE_OF_DAY), max_size=4),
    )
)
def test_parse_never_counts_more_than_a_week_of_open_hours(windows):
    # given: arbitrary windows, overlapping or not
    hours = {day: [[hhmm(s), hhmm(e)] for s, e in pairs] for day, pairs in windows.items()}
    # when
    try:
        parsed = spec.parse(valid(hours=hours))
    except spec.SpecError:
        return
    # then: what parses never overlaps, so a week holds at most 168 open hours
    assert 0 <= spec.weekly_open_hours(parsed) <= 168


@hypothesis_given(st.sampled_from(spec.DAYS), MINUTE_OF_DAY, MINUTE_OF_DAY)
def test_weekly_open_hours_of_one_window_is_its_length(day, start, end):
    # given
    hours = {day: [[hhmm(start), hhmm(end)]]}
    # when
    parsed = spec.parse(valid(hours=hours)) if start != end else None
    # then
    if parsed is None:
        assert fields_of(valid(hours=hours)) == [f"hours.{day}[0]"]
    else:
        assert spec.weekly_open_hours(parsed) == ((end - start) % (24 * 60)) / 60
