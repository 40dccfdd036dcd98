"""Pure core (no Django): shifts per site from requirements per interval, with CP-SAT.

The model (docs/scheduling.md):

- Candidates. For each site, template and local date, every start on the template's
  grid (every 30 minutes, local wall-clock time) whose whole shift lies inside the
  site's opening hours. Local starts become UTC with `zoneinfo` date by date, so a
  week that crosses a DST change keeps its local starts, and an overnight shift
  (Manila 22:00-06:00) covers the next UTC day. A start that does not exist locally
  (the hour skipped in spring) is no candidate.
- Variables. `y[c, k, b]` (integer): how many shifts of candidate `c` on skill key `k`
  with the break at option `b` (a template without a break has one option). The
  break starts on the 30-minute grid between `break_earliest` and
  `break_latest - break` minutes after the shift's start.
- Coverage. Agents on the phones of key `k` in interval `i`: the shifts covering `i`
  whose break does not. `coverage + under - over = requirement`, with `under` and
  `over` non-negative slacks, so any demand (even at an hour no site opens) gives a
  feasible model whose shortfall is reported, never an infeasible one.
- Local rules, on counts of shifts (the roster then applies them agent by agent):
  per site and key, and per site over all keys (an agent certified on two keys is one
  person), at most `headcount` shifts start on any local day, or in any window of
  `shortest shift + minimum rest` (an agent cannot start two shifts closer than that),
  and at most `headcount * max days a week` in each 7 local days from the horizon's
  first.
- Objective: minimise `UNDER_WEIGHT * under + cost + OVER_WEIGHT * over`, cost in
  cents (the site's hourly cost times the shift's paid length). `UNDER_WEIGHT` is
  above the dearest shift, so an uncovered agent-interval is never cheaper than a
  shift that covers it.
- Search: a horizon of several days is first solved one UTC day at a time in the same
  model (earlier days fixed, later ones empty), which gives a feasible week within a
  share of the time limit; then the whole model gets the time left, and the better
  of the two answers stands. (Given as a hint, the days' answer held the whole
  model near it: worse after 20 s than the whole model alone; measured in
  docs/benchmarks.md#schedule.)

Requirements come in agents per (skill key, UTC interval start) and are rounded up
(a part of an agent is an agent to schedule).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import perf_counter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from ortools.sat.python import cp_model


INTERVAL_MINUTES = 30
INTERVAL = timedelta(minutes=INTERVAL_MINUTES)
DAY_MINUTES = 24 * 60
# Cents: the objective is an integer.
CENTS = 100
OVER_WEIGHT = 1

# Opening hours of one local weekday: (open, close) in minutes after local midnight,
# close <= open for a span that closes the next day, (0, 1440) for all day; None: closed.
Opening = tuple[int, int] | None
ALL_DAY: Opening = (0, DAY_MINUTES)
OPEN_ALL_WEEK: tuple[Opening, ...] = (ALL_DAY,) * 7

SkillKey = Hashable

NOT_ALIGNED = "the horizon starts on a 30-minute UTC boundary"
NOT_AWARE = "the horizon's start is an aware datetime"
BAD_TIME = "not a time of day HH:MM (00:00-24:00)"


@dataclass(frozen=True)
class Horizon:
    start: datetime  # aware, on a 30-minute boundary
    days: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def intervals(self) -> int:
        return self.days * DAY_MINUTES // INTERVAL_MINUTES

    def interval_start(self, index: int) -> datetime:
        return self.start + index * INTERVAL


@dataclass(frozen=True)
class SiteInput:
    id: int
    name: str
    zone: str  # IANA time zone
    hourly_cost: Decimal
    headcount: Mapping[SkillKey, int]  # agents able to work each skill key
    agents: int  # distinct agents of the site (an agent may work several keys)
    opening: tuple[Opening, ...] = OPEN_ALL_WEEK  # Monday first, local time
    max_days_per_week: int = 5
    min_rest_minutes: int = 11 * 60


@dataclass(frozen=True)
class ShiftTemplateInput:
    id: int
    name: str
    length_minutes: int
    break_minutes: int = 30
    break_earliest_minutes: int = 180
    break_latest_minutes: int = 300
    start_step_minutes: int = 30


@dataclass(frozen=True)
class SolverOptions:
    num_workers: int = 8
    random_seed: int = 0
    time_limit_s: float = 10.0
    # Break positions the solver chooses among per candidate shift (1: the window's
    # positions in turn by start time; more: freer breaks, a model that many times larger).
    break_choices: int = 1
    # A horizon of several days is first solved a day at a time (a share of the time
    # limit): a feasible answer fast, kept when the whole model finds no better one.
    warm_start: bool = True


@dataclass(frozen=True)
class Problem:
    horizon: Horizon
    requirements: Mapping[tuple[SkillKey, datetime], float]
    sites: Sequence[SiteInput]
    templates: Sequence[ShiftTemplateInput]
    options: SolverOptions = SolverOptions()


@dataclass(frozen=True)
class ShiftOut:
    site_id: int
    skill: SkillKey
    template_id: int
    local_start: datetime  # aware, in the site's zone
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    break_start: datetime | None  # aware UTC
    break_end: datetime | None
    count: int


@dataclass
class ScheduleResult:
    status: str  # OPTIMAL, FEASIBLE, UNKNOWN (no answer within the time limit)
    objective: float | None
    # The lower bound the solver proved: objective == bound is a proven optimum.
    bound: float | None = None
    shifts: list[ShiftOut] = field(default_factory=list)
    # Per (skill key, UTC interval start) in the horizon, where not zero.
    required: dict[tuple[SkillKey, datetime], int] = field(default_factory=dict)
    coverage: dict[tuple[SkillKey, datetime], int] = field(default_factory=dict)
    under: dict[tuple[SkillKey, datetime], int] = field(default_factory=dict)
    # Intervals with demand that no candidate shift covers at all (no site open, or no
    # site with agents of the key): always under-staffed, whatever the solver does.
    uncoverable: list[tuple[SkillKey, datetime]] = field(default_factory=list)
    cost_per_site: dict[int, Decimal] = field(default_factory=dict)

    @property
    def total_cost(self) -> Decimal:
        return sum(self.cost_per_site.values(), Decimal(0))

    @property
    def total_under(self) -> int:
        return sum(self.under.values())

    @property
    def shift_count(self) -> int:
        return sum(s.count for s in self.shifts)


# ---------------------------------------------------------------- opening hours


def parse_clock(value: str) -> int:
    """Minutes after midnight of "HH:MM" (24:00 allowed), or ValueError."""
    hours, sep, minutes = value.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(BAD_TIME)
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > DAY_MINUTES:
        raise ValueError(BAD_TIME)
    return total


def opening_from_strings(days: Sequence[Sequence[str] | None]) -> tuple[Opening, ...]:
    """Seven local weekdays, Monday first, each [open, close] "HH:MM" or None (closed);
    an empty list means open all week."""
    if not days:
        return OPEN_ALL_WEEK
    out: list[Opening] = []
    for day in days:
        if day is None:
            out.append(None)
            continue
        open_m, close_m = parse_clock(day[0]), parse_clock(day[1])
        if open_m % DAY_MINUTES == close_m % DAY_MINUTES:
            out.append(ALL_DAY)
        else:
            out.append((open_m % DAY_MINUTES, close_m))
    return tuple(out)


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, None if it does not exist locally."""
    aware = wall.replace(tzinfo=zone)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return utc


def open_spans(site: SiteInput, horizon: Horizon) -> list[tuple[datetime, datetime]]:
    """The site's opening hours around the horizon as merged UTC spans."""
    zone = ZoneInfo(site.zone)
    first = horizon.start.astimezone(zone).date() - timedelta(days=1)
    last = horizon.end.astimezone(zone).date() + timedelta(days=1)
    spans: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        opening = site.opening[day.weekday()]
        if opening is not None:
            open_m, close_m = opening
            midnight = datetime.combine(day, time(0))
            open_wall = midnight + timedelta(minutes=open_m)
            close_wall = midnight + timedelta(minutes=close_m)
            if close_m <= open_m:
                close_wall += timedelta(days=1)
            lo = open_wall.replace(tzinfo=zone).astimezone(UTC)
            hi = close_wall.replace(tzinfo=zone).astimezone(UTC)
            if hi > lo:
                spans.append((lo, hi))
        day += timedelta(days=1)
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


# ---------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    site: SiteInput
    template: ShiftTemplateInput
    local_date: date
    local_start: datetime  # aware, site zone
    start: datetime  # aware UTC
    first: int  # index of the first interval it covers (may be < 0 before the horizon)
    length: int  # intervals
    breaks: tuple[int | None, ...]  # break options: offset in intervals from the start

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.template.length_minutes)


def _break_options(template: ShiftTemplateInput) -> tuple[int | None, ...]:
    if template.break_minutes <= 0:
        return (None,)
    earliest = math.ceil(template.break_earliest_minutes / INTERVAL_MINUTES)
    latest = (template.break_latest_minutes - template.break_minutes) // INTERVAL_MINUTES
    options = tuple(range(earliest, max(earliest, latest) + 1))
    length = template.length_minutes // INTERVAL_MINUTES
    breaks = math.ceil(template.break_minutes / INTERVAL_MINUTES)
    return tuple(b for b in options if b + breaks <= length) or (None,)


def _rotated(options: tuple[int | None, ...], turn: int, keep: int) -> tuple[int | None, ...]:
    """The first `keep` break options starting at `turn` (round the window)."""
    turn %= len(options)
    return (options[turn:] + options[:turn])[: max(1, keep)]


def candidates(
    site: SiteInput,
    templates: Sequence[ShiftTemplateInput],
    horizon: Horizon,
    break_choices: int = 1,
) -> list[Candidate]:
    """Every shift the site may work that starts in the horizon, inside its opening hours.

    Each keeps `break_choices` of its template's break positions, taken in turn by its
    start so that shifts starting at different times break at different times."""
    zone = ZoneInfo(site.zone)
    spans = open_spans(site, horizon)
    first_day = horizon.start.astimezone(zone).date()
    last_day = (horizon.end - timedelta(microseconds=1)).astimezone(zone).date()
    out: list[Candidate] = []
    seen: set[tuple[int, datetime]] = set()
    for template in templates:
        step = max(template.start_step_minutes, INTERVAL_MINUTES)
        length = timedelta(minutes=template.length_minutes)
        options = _break_options(template)
        day = first_day
        while day <= last_day:
            midnight = datetime.combine(day, time(0))
            for minute in range(0, DAY_MINUTES, step):
                start = _wall_to_utc(midnight + timedelta(minutes=minute), zone)
                if start is None or not horizon.start <= start < horizon.end:
                    continue
                offset = (start - horizon.start).total_seconds() / 60
                if offset % INTERVAL_MINUTES:
                    continue  # a zone whose offset is not a multiple of 30 minutes
                if (template.id, start) in seen:
                    continue
                end = start + length
                if not any(lo <= start and end <= hi for lo, hi in spans):
                    continue
                seen.add((template.id, start))
                out.append(
                    Candidate(
                        site=site,
                        template=template,
                        local_date=day,
                        local_start=start.astimezone(zone),
                        start=start,
                        first=int(offset) // INTERVAL_MINUTES,
                        length=template.length_minutes // INTERVAL_MINUTES,
                        breaks=_rotated(options, minute // step, break_choices),
                    )
                )
            day += timedelta(days=1)
    return out


def _shift_cost_cents(site: SiteInput, template: ShiftTemplateInput) -> int:
    return int((site.hourly_cost * template.length_minutes * CENTS / 60).to_integral_value())


# ---------------------------------------------------------------- the model


def _key_order(key: SkillKey) -> tuple[str, str]:
    return (type(key).__name__, str(key))


def _requirements(problem: Problem) -> dict[tuple[SkillKey, int], int]:
    horizon = problem.horizon
    out: dict[tuple[SkillKey, int], int] = {}
    for (key, at), agents in problem.requirements.items():
        if not horizon.start <= at < horizon.end:
            continue
        index = int((at - horizon.start).total_seconds() // (INTERVAL_MINUTES * 60))
        need = math.ceil(agents - 1e-9) if agents > 0 else 0
        if need:
            out[(key, index)] = out.get((key, index), 0) + need
    return out


def _add_count_windows(
    model: cp_model.CpModel,
    starts: list[tuple[int, Any]],
    width: int,
    limit: int,
) -> None:
    """At most `limit` of the counted shifts start in any window of `width` minutes.

    `starts` holds (start minute, variable); one constraint per distinct start."""
    starts.sort(key=lambda sv: sv[0])
    times = sorted({t for t, _ in starts})
    lo = 0
    for t in times:
        while starts[lo][0] <= t - width:
            lo += 1
        window = [v for s, v in starts[lo:] if s <= t]
        if len(window) > 1:
            model.add(sum(window) <= limit)


def solve(problem: Problem) -> ScheduleResult:
    """The cheapest shifts that cover the requirements, shortfalls reported."""
    # Imported here, as in _solver and _day_by_day: OR-Tools takes a noticeable part
    # of a second to import, and every process that loads Django reaches this module.
    from ortools.sat.python import cp_model

    horizon = problem.horizon
    if horizon.start.tzinfo is None:
        raise ValueError(NOT_AWARE)
    if horizon.start.astimezone(UTC).minute % INTERVAL_MINUTES or horizon.start.second:
        raise ValueError(NOT_ALIGNED)
    n = horizon.intervals
    required = _requirements(problem)
    model = cp_model.CpModel()

    # (variable, candidate, key, break option)
    choices: list[tuple[Any, Candidate, SkillKey, int | None]] = []
    terms: dict[tuple[SkillKey, int], list[Any]] = defaultdict(list)
    cost_terms: list[tuple[int, Any]] = []
    max_shift_cost = 1
    for site in sorted(problem.sites, key=lambda s: s.id):
        keys = sorted((k for k, h in site.headcount.items() if h > 0), key=_key_order)
        if not keys or site.agents <= 0:
            continue
        mine: list[tuple[Any, Candidate, SkillKey]] = []
        for candidate in candidates(
            site, problem.templates, horizon, problem.options.break_choices
        ):
            cost = _shift_cost_cents(site, candidate.template)
            max_shift_cost = max(max_shift_cost, cost)
            breaks = math.ceil(candidate.template.break_minutes / INTERVAL_MINUTES)
            for key in keys:
                cap = min(site.headcount[key], site.agents)
                for option in candidate.breaks:
                    var = model.new_int_var(0, cap, "")
                    choices.append((var, candidate, key, option))
                    mine.append((var, candidate, key))
                    cost_terms.append((cost, var))
                    off = range(option, option + breaks) if option is not None else range(0)
                    for j in range(candidate.length):
                        i = candidate.first + j
                        if 0 <= i < n and j not in off:
                            terms[(key, i)].append(var)
        _add_site_rules(model, problem, site, keys, mine)

    under_weight = 2 * max_shift_cost + 1
    under_vars: dict[tuple[SkillKey, int], Any] = {}
    over_vars: list[Any] = []
    uncoverable: list[tuple[SkillKey, int]] = []
    for cell in sorted(set(required) | set(terms), key=lambda c: (_key_order(c[0]), c[1])):
        need = required.get(cell, 0)
        covering = terms.get(cell, [])
        if not covering:
            if need:
                uncoverable.append(cell)
            continue
        under = model.new_int_var(0, need, "")
        over = model.new_int_var(0, len(covering) * max(1, _max_cap(problem)), "")
        model.add(sum(covering) + under - over == need)
        under_vars[cell] = under
        over_vars.append(over)

    model.minimize(
        under_weight * sum(under_vars.values())
        + sum(c * v for c, v in cost_terms)
        + OVER_WEIGHT * sum(over_vars)
    )
    began = perf_counter()
    staged: tuple[list[int], float] | None = None
    if problem.options.warm_start and horizon.days > 1:
        staged = _day_by_day(model, choices, problem)
    solver = _solver(
        problem.options,
        max(
            0.5 * problem.options.time_limit_s,
            problem.options.time_limit_s - (perf_counter() - began),
        ),
    )
    status = solver.solve(model)

    result = ScheduleResult(
        status=solver.status_name(status),
        objective=None,
        required={
            (k, horizon.interval_start(i)): v
            for (k, i), v in sorted(
                required.items(), key=lambda kv: (_key_order(kv[0][0]), kv[0][1])
            )
        },
        uncoverable=[(k, horizon.interval_start(i)) for k, i in uncoverable],
    )
    solved = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    counts = [int(solver.value(var)) if solved else 0 for var, *_ in choices]
    if solved:
        result.objective = solver.objective_value
        result.bound = solver.best_objective_bound
    if staged is not None and (not solved or staged[1] < solver.objective_value):
        # The whole model found nothing better in its time: the days' answer stands.
        counts, result.objective, result.status = staged[0], staged[1], "FEASIBLE"
    _fill_answer(result, horizon, required, choices, counts)
    return result


WARM_SHARE = 0.6  # of the time limit, shared by the days' solves
WARM_DAY_MAX_S = 0.4  # a day's solve beyond this rarely improves; the whole model gets the rest


def _solver(options: SolverOptions, seconds: float) -> cp_model.CpSolver:
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = options.num_workers
    solver.parameters.random_seed = options.random_seed
    solver.parameters.max_time_in_seconds = seconds
    return solver


def _day_by_day(
    model: cp_model.CpModel,
    choices: list[tuple[Any, Candidate, SkillKey, int | None]],
    problem: Problem,
) -> tuple[list[int], float] | None:
    """A good answer fast: the whole model solved one UTC day at a time, the shifts of
    the days before fixed to their answer and those after to none. Each day's model
    is small once presolved, and the days together satisfy every rule of the whole
    (rest and days a week across days included), so the answer is feasible as it is.

    Returns the count of each choice and the answer's objective, read from the last
    day's solve (every other choice is fixed there); None if that solve found nothing
    in its time."""
    from ortools.sat.python import cp_model

    days = problem.horizon.days
    per_day = min(WARM_DAY_MAX_S, problem.options.time_limit_s * WARM_SHARE / days)
    counts = [0] * len(choices)
    objective: float | None = None
    day_of = [c.first // (DAY_MINUTES // INTERVAL_MINUTES) for _, c, _, _ in choices]
    for day in range(days):
        stage = model.clone()
        free = []
        for index, (var, *_) in enumerate(choices):
            mine = stage.get_int_var_from_proto_index(var.index)
            if day_of[index] == day:
                free.append((index, mine))
            else:
                stage.add(mine == (counts[index] if day_of[index] < day else 0))
        solver = _solver(problem.options, per_day)
        status = solver.solve(stage)
        objective = None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            for index, mine in free:
                counts[index] = int(solver.value(mine))
            objective = solver.objective_value
    return (counts, objective) if objective is not None else None


def _max_cap(problem: Problem) -> int:
    return max((s.agents for s in problem.sites), default=1)


def _add_site_rules(
    model: cp_model.CpModel,
    problem: Problem,
    site: SiteInput,
    keys: list[SkillKey],
    mine: list[tuple[Any, Candidate, SkillKey]],
) -> None:
    """Headcount, rest and days-a-week limits of one site: per day and week per key and
    over all keys; the rest window over all keys (it is about people).

    Counts are summed once into per-day and per-start variables, so each limit is a
    short constraint over those."""
    if not mine:
        return
    shortest = min((t.length_minutes for t in problem.templates), default=DAY_MINUTES)
    width = shortest + site.min_rest_minutes
    first_day = min(c.local_date for _, c, _ in mine)
    by_day: dict[tuple[SkillKey, date], list[Any]] = defaultdict(list)
    by_start: dict[int, list[Any]] = defaultdict(list)
    for var, candidate, key in mine:
        by_day[(key, candidate.local_date)].append(var)
        by_start[candidate.first * INTERVAL_MINUTES].append(var)
    days = sorted({d for _, d in by_day})
    day_total: dict[date, list[Any]] = defaultdict(list)
    for key in keys:
        limit = min(site.headcount[key], site.agents)
        weeks: dict[int, list[Any]] = defaultdict(list)
        for day in days:
            members = by_day.get((key, day))
            if not members:
                continue
            count = model.new_int_var(0, limit, "")
            model.add(count == sum(members))
            day_total[day].append(count)
            weeks[(day - first_day).days // 7].append(count)
        if site.max_days_per_week < 7:
            for week in weeks.values():
                model.add(sum(week) <= limit * site.max_days_per_week)
    weeks_all: dict[int, list[Any]] = defaultdict(list)
    for day, counts in day_total.items():
        total = model.new_int_var(0, site.agents, "")
        model.add(total == sum(counts))
        weeks_all[(day - first_day).days // 7].append(total)
    if site.max_days_per_week < 7:
        for week in weeks_all.values():
            model.add(sum(week) <= site.agents * site.max_days_per_week)
    starts: list[tuple[int, Any]] = []
    for minute, members in sorted(by_start.items()):
        count = model.new_int_var(0, site.agents, "")
        model.add(count == sum(members))
        starts.append((minute, count))
    _add_count_windows(model, starts, width, site.agents)


def _fill_answer(
    result: ScheduleResult,
    horizon: Horizon,
    required: dict[tuple[SkillKey, int], int],
    choices: list[tuple[Any, Candidate, SkillKey, int | None]],
    counts: list[int],
) -> None:
    n = horizon.intervals
    coverage: dict[tuple[SkillKey, int], int] = defaultdict(int)
    cost: dict[int, Decimal] = defaultdict(Decimal)
    shifts: list[ShiftOut] = []
    for (_, candidate, key, option), count in zip(choices, counts, strict=True):
        if count <= 0:
            continue
        template = candidate.template
        breaks = math.ceil(template.break_minutes / INTERVAL_MINUTES)
        off = range(option, option + breaks) if option is not None else range(0)
        for j in range(candidate.length):
            i = candidate.first + j
            if 0 <= i < n and j not in off:
                coverage[(key, i)] += count
        break_start = candidate.start + option * INTERVAL if option is not None else None
        shifts.append(
            ShiftOut(
                site_id=candidate.site.id,
                skill=key,
                template_id=template.id,
                local_start=candidate.local_start,
                start=candidate.start,
                end=candidate.end,
                break_start=break_start,
                break_end=(
                    break_start + timedelta(minutes=template.break_minutes)
                    if break_start is not None
                    else None
                ),
                count=count,
            )
        )
        cost[candidate.site.id] += (
            candidate.site.hourly_cost * template.length_minutes / 60 * count
        ).quantize(Decimal("0.01"))
    shifts.sort(key=lambda s: (s.site_id, s.start, _key_order(s.skill), s.template_id))
    result.shifts = shifts
    result.coverage = {
        (k, horizon.interval_start(i)): v
        for (k, i), v in sorted(coverage.items(), key=lambda kv: (_key_order(kv[0][0]), kv[0][1]))
        if v
    }
    result.under = {
        (k, horizon.interval_start(i)): need - min(need, coverage.get((k, i), 0))
        for (k, i), need in sorted(
            required.items(), key=lambda kv: (_key_order(kv[0][0]), kv[0][1])
        )
        if need > coverage.get((k, i), 0)
    }
    result.cost_per_site = dict(sorted(cost.items()))
