"""The calendar preview's days: pure, exact, no database."""

from __future__ import annotations

from datetime import date

import pytest

from offload.contracts import calendar_preview
from offload.contracts.calendar_preview import PreviewDay, Reason
from offload.contracts.tests.factories import WARSAW_OFFICE

NINE_TO_FIVE = (("09:00", "17:00"),)


def day(
    on: str,
    weekday: str,
    windows: tuple[tuple[str, str], ...] = (),
    minutes: int = 0,
    reason: Reason | None = None,
    holiday: str | None = None,
) -> PreviewDay:
    return PreviewDay(date.fromisoformat(on), weekday, windows, minutes, reason, holiday)


def test_a_fortnight_with_a_closed_day_partial_days_easter_and_the_clocks_going_forward():
    # when
    days = calendar_preview.preview(WARSAW_OFFICE, date(2026, 3, 23), 14)
    # then
    assert days == [
        day("2026-03-23", "mon", NINE_TO_FIVE, 480),
        day("2026-03-24", "tue", NINE_TO_FIVE, 480),
        day("2026-03-25", "wed", NINE_TO_FIVE, 480),
        day("2026-03-26", "thu", NINE_TO_FIVE, 480),
        day("2026-03-27", "fri", reason=Reason.CLOSED),
        day("2026-03-28", "sat", reason=Reason.WEEKEND),
        # 01:00 CET to 05:00 CEST: the clock skips 02:00-03:00, so three real hours
        day("2026-03-29", "sun", (("01:00", "05:00"),), 180, Reason.PARTIAL),
        day("2026-03-30", "mon", NINE_TO_FIVE, 480),
        day("2026-03-31", "tue", NINE_TO_FIVE, 480),
        day("2026-04-01", "wed", NINE_TO_FIVE, 480),
        day("2026-04-02", "thu", NINE_TO_FIVE, 480),
        day("2026-04-03", "fri", (("09:00", "13:00"),), 240, Reason.PARTIAL),
        day("2026-04-04", "sat", reason=Reason.WEEKEND),
        day("2026-04-05", "sun", reason=Reason.PUBLIC_HOLIDAY, holiday="Easter Sunday"),
    ]


def test_the_week_the_clocks_go_back_gives_the_partial_night_an_hour_more():
    # when
    days = calendar_preview.preview(WARSAW_OFFICE, date(2026, 10, 19), 7)
    # then
    assert [(d.weekday, d.windows, d.open_minutes, d.reason) for d in days] == [
        ("mon", NINE_TO_FIVE, 480, None),
        ("tue", NINE_TO_FIVE, 480, None),
        ("wed", NINE_TO_FIVE, 480, None),
        ("thu", NINE_TO_FIVE, 480, None),
        ("fri", NINE_TO_FIVE, 480, None),
        ("sat", (), 0, Reason.WEEKEND),
        # 01:00 CEST to 05:00 CET: 02:00-03:00 is lived twice, so five real hours
        ("sun", (("01:00", "05:00"),), 300, Reason.PARTIAL),
    ]


def test_a_partial_day_wins_over_a_public_holiday_which_still_names_it():
    # when
    days = calendar_preview.preview(WARSAW_OFFICE, date(2026, 12, 24), 4)
    # then
    assert days == [
        day("2026-12-24", "thu", (("09:00", "12:00"),), 180, Reason.PARTIAL, "Christmas Eve"),
        day("2026-12-25", "fri", reason=Reason.PUBLIC_HOLIDAY, holiday="Christmas Day"),
        day("2026-12-26", "sat", reason=Reason.PUBLIC_HOLIDAY, holiday="Second Day of Christmas"),
        day("2026-12-27", "sun", reason=Reason.WEEKEND),
    ]


def test_an_overnight_window_shows_on_both_days_cut_at_midnight():
    # given: Saturday night into the Sunday the clocks go forward
    spec = {
        "timezone": "Europe/Warsaw",
        "hours": {"sat": [["22:00", "06:00"]]},
        "holidays": None,
    }
    # when
    days = calendar_preview.preview(spec, date(2026, 3, 28), 2)
    # then: 00:00 to 06:00 on Sunday is five real hours
    assert days == [
        day("2026-03-28", "sat", (("22:00", "24:00"),), 120),
        day("2026-03-29", "sun", (("00:00", "06:00"),), 300, Reason.WEEKEND),
    ]


@pytest.mark.parametrize(("on", "minutes"), [("2026-03-29", 23 * 60), ("2026-10-25", 25 * 60)])
def test_an_always_open_day_of_a_clock_change_has_23_or_25_hours(on, minutes):
    # given
    spec = {"timezone": "Europe/Warsaw", "hours": "24/7", "holidays": None}
    # when
    [shown] = calendar_preview.preview(spec, date.fromisoformat(on), 1)
    # then
    assert shown.windows == (("00:00", "24:00"),)
    assert (shown.open_minutes, shown.reason) == (minutes, None)


def test_an_observed_holiday_in_the_year_before_is_named():
    # given
    spec = {
        "timezone": "America/New_York",
        "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": {"country": "US", "subdivision": None},
    }
    # when
    days = calendar_preview.preview(spec, date(2021, 12, 31), 2)
    # then
    assert [(d.reason, d.holiday) for d in days] == [
        (Reason.PUBLIC_HOLIDAY, "New Year's Day (observed)"),
        (Reason.PUBLIC_HOLIDAY, "New Year's Day"),
    ]


@pytest.mark.parametrize(
    ("start", "days", "problems"),
    [
        (date(2026, 1, 1), 1, []),
        (date(2026, 1, 1), 62, []),
        (date(2999, 12, 18), 14, []),
        (date(2026, 1, 1), 0, [("days", calendar_preview.BAD_DAYS.format(maximum=62))]),
        (date(2026, 1, 1), 63, [("days", calendar_preview.BAD_DAYS.format(maximum=62))]),
        (
            date(1899, 12, 31),
            14,
            [("start", calendar_preview.BAD_START.format(first="1900-01-01", last="2999-12-31"))],
        ),
        (
            date(2999, 12, 19),
            14,
            [("start", calendar_preview.BAD_START.format(first="1900-01-01", last="2999-12-31"))],
        ),
    ],
)
def test_range_problems(start, days, problems):
    assert calendar_preview.range_problems(start, days) == problems
