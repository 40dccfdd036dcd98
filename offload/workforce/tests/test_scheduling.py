"""The CP-SAT scheduler on small problems with exact answers: one worker, a fixed
seed, so each answer is reproducible."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offload.workforce import scheduling as s

ONE_WORKER = s.SolverOptions(num_workers=1, random_seed=7, time_limit_s=20)
EIGHT_HOURS = s.ShiftTemplateInput(1, "8 h", 480, break_minutes=0)
TEN_HOURS = s.ShiftTemplateInput(2, "10 h", 600, break_minutes=0)
NINE_TO_FIVE_WEEKDAYS = s.opening_from_strings([["09:00", "17:00"]] * 5 + [None, None])
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def local_block(
    zone: str, key: str, first: datetime, hours: float, agents: int = 1
) -> dict[tuple[object, datetime], float]:
    """`agents` for every interval of `hours` from the local wall time `first`."""
    start = first.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return {(key, start + k * s.INTERVAL): agents for k in range(int(hours * 2))}


def site(**overrides: object) -> s.SiteInput:
    fields: dict[str, object] = {
        "id": 1,
        "name": "Manila",
        "zone": "Asia/Manila",
        "hourly_cost": Decimal("10.00"),
        "headcount": {"p": 5},
        "agents": 5,
        "opening": s.OPEN_ALL_WEEK,
        "max_days_per_week": 7,
        "min_rest_minutes": 11 * 60,
    }
    fields.update(overrides)
    return s.SiteInput(**fields)  # type: ignore[arg-type]


def solve(
    requirements: dict[tuple[object, datetime], float],
    sites: Iterable[s.SiteInput],
    *,
    start: datetime = MONDAY,
    days: int = 7,
    templates: tuple[s.ShiftTemplateInput, ...] = (EIGHT_HOURS,),
    options: s.SolverOptions = ONE_WORKER,
) -> s.ScheduleResult:
    return s.solve(s.Problem(s.Horizon(start, days), requirements, list(sites), templates, options))


def starts(result: s.ScheduleResult) -> list[tuple[str, str, int]]:
    return [
        (shift.local_start.strftime("%a %H:%M"), shift.start.strftime("%d %H:%MZ"), shift.count)
        for shift in result.shifts
    ]


def test_one_site_nine_to_five_weekdays_gets_two_shifts_at_nine_each_weekday():
    # given two agents wanted 09:00-17:00 Manila time Monday to Friday
    requirements: dict[tuple[object, datetime], float] = {}
    for day in range(5):
        requirements |= local_block("Asia/Manila", "p", datetime(2026, 11, 23 + day, 9), 8, 2)

    # when the site opens 09:00-17:00 on weekdays
    result = solve(
        requirements, [site(opening=NINE_TO_FIVE_WEEKDAYS)], start=MONDAY - timedelta(hours=8)
    )

    # then two 8-hour shifts start at 09:00 local (01:00 UTC) each weekday, and nothing more
    assert result.status == "OPTIMAL"
    assert starts(result) == [
        ("Mon 09:00", "23 01:00Z", 2),
        ("Tue 09:00", "24 01:00Z", 2),
        ("Wed 09:00", "25 01:00Z", 2),
        ("Thu 09:00", "26 01:00Z", 2),
        ("Fri 09:00", "27 01:00Z", 2),
    ]
    assert result.under == {}
    assert result.cost_per_site == {1: Decimal("800.00")}  # 10 shifts x 8 h x 10.00
    assert result.coverage == dict.fromkeys(requirements, 2)


def test_an_overnight_manila_shift_covers_the_hours_after_local_midnight():
    # given one agent wanted 22:00 Monday to 06:00 Tuesday, Manila time, at a night site
    requirements = local_block("Asia/Manila", "p", datetime(2026, 11, 23, 22), 8)
    night = s.opening_from_strings([["22:00", "06:00"]] * 7)

    # when solved over the UTC Monday
    result = solve(requirements, [site(opening=night)], days=1)

    # then one shift starts Monday 22:00 local and ends Tuesday 06:00 local
    (shift,) = result.shifts
    manila = ZoneInfo("Asia/Manila")
    assert shift.local_start == datetime(2026, 11, 23, 22, tzinfo=manila)
    assert shift.end.astimezone(manila) == datetime(2026, 11, 24, 6, tzinfo=manila)
    assert (shift.start, shift.end) == (MONDAY + timedelta(hours=14), MONDAY + timedelta(hours=22))
    # and it covers Tuesday 05:30 local, the last interval, with nobody short
    assert result.coverage[("p", MONDAY + timedelta(hours=21, minutes=30))] == 1
    assert result.under == {}


def test_an_overnight_shift_carries_into_the_next_utc_day():
    # given one agent wanted 20:00-04:00 Monterrey time (02:00-10:00 UTC the next day)
    requirements = local_block("America/Monterrey", "p", datetime(2026, 11, 23, 20), 8)
    night = s.opening_from_strings([["20:00", "04:00"]] * 7)
    monterrey = site(zone="America/Monterrey", opening=night)

    # when solved over two UTC days
    result = solve(requirements, [monterrey], days=2)

    # then the Monday-evening local shift is a Tuesday UTC shift and covers it all
    assert starts(result) == [("Mon 20:00", "24 02:00Z", 1)]
    assert sum(result.coverage.values()) == 16
    assert min(result.coverage) == ("p", datetime(2026, 11, 24, 2, tzinfo=UTC))
    assert result.under == {}


def test_a_dst_week_in_krakow_keeps_local_starts_and_moves_utc_ones():
    # given one agent wanted 09:00-17:00 Krakow time, Thursday 22 to Tuesday 27 October
    # 2026 (summer time ends on Sunday the 25th)
    requirements: dict[tuple[object, datetime], float] = {}
    for day in range(22, 28):
        requirements |= local_block("Europe/Warsaw", "p", datetime(2026, 10, day, 9), 8)
    krakow = site(zone="Europe/Warsaw", opening=s.opening_from_strings([["09:00", "17:00"]] * 7))

    # when solved over the week
    result = solve(requirements, [krakow], start=datetime(2026, 10, 22, tzinfo=UTC), days=6)

    # then every shift starts at 09:00 local: 07:00 UTC in summer time, 08:00 after
    assert starts(result) == [
        ("Thu 09:00", "22 07:00Z", 1),
        ("Fri 09:00", "23 07:00Z", 1),
        ("Sat 09:00", "24 07:00Z", 1),
        ("Sun 09:00", "25 08:00Z", 1),
        ("Mon 09:00", "26 08:00Z", 1),
        ("Tue 09:00", "27 08:00Z", 1),
    ]
    assert result.under == {}


def test_a_start_skipped_by_spring_forward_is_no_candidate():
    # given Krakow on Sunday 29 March 2026, when 02:00-03:00 local does not exist
    krakow = site(zone="Europe/Warsaw")
    horizon = s.Horizon(datetime(2026, 3, 28, 12, tzinfo=UTC), 1)

    # when the candidates are listed
    found = s.candidates(krakow, [EIGHT_HOURS], horizon)

    # then no local start falls in the skipped hour, and UTC starts stay 30 min apart
    local = [c.local_start.strftime("%d %H:%M") for c in found]
    assert "29 02:00" not in local
    assert "29 02:30" not in local
    gaps = {(b.start - a.start) for a, b in itertools.pairwise(found)}
    assert gaps == {timedelta(minutes=30)}


FOLLOW_THE_SUN = [
    site(id=1, name="Manila", zone="Asia/Manila", hourly_cost=Decimal("9.50")),
    site(id=2, name="Krakow", zone="Europe/Warsaw", hourly_cost=Decimal("24.00")),
    site(id=3, name="Monterrey", zone="America/Monterrey", hourly_cost=Decimal("14.00")),
    site(id=4, name="Austin", zone="America/Chicago", hourly_cost=Decimal("38.00")),
]
DAYTIME = s.opening_from_strings([["08:00", "20:00"]] * 7)


def test_follow_the_sun_covers_24_7_at_lowest_cost_inside_each_sites_hours():
    # given one agent wanted around the clock for a UTC day, and four sites each open
    # 08:00-20:00 local (Manila, Krakow, Monterrey, Austin)
    requirements: dict[tuple[object, datetime], float] = {
        ("p", MONDAY + k * s.INTERVAL): 1.0 for k in range(48)
    }
    sites = [dataclasses.replace(x, opening=DAYTIME) for x in FOLLOW_THE_SUN]

    # when solved with 8- and 10-hour shifts
    result = solve(requirements, sites, days=1, templates=(EIGHT_HOURS, TEN_HOURS))

    # then every interval is covered, Austin (dearest, same hours as Monterrey) works
    # nothing, and the day costs the cheapest mix: Manila 00-08 UTC, Krakow 08-16 (the
    # only site open 12-14 UTC), Monterrey 16-24; 8 hours each at 9.50, 24 and 14
    assert result.status == "OPTIMAL"
    assert result.under == {}
    assert all(result.coverage[k] >= 1 for k in requirements)
    assert 4 not in result.cost_per_site
    assert result.cost_per_site == {
        1: Decimal("76.00"),
        2: Decimal("192.00"),
        3: Decimal("112.00"),
    }
    # and no site works outside 08:00-20:00 local
    for shift in result.shifts:
        zone = ZoneInfo(sites[shift.site_id - 1].zone)
        local_start, local_end = shift.start.astimezone(zone), shift.end.astimezone(zone)
        assert local_start.hour >= 8
        assert local_end.date() == local_start.date()
        assert (local_end.hour, local_end.minute) <= (20, 0)


def test_demand_when_no_site_opens_is_reported_not_infeasible():
    # given one agent wanted 03:00-04:00 Manila time, when the only site is closed
    requirements = local_block("Asia/Manila", "p", datetime(2026, 11, 24, 3), 1)

    # when solved
    result = solve(requirements, [site(opening=NINE_TO_FIVE_WEEKDAYS)], days=2)

    # then the answer is optimal, with nobody scheduled and the hour reported short
    assert result.status == "OPTIMAL"
    assert result.shifts == []
    assert result.under == dict.fromkeys(requirements, 1)
    assert sorted(result.uncoverable) == sorted(requirements)


def test_more_demand_than_headcount_is_reported_as_under_staffing():
    # given three agents wanted 09:00-17:00 Monday at a site of two
    requirements = local_block("Asia/Manila", "p", datetime(2026, 11, 23, 9), 8, 3)

    # when solved
    result = solve(
        requirements,
        [site(headcount={"p": 2}, agents=2)],
        start=MONDAY - timedelta(hours=8),
        days=1,
    )

    # then two shifts, and one agent short in each of the 16 intervals
    assert result.shift_count == 2
    assert result.under == dict.fromkeys(requirements, 1)
    assert result.uncoverable == []


def test_max_days_a_week_caps_the_shifts_of_a_site():
    # given one agent at a site that allows 5 days a week, wanted 09:00-17:00 every day
    requirements: dict[tuple[object, datetime], float] = {}
    for day in range(7):
        requirements |= local_block("Asia/Manila", "p", datetime(2026, 11, 23 + day, 9), 8)
    one = site(headcount={"p": 1}, agents=1, max_days_per_week=5)

    # when solved over the week
    result = solve(requirements, [one], start=MONDAY - timedelta(hours=8))

    # then five shifts, and two days (32 intervals) short
    assert result.shift_count == 5
    assert result.total_under == 32


@pytest.mark.parametrize(("rest_hours", "under"), [(11, 6), (4, 0)])
def test_min_rest_between_shifts_is_respected(rest_hours, under):
    # given one agent, wanted 08:00-16:00 Monday and 00:00-08:00 Tuesday (8 hours apart)
    requirements = local_block("Asia/Manila", "p", datetime(2026, 11, 23, 8), 8)
    requirements |= local_block("Asia/Manila", "p", datetime(2026, 11, 24, 0), 8)
    one = site(headcount={"p": 1}, agents=1, min_rest_minutes=rest_hours * 60)

    # when solved with that much rest required
    result = solve(requirements, [one], start=MONDAY - timedelta(hours=8), days=2)

    # then two shifts at least the rest apart: with 11 hours the second starts at 03:00
    # Tuesday at the earliest (3 hours, 6 intervals short); with 4 hours both fit
    first, second = result.shifts
    assert (first.count, second.count) == (1, 1)
    assert second.start - first.end >= timedelta(hours=rest_hours)
    assert result.total_under == under


def test_an_agent_on_two_keys_is_counted_once_per_day():
    # given a site of one agent able to work two keys, each wanted 09:00-17:00
    requirements = local_block("Asia/Manila", "a", datetime(2026, 11, 23, 9), 8)
    requirements |= local_block("Asia/Manila", "b", datetime(2026, 11, 23, 9), 8)
    one = site(headcount={"a": 1, "b": 1}, agents=1)

    # when solved
    result = solve(requirements, [one], start=MONDAY - timedelta(hours=8), days=1)

    # then one shift, on one key; the other key is 16 intervals short
    assert result.shift_count == 1
    assert result.total_under == 16


BREAK_TEMPLATE = s.ShiftTemplateInput(3, "8 h, 30 min break", 480, 30, 180, 300)


def test_breaks_fall_in_their_window_and_are_off_the_phones():
    # given one agent wanted 09:00-17:00 Monday, shifts with a 30-minute break 3-5 h in
    requirements = local_block("Asia/Manila", "p", datetime(2026, 11, 23, 9), 8)
    nine_to_five = site(opening=NINE_TO_FIVE_WEEKDAYS)

    # when the solver may choose among all four break positions
    options = s.SolverOptions(num_workers=1, random_seed=7, break_choices=4)
    result = solve(
        requirements,
        [nine_to_five],
        start=MONDAY - timedelta(hours=8),
        days=1,
        templates=(BREAK_TEMPLATE,),
        options=options,
    )

    # then two shifts start at 09:00 with their breaks apart, and nobody is short
    assert result.shift_count == 2
    assert result.under == {}
    breaks = sorted(
        shift.break_start
        for shift in result.shifts
        for _ in range(shift.count)
        if shift.break_start is not None
    )
    assert breaks[0] != breaks[1]
    for shift in result.shifts:
        assert shift.break_start is not None
        assert shift.break_end is not None
        assert (
            timedelta(hours=3) <= shift.break_start - shift.start <= timedelta(hours=4, minutes=30)
        )
        assert shift.break_end - shift.break_start == timedelta(minutes=30)


def test_with_one_break_position_per_start_a_break_leaves_its_interval_short():
    # given the same day, when each start has one break position (the default)
    requirements = local_block("Asia/Manila", "p", datetime(2026, 11, 23, 9), 8)
    nine_to_five = site(opening=NINE_TO_FIVE_WEEKDAYS)

    # when solved
    result = solve(
        requirements,
        [nine_to_five],
        start=MONDAY - timedelta(hours=8),
        days=1,
        templates=(BREAK_TEMPLATE,),
    )

    # then one shift; its break (the only one a 09:00 start has) is the one short interval
    (shift,) = result.shifts
    assert shift.break_start is not None
    assert result.under == {("p", shift.break_start): 1}


def test_an_unaligned_horizon_is_refused():
    # given a horizon starting at 00:10 UTC / when solved / then a ValueError says why
    with pytest.raises(ValueError, match="30-minute"):
        solve({}, [site()], start=MONDAY + timedelta(minutes=10), days=1)


def coverage_of(result: s.ScheduleResult, horizon: s.Horizon) -> dict[tuple[object, datetime], int]:
    out: dict[tuple[object, datetime], int] = defaultdict(int)
    for shift in result.shifts:
        t = shift.start
        while t < shift.end:
            on_break = shift.break_start is not None and shift.break_start <= t < shift.break_end  # type: ignore[operator]
            if horizon.start <= t < horizon.end and not on_break:
                out[(shift.skill, t)] += shift.count
            t += s.INTERVAL
    return dict(out)


@settings(max_examples=25, deadline=None)
@given(
    demand=st.lists(st.integers(min_value=0, max_value=3), min_size=48, max_size=48),
    open_hour=st.integers(min_value=0, max_value=12),
)
def test_coverage_and_shortfall_account_for_every_required_agent(demand, open_hour):
    # given any demand over a UTC day at a site open 12 hours from some local hour
    horizon = s.Horizon(MONDAY, 1)
    requirements: dict[tuple[object, datetime], float] = {
        ("p", horizon.interval_start(i)): float(d) for i, d in enumerate(demand)
    }
    opening = s.opening_from_strings([[f"{open_hour:02d}:00", f"{open_hour + 12:02d}:00"]] * 7)
    small = site(headcount={"p": 2}, agents=2, opening=opening)

    # when solved
    result = solve(requirements, [small], days=1, templates=(BREAK_TEMPLATE,))

    # then the reported coverage is the shifts' own, and coverage + shortfall meets demand
    assert result.status == "OPTIMAL"
    assert {k: v for k, v in coverage_of(result, horizon).items() if v} == result.coverage
    for key, need in requirements.items():
        assert result.coverage.get(key, 0) + result.under.get(key, 0) >= need
        assert result.under.get(key, 0) <= need
    # and every shift lies inside the opening hours
    zone = ZoneInfo("Asia/Manila")
    for shift in result.shifts:
        local = shift.start.astimezone(zone)
        opens = local.replace(hour=open_hour, minute=0)
        assert opens <= local
        assert shift.end <= opens + timedelta(hours=12)


@pytest.mark.parametrize("seconds", [0.001, 0.05, 20.0])
def test_the_objective_is_the_reported_answers_whatever_the_time_limit(seconds):
    # given two days of demand, solved with a time limit from none to plenty (a
    # regression: the days' answer once stood with objective 0 and no shifts when
    # its last day's solve ran out of time)
    requirements: dict[tuple[object, datetime], float] = {}
    for day in range(2):
        requirements |= local_block("Asia/Manila", "p", datetime(2026, 11, 23 + day, 9), 8, 2)
    options = s.SolverOptions(num_workers=1, random_seed=7, time_limit_s=seconds)

    # when solved
    result = solve(
        requirements, [site()], start=MONDAY - timedelta(hours=8), days=2, options=options
    )

    # then either no answer at all, or an objective that is exactly the answer's:
    # under-staffing at its weight, the shifts' cost in cents, idle agent-intervals
    if result.objective is None:
        assert result.status == "UNKNOWN"
        assert result.shifts == []
        return
    under_weight = 2 * 8 * 1000 + 1  # twice the dearest shift (8 h at 10.00) in cents, + 1
    over = sum(v - int(requirements.get(k, 0)) for k, v in result.coverage.items())
    cost_cents = int(result.total_cost * 100)
    assert result.objective == under_weight * result.total_under + cost_cents + over
