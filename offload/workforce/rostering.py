"""Pure core (no Django): a schedule's shifts given to named agents.

A greedy pass, on purpose (docs/scheduling.md): the shifts in order of start, each to
the eligible agent of its site with the most contracted time left that week (then the
fewest days worked, then the lowest id). Eligible: the agent works the shift's skill
key, is not on approved time off during it, has not worked that local day, keeps the
minimum rest from each of its other shifts, stays within its days a week and within
its contracted minutes a week. Every rule is checked per agent, so the roster never
breaks one; a shift nobody can take is reported unfilled, never forced.

Why not CP-SAT here: the solver already chose how many shifts each site can staff
within its headcount, days and rest; what is left is mostly interchangeable agents,
where "most time left first" spreads the hours the way a planner would, runs in
O(shifts x agents), and gives the same answer every time. Where skills are uneven it
may leave a shift unfilled that a search would fill; the unfilled list shows it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class ShiftSlot:
    id: int
    site_id: int
    skill: Hashable
    start: datetime  # aware UTC
    end: datetime
    local_date: date  # the site's local date of the start: one shift per agent per day
    week: int  # which week of the horizon (0, 1, ...): days and hours count per week


@dataclass(frozen=True)
class AgentInput:
    id: int
    site_id: int
    skills: frozenset[Hashable]
    contracted_minutes: int  # per week
    max_days_per_week: int = 5
    min_rest_minutes: int = 11 * 60
    time_off: tuple[tuple[datetime, datetime], ...] = ()


@dataclass
class Roster:
    assignments: dict[int, int] = field(default_factory=dict)  # shift id -> agent id
    unfilled: list[int] = field(default_factory=list)  # shift ids
    # agent id -> {week: minutes}
    minutes: dict[int, dict[int, int]] = field(default_factory=dict)


@dataclass
class _Load:
    shifts: list[ShiftSlot] = field(default_factory=list)
    minutes: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    days: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))


def _minutes(slot: ShiftSlot) -> int:
    return int((slot.end - slot.start).total_seconds() // 60)


def _overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def can_take(agent: AgentInput, load: _Load, slot: ShiftSlot) -> bool:
    """Whether `agent`, already holding `load`, may take `slot` under every rule."""
    if agent.site_id != slot.site_id or slot.skill not in agent.skills:
        return False
    if any(_overlaps(off, (slot.start, slot.end)) for off in agent.time_off):
        return False
    days = load.days[slot.week]
    if slot.local_date in days or len(days) >= agent.max_days_per_week:
        return False
    if load.minutes[slot.week] + _minutes(slot) > agent.contracted_minutes:
        return False
    rest = timedelta(minutes=agent.min_rest_minutes)
    return all(
        slot.start >= other.end + rest or slot.end + rest <= other.start for other in load.shifts
    )


def roster(shifts: Iterable[ShiftSlot], agents: Sequence[AgentInput]) -> Roster:
    """Each shift to one agent (or unfilled), never breaking an agent's rules."""
    loads = {agent.id: _Load() for agent in agents}
    by_site: dict[int, list[AgentInput]] = defaultdict(list)
    for agent in sorted(agents, key=lambda a: a.id):
        by_site[agent.site_id].append(agent)
    result = Roster()
    for slot in sorted(shifts, key=lambda s: (s.start, s.site_id, s.id)):
        eligible = [a for a in by_site.get(slot.site_id, []) if can_take(a, loads[a.id], slot)]
        if not eligible:
            result.unfilled.append(slot.id)
            continue
        chosen = min(
            eligible,
            key=lambda a: (
                -(a.contracted_minutes - loads[a.id].minutes[slot.week]),
                len(loads[a.id].days[slot.week]),
                a.id,
            ),
        )
        load = loads[chosen.id]
        load.shifts.append(slot)
        load.minutes[slot.week] += _minutes(slot)
        load.days[slot.week].add(slot.local_date)
        result.assignments[slot.id] = chosen.id
    result.minutes = {
        agent_id: dict(sorted(load.minutes.items()))
        for agent_id, load in sorted(loads.items())
        if load.shifts
    }
    return result
