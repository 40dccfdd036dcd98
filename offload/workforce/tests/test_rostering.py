"""The greedy roster: exact assignments on small cases, and a property that no agent's
rule is ever broken whatever the shifts."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from offload.workforce import rostering as r

MONDAY = datetime(2026, 11, 23, 1, tzinfo=UTC)  # 09:00 in Manila


def slot(
    sid: int, day: int, *, hour: int = 0, hours: int = 8, skill: str = "p", site: int = 1
) -> r.ShiftSlot:
    start = MONDAY + timedelta(days=day, hours=hour)
    return r.ShiftSlot(
        sid,
        site,
        skill,
        start,
        start + timedelta(hours=hours),
        date(2026, 11, 23) + timedelta(days=day),
        0,
    )


def agent(
    aid: int, *, skills: frozenset[str] = frozenset({"p"}), hours: int = 40, **kw
) -> r.AgentInput:
    return r.AgentInput(aid, kw.pop("site", 1), skills, hours * 60, **kw)


def test_shifts_spread_over_agents_by_contracted_time_left():
    # given two shifts a day for three days and two full-time agents
    shifts = [slot(10 * d + k, d) for d in range(3) for k in range(2)]

    # when rostered
    roster = r.roster(shifts, [agent(1), agent(2)])

    # then each day each agent takes one, and nothing is unfilled
    assert roster.assignments == {0: 1, 1: 2, 10: 1, 11: 2, 20: 1, 21: 2}
    assert roster.unfilled == []
    assert roster.minutes == {1: {0: 1440}, 2: {0: 1440}}


def test_skills_sites_and_approved_time_off_decide_who_is_eligible():
    # given a shift on key "b" Monday and one on "a" Tuesday
    shifts = [slot(1, 0, skill="b"), slot(2, 1, skill="a")]
    # agent 1 works "a" only, 2 works both but is off on Tuesday, 3 is at another site
    tuesday = (MONDAY + timedelta(days=1), MONDAY + timedelta(days=2))
    agents = [
        agent(1, skills=frozenset({"a"})),
        agent(2, skills=frozenset({"a", "b"}), time_off=(tuesday,)),
        agent(3, skills=frozenset({"a", "b"}), site=2),
    ]

    # when rostered
    roster = r.roster(shifts, agents)

    # then Monday's "b" goes to 2, Tuesday's "a" to 1
    assert roster.assignments == {1: 2, 2: 1}


def test_contracted_hours_and_days_a_week_cap_an_agent():
    # given six day shifts and one part-timer contracted 20 hours (two 8-hour shifts fit)
    shifts = [slot(d, d) for d in range(6)]

    # when rostered
    roster = r.roster(shifts, [agent(1, hours=20)])

    # then two shifts, the rest unfilled
    assert roster.assignments == {0: 1, 1: 1}
    assert roster.unfilled == [2, 3, 4, 5]

    # and a full-timer with 3 days a week takes three
    capped = r.roster(shifts, [agent(1, hours=60, max_days_per_week=3)])
    assert sorted(capped.assignments) == [0, 1, 2]


def test_min_rest_keeps_an_agent_off_a_shift_too_soon_after_another():
    # given an evening shift Monday and an early one Tuesday (6 hours later)
    shifts = [slot(1, 0, hour=12), slot(2, 1, hour=2)]

    # when one agent needs 11 hours' rest / then only the first is filled
    assert r.roster(shifts, [agent(1)]).unfilled == [2]
    # and with 6 hours' rest both are
    assert r.roster(shifts, [agent(1, min_rest_minutes=360)]).unfilled == []


@settings(max_examples=60, deadline=None)
@given(
    specs=st.lists(
        st.tuples(
            st.integers(0, 6), st.integers(0, 23), st.sampled_from([8, 10]), st.sampled_from("ab")
        ),
        max_size=30,
    ),
    hours=st.lists(st.integers(8, 48), min_size=1, max_size=5),
)
def test_no_rule_is_ever_broken(specs, hours):
    # given any shifts over a week and a few agents with their own hours
    shifts = [
        slot(i, d, hour=h, hours=length, skill=k) for i, (d, h, length, k) in enumerate(specs)
    ]
    agents = [
        agent(i + 1, hours=h, skills=frozenset("ab" if i % 2 else "a")) for i, h in enumerate(hours)
    ]

    # when rostered
    roster = r.roster(shifts, agents)

    # then every shift is assigned or unfilled, once
    assert sorted([*roster.assignments, *roster.unfilled]) == list(range(len(shifts)))
    by_id = {s.id: s for s in shifts}
    for a in agents:
        mine = sorted(
            (by_id[sid] for sid, aid in roster.assignments.items() if aid == a.id),
            key=lambda s: s.start,
        )
        # and each agent works its keys, within its hours, days and rest
        assert all(s.skill in a.skills for s in mine)
        assert sum((s.end - s.start).total_seconds() / 60 for s in mine) <= a.contracted_minutes
        assert len({s.local_date for s in mine}) == len(mine) <= a.max_days_per_week
        for before, after in itertools.pairwise(mine):
            assert after.start - before.end >= timedelta(minutes=a.min_rest_minutes)
