"""Writes of scheduling: generate a schedule (solved in a background task), publish
it, roster it to named agents, and time off requested and decided.

The solver and the roster are pure cores (`scheduling`, `rostering`); this module
reads their inputs from the database, runs them and stores their answers. See
docs/scheduling.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone

from offload.contracts.models import Process
from offload.core import errors
from offload.tenancy import audit, visibility
from offload.tenancy.models import Organisation, Site
from offload.tenancy.visibility import Principal
from offload.workers.models import Worker, WorkerKind
from offload.workforce import forecast_selectors, rostering, schedule_selectors, scheduling
from offload.workforce.models import (
    AgentContract,
    Schedule,
    ScheduledShift,
    ScheduleStatus,
    ShiftTemplate,
    SitePlanningRule,
    SolveState,
    TimeOffRequest,
    TimeOffStatus,
)
from offload.workforce.models.schedules import (
    DEFAULT_CONTRACTED_HOURS,
    DEFAULT_MAX_DAYS_PER_WEEK,
    DEFAULT_MIN_REST_HOURS,
)

DAYS_MAX = 14
MIN_REST_HOURS_MAX = 24
CONTRACT_HOURS_MIN = 1
CONTRACT_HOURS_MAX = 80
WEEKDAYS = 7
TIME_OFF_DAYS_MAX = 31
REQUIREMENTS_MAX = 20_000
AGENTS_MAX = 10_000

NOT_AWARE = "give a time zone (an offset or Z)"
NOT_ALIGNED = "must fall on a 30-minute boundary (hh:00 or hh:30 UTC)"
DAYS_RANGE = f"must be between 1 and {DAYS_MAX}"
OUTSIDE_HORIZON = "falls outside the schedule's horizon"
NO_REQUIREMENTS = "no requirements: give them, or make forecasts for the horizon first"
NOT_SOLVED = "the schedule is not solved yet"
ALREADY_PUBLISHED = "the schedule is already published"
END_BEFORE_START = "must be after the start"
TIME_OFF_TOO_LONG = f"at most {TIME_OFF_DAYS_MAX} days at once"
NOT_YOUR_TIME_OFF = "agents request time off for themselves only"
NOT_AN_AGENT = "time off is for agents"
ALREADY_DECIDED = "the request is already {status}"
TEMPLATE_LENGTH = "must be between 60 and 720 minutes, in steps of 30"
TEMPLATE_BREAK = "must be between 0 and 120 minutes"
TEMPLATE_WINDOW = "the break window must lie inside the shift and hold the break"
TEMPLATE_STEP = "must be a multiple of 30 minutes up to 240"
TEMPLATE_NAME_TAKEN = "a shift template of that name exists"
OPENING_DAYS = "give 7 days, Monday first"
OPENING_DAY = (
    "give the open and close as HH:MM on the half hour (the close up to 24:00), "
    "or neither for a closed day"
)
OPENING_OPEN_24 = "a day opens from 00:00 to 23:30 (24:00 is a closing time)"
MAX_DAYS_RANGE = "must be between 1 and 7 days"
MIN_REST_RANGE = f"must be between 0 and {MIN_REST_HOURS_MAX} hours"
NOT_PROVIDERS_SITE = "not a site of your organisation"
CONTRACT_HOURS_RANGE = f"must be between {CONTRACT_HOURS_MIN} and {CONTRACT_HOURS_MAX} hours"
NOT_PROVIDERS_AGENT = "not an agent of your organisation"
CONTRACT_NOT_AGENT = "contracted hours are for agents, not bots"

# The provider's shifts when it has made no templates of its own.
DEFAULT_TEMPLATES = (
    scheduling.ShiftTemplateInput(0, "8 h", 480, 30, 180, 300),
    scheduling.ShiftTemplateInput(-1, "10 h", 600, 60, 180, 360),
)


@dataclass(frozen=True)
class Requirement:
    process_id: int
    start: datetime  # aware UTC, a 30-minute interval
    agents: float


def _aligned(moment: datetime) -> bool:
    utc = moment.astimezone(UTC)
    return utc.minute % 30 == 0 and utc.second == 0 and utc.microsecond == 0


def _check_start(field: str, moment: datetime) -> str | None:
    if moment.tzinfo is None:
        return NOT_AWARE
    if not _aligned(moment):
        return NOT_ALIGNED
    return None


# ---------------------------------------------------------------- schedules


def schedule_generate(
    *,
    actor: Principal | None,
    provider: Organisation,
    start: datetime,
    days: int,
    name: str = "",
    requirements: Sequence[Requirement] | None = None,
    process_ids: Iterable[int] | None = None,
    options: scheduling.SolverOptions | None = None,
) -> Schedule:
    """A draft schedule for [start, start + days), solved in a background task.

    Requirements are the ones given, or the forecasts' (`staffing_requirements`) for
    the horizon when none are given."""
    if actor is not None:
        visibility.require(actor, "schedule.manage")
    errors.raise_failures(
        [
            ("start", _check_start("start", start)),
            ("days", None if 1 <= days <= DAYS_MAX else DAYS_RANGE),
        ]
    )
    start = start.astimezone(UTC)
    end = start + timedelta(days=days)
    if requirements is None:
        rows = [
            Requirement(r.process_id, r.start, float(r.scheduled))
            for r in forecast_selectors.staffing_requirements(
                provider=provider, start=start, end=end, process_ids=process_ids
            )
        ]
        if not rows:
            raise errors.ValidationFailed.single("requirements", NO_REQUIREMENTS)
    else:
        problems: list[tuple[str, str | None]] = []
        for i, row in enumerate(requirements):
            message = _check_start("start", row.start)
            if message is None and not start <= row.start < end:
                message = OUTSIDE_HORIZON
            problems.append((f"requirements[{i}].start", message))
        errors.raise_failures(problems)
        rows = list(requirements)
    opts = options or scheduling.SolverOptions()
    with transaction.atomic():
        schedule = Schedule.objects.create(
            provider=provider,
            solver_options=solver_options_dict(opts),
            name=name or f"Week of {start:%Y-%m-%d}",
            start=start,
            days=days,
            requirements=[
                [r.process_id, r.start.astimezone(UTC).isoformat(), r.agents]
                for r in sorted(rows, key=lambda r: (r.process_id, r.start))
            ],
            created_by=actor.user if actor is not None else None,
        )
        audit.record_created(
            organisation=provider,
            actor=actor,
            action="schedule.generate",
            obj=schedule,
            fields=["name", "start", "days"],
        )
        # In the schedule's transaction: on the database backend the task row commits
        # with it, so a schedule is never left queued without a task.
        schedule_enqueue(schedule)
    schedule.refresh_from_db()
    return schedule


def solver_options_dict(options: scheduling.SolverOptions) -> dict[str, float]:
    return {
        "num_workers": options.num_workers,
        "random_seed": options.random_seed,
        "time_limit_s": options.time_limit_s,
    }


def schedule_enqueue(schedule: Schedule) -> None:
    """Queue the solve of a queued schedule with its stored solver options."""
    from offload.workforce import schedule_tasks  # the task module imports this one

    opts = schedule.solver_options or solver_options_dict(scheduling.SolverOptions())
    schedule_tasks.schedule_solve_task.enqueue(
        schedule.pk, int(opts["num_workers"]), int(opts["random_seed"]), float(opts["time_limit_s"])
    )


def _templates(provider: Organisation) -> list[scheduling.ShiftTemplateInput]:
    rows = ShiftTemplate.objects.filter(provider=provider, is_active=True).order_by("id")
    found = [
        scheduling.ShiftTemplateInput(
            t.pk,
            t.name,
            t.length_minutes,
            t.break_minutes,
            t.break_earliest_minutes,
            t.break_latest_minutes,
            t.start_step_minutes,
        )
        for t in rows
    ]
    return found or list(DEFAULT_TEMPLATES)


def _can_staff(worker: Worker, process: Process) -> bool:
    """Certified on the process (the caller filters) and at its required skill levels."""
    skills = worker.skills or {}
    return all(int(skills.get(k, 0)) >= int(v) for k, v in (process.required_skills or {}).items())


def _eligibility(
    provider: Organisation, process_ids: Iterable[int]
) -> tuple[list[Worker], dict[int, set[int]]]:
    """The provider's active agents and, per agent, the processes it can staff."""
    processes = {p.pk: p for p in Process.objects.filter(provider=provider, pk__in=process_ids)}
    agents = list(
        Worker.objects.filter(provider=provider, kind=WorkerKind.AGENT, is_active=True)
        .select_related("site")
        .prefetch_related("processes")
        .order_by("id")
    )
    can: dict[int, set[int]] = {}
    for agent in agents:
        can[agent.pk] = {
            p.pk
            for p in agent.processes.all()
            if p.pk in processes and _can_staff(agent, processes[p.pk])
        }
    return agents, can


def _rules(site: Site, rules: dict[int, SitePlanningRule]) -> tuple[Any, int, int]:
    rule = rules.get(site.pk)
    if rule is None:
        return scheduling.OPEN_ALL_WEEK, DEFAULT_MAX_DAYS_PER_WEEK, DEFAULT_MIN_REST_HOURS * 60
    return (
        scheduling.opening_from_strings(rule.opening_hours or []),
        rule.max_days_per_week,
        rule.min_rest_hours * 60,
    )


def schedule_problem(schedule: Schedule, options: scheduling.SolverOptions) -> scheduling.Problem:
    """The solver's input for a schedule, read from its requirements and the provider's
    sites, rules, agents and templates."""
    requirements: dict[tuple[Any, datetime], float] = {}
    for process_id, at, agents in schedule.requirements:
        key = (int(process_id), datetime.fromisoformat(at))
        requirements[key] = requirements.get(key, 0.0) + float(agents)
    process_ids = sorted({k for k, _ in requirements})
    agents, can = _eligibility(schedule.provider, process_ids)
    rules = schedule_selectors.site_planning_rules(provider=schedule.provider)
    per_site: dict[int, list[Worker]] = defaultdict(list)
    for agent in agents:
        if agent.site_id is not None and can[agent.pk]:
            per_site[agent.site_id].append(agent)
    sites = []
    for site in Site.objects.filter(provider=schedule.provider).order_by("id"):
        staff = per_site.get(site.pk, [])
        headcount: dict[Any, int] = defaultdict(int)
        for agent in staff:
            for pid in can[agent.pk]:
                headcount[pid] += 1
        opening, max_days, rest = _rules(site, rules)
        sites.append(
            scheduling.SiteInput(
                id=site.pk,
                name=site.name,
                zone=site.timezone,
                hourly_cost=site.hourly_cost,
                headcount=dict(headcount),
                agents=len(staff),
                opening=opening,
                max_days_per_week=max_days,
                min_rest_minutes=rest,
            )
        )
    return scheduling.Problem(
        horizon=scheduling.Horizon(schedule.start, schedule.days),
        requirements=requirements,
        sites=sites,
        templates=_templates(schedule.provider),
        options=options,
    )


def schedule_solve(
    *, schedule: Schedule, options: scheduling.SolverOptions, attempt: int | None = None
) -> Schedule:
    """Run the solver for a schedule and store its shifts and totals (the task's work).
    `attempt`: the solve the task claimed; its result lands only while the schedule
    is still running that attempt (one whose worker was taken for dead and queued
    again belongs to the later attempt)."""
    mine = Schedule.objects.filter(pk=schedule.pk)
    if attempt is not None:
        mine = mine.filter(solve_state=SolveState.RUNNING, attempts=attempt)
    try:
        result = scheduling.solve(schedule_problem(schedule, options))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        mine.update(solve_state=SolveState.FAILED, solve_error=str(exc))
        schedule.refresh_from_db()
        return schedule
    templates = set(
        ShiftTemplate.objects.filter(provider=schedule.provider).values_list("pk", flat=True)
    )
    rows = [
        ScheduledShift(
            schedule=schedule,
            provider_id=schedule.provider_id,
            site_id=shift.site_id,
            process_id=int(shift.skill),  # type: ignore[call-overload]
            template_id=shift.template_id if shift.template_id in templates else None,
            start=shift.start,
            end=shift.end,
            break_start=shift.break_start,
            break_end=shift.break_end,
        )
        for shift in result.shifts
        for _ in range(shift.count)
    ]
    with transaction.atomic():
        if not mine.select_for_update().exists():
            schedule.refresh_from_db()
            return schedule
        ScheduledShift.objects.filter(schedule=schedule).delete()
        ScheduledShift.objects.bulk_create(rows, batch_size=1000)
        schedule.solve_state = SolveState.SOLVED
        schedule.solver_status = result.status
        schedule.solve_error = ""
        schedule.objective = result.objective
        schedule.under_staffed = float(result.total_under)
        schedule.shift_count = len(rows)
        schedule.total_cost = result.total_cost
        schedule.cost_per_site = {str(k): str(v) for k, v in result.cost_per_site.items()}
        schedule.unfilled_shifts = len(rows)
        schedule.rostered_at = None
        schedule.save()
    return schedule


def schedule_publish(*, actor: Principal | None, schedule: Schedule) -> Schedule:
    """Publish a solved schedule: intraday and the twin read it from now on. A published
    schedule of the provider whose horizon overlaps goes back to draft (it is replaced)."""
    if actor is not None:
        visibility.require(actor, "schedule.manage")
    if schedule.solve_state != SolveState.SOLVED:
        raise errors.Conflict(NOT_SOLVED)
    if schedule.status == ScheduleStatus.PUBLISHED:
        raise errors.Conflict(ALREADY_PUBLISHED)
    with transaction.atomic():
        replaced = Schedule.objects.select_for_update().filter(
            provider_id=schedule.provider_id,
            status=ScheduleStatus.PUBLISHED,
            start__lt=schedule.end,
        )
        for other in replaced:
            if other.end > schedule.start:
                other.status = ScheduleStatus.DRAFT
                other.published_at = None
                other.save(update_fields=["status", "published_at", "updated_at"])
                audit.record(
                    organisation=schedule.provider,
                    actor=actor,
                    action="schedule.unpublish",
                    obj=other,
                    changes={"status": [ScheduleStatus.PUBLISHED, ScheduleStatus.DRAFT]},
                )
        schedule.status = ScheduleStatus.PUBLISHED
        schedule.published_at = timezone.now()
        schedule.save(update_fields=["status", "published_at", "updated_at"])
        audit.record(
            organisation=schedule.provider,
            actor=actor,
            action="schedule.publish",
            obj=schedule,
            changes={"status": [ScheduleStatus.DRAFT, ScheduleStatus.PUBLISHED]},
        )
    return schedule


def roster_generate(*, actor: Principal | None, schedule: Schedule) -> Schedule:
    """Give the schedule's shifts to named agents of their sites (rostering.roster):
    skills, contracted hours, days a week, rest and approved time off respected."""
    if actor is not None:
        visibility.require(actor, "schedule.manage")
    if schedule.solve_state != SolveState.SOLVED:
        raise errors.Conflict(NOT_SOLVED)
    shifts = list(ScheduledShift.objects.filter(schedule=schedule).select_related("site"))
    agents, can = _eligibility(schedule.provider, {s.process_id for s in shifts})
    rules = schedule_selectors.site_planning_rules(provider=schedule.provider)
    hours = schedule_selectors.agent_contract_hours(provider=schedule.provider)
    time_off = schedule_selectors.approved_time_off(
        provider=schedule.provider, start=schedule.start, end=schedule.end + timedelta(days=1)
    )
    inputs = []
    for agent in agents:
        if agent.site is None or not can[agent.pk]:
            continue
        _, max_days, rest = _rules(agent.site, rules)
        inputs.append(
            rostering.AgentInput(
                id=agent.pk,
                site_id=agent.site_id,  # type: ignore[arg-type]
                skills=frozenset(can[agent.pk]),
                contracted_minutes=hours.get(agent.pk, DEFAULT_CONTRACTED_HOURS) * 60,
                max_days_per_week=max_days,
                min_rest_minutes=rest,
                time_off=tuple(time_off.get(agent.pk, ())),
            )
        )
    slots = [
        rostering.ShiftSlot(
            id=s.pk,
            site_id=s.site_id,
            skill=s.process_id,
            start=s.start,
            end=s.end,
            local_date=s.start.astimezone(ZoneInfo(s.site.timezone)).date(),
            week=(s.start - schedule.start).days // 7,
        )
        for s in shifts
    ]
    answer = rostering.roster(slots, inputs)
    by_id = {s.pk: s for s in shifts}
    with transaction.atomic():
        for shift in shifts:
            shift.worker_id = answer.assignments.get(shift.pk)
        ScheduledShift.objects.bulk_update(list(by_id.values()), ["worker"], batch_size=1000)
        schedule.unfilled_shifts = len(answer.unfilled)
        schedule.rostered_at = timezone.now()
        schedule.save(update_fields=["unfilled_shifts", "rostered_at", "updated_at"])
        audit.record(
            organisation=schedule.provider,
            actor=actor,
            action="schedule.roster",
            obj=schedule,
            changes={
                "rostered": [None, len(answer.assignments)],
                "unfilled": [None, len(answer.unfilled)],
            },
        )
    return schedule


# ---------------------------------------------------------------- templates


def shift_template_create(
    *,
    actor: Principal | None,
    provider: Organisation,
    name: str,
    length_minutes: int,
    break_minutes: int = 30,
    break_earliest_minutes: int = 180,
    break_latest_minutes: int = 300,
    start_step_minutes: int = 30,
) -> ShiftTemplate:
    if actor is not None:
        visibility.require(actor, "schedule.manage")
    length_ok = 60 <= length_minutes <= 720 and length_minutes % 30 == 0
    window_ok = (
        break_minutes == 0
        or break_earliest_minutes + break_minutes <= break_latest_minutes <= length_minutes
    )
    errors.raise_failures(
        [
            ("length_minutes", None if length_ok else TEMPLATE_LENGTH),
            ("break_minutes", None if 0 <= break_minutes <= 120 else TEMPLATE_BREAK),
            ("break_latest_minutes", None if window_ok else TEMPLATE_WINDOW),
            (
                "start_step_minutes",
                None
                if start_step_minutes % 30 == 0 and 30 <= start_step_minutes <= 240
                else TEMPLATE_STEP,
            ),
            (
                "name",
                TEMPLATE_NAME_TAKEN
                if ShiftTemplate.objects.filter(provider=provider, name=name).exists()
                else None,
            ),
        ]
    )
    with transaction.atomic():
        template = ShiftTemplate.objects.create(
            provider=provider,
            name=name,
            length_minutes=length_minutes,
            break_minutes=break_minutes,
            break_earliest_minutes=break_earliest_minutes,
            break_latest_minutes=break_latest_minutes,
            start_step_minutes=start_step_minutes,
        )
        audit.record_created(
            organisation=provider,
            actor=actor,
            action="shift_template.create",
            obj=template,
            fields=["name", "length_minutes", "break_minutes"],
        )
    return template


# ---------------------------------------------------------------- planning rules

RULE_FIELDS = ["opening_hours", "max_days_per_week", "min_rest_hours"]
CONTRACT_FIELDS = ["hours_per_week"]


def _clock(value: object) -> int | None:
    """Minutes after midnight of "HH:MM" on the half hour (24:00 allowed), or None."""
    if not isinstance(value, str) or len(value) > 5:
        return None
    try:
        minutes = scheduling.parse_clock(value)
    except ValueError:
        return None
    return minutes if minutes % 30 == 0 else None


def _day_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def opening_hours_check(
    opening_hours: Sequence[Sequence[str] | None],
) -> tuple[list[list[str] | None], list[tuple[str, str | None]]]:
    """The opening hours as the model stores them (7 days, Monday first, each
    ["HH:MM", "HH:MM"] or None) and the problems found, one per bad day.

    A day closing at or before it opens closes the next day (overnight); opening and
    closing at the same time of day (["00:00", "24:00"]) is open all day."""
    if not isinstance(opening_hours, list | tuple) or len(opening_hours) != WEEKDAYS:
        return [], [("opening_hours", OPENING_DAYS)]
    days: list[list[str] | None] = []
    problems: list[tuple[str, str | None]] = []
    for i, day in enumerate(opening_hours):
        field = f"opening_hours[{i}]"
        if day is None:
            days.append(None)
            continue
        pair = list(day) if isinstance(day, list | tuple) else []
        clocks = [m for m in (_clock(v) for v in pair) if m is not None]
        if len(pair) != 2 or len(clocks) != 2:
            problems.append((field, OPENING_DAY))
            continue
        open_m, close_m = clocks
        if open_m == scheduling.DAY_MINUTES:
            problems.append((field, OPENING_OPEN_24))
            continue
        days.append([_day_text(open_m), _day_text(close_m)])
    return days, problems


def site_planning_rule_check(
    *,
    opening_hours: Sequence[Sequence[str] | None],
    max_days_per_week: int | None,
    min_rest_hours: int | None,
) -> tuple[list[list[str] | None], list[tuple[str, str | None]]]:
    """The opening hours as stored and every field's problem (a number left out, None,
    is the caller's to name)."""
    days, problems = opening_hours_check(opening_hours)
    max_days_ok = max_days_per_week is None or 1 <= max_days_per_week <= WEEKDAYS
    rest_ok = min_rest_hours is None or 0 <= min_rest_hours <= MIN_REST_HOURS_MAX
    problems.append(("max_days_per_week", None if max_days_ok else MAX_DAYS_RANGE))
    problems.append(("min_rest_hours", None if rest_ok else MIN_REST_RANGE))
    return days, problems


def site_planning_rule_set(
    *,
    actor: Principal | None,
    site: Site,
    opening_hours: Sequence[Sequence[str] | None],
    max_days_per_week: int,
    min_rest_hours: int,
) -> SitePlanningRule:
    """Set (create or replace) a site's planning rules: its opening hours per local
    weekday, the most days an agent works in a week and the least rest between two
    shifts."""
    if actor is not None:
        visibility.require(actor, "schedule.manage")
        if site.provider_id != actor.organisation.pk:
            raise errors.ValidationFailed.single("site_id", NOT_PROVIDERS_SITE)
    days, problems = site_planning_rule_check(
        opening_hours=opening_hours,
        max_days_per_week=max_days_per_week,
        min_rest_hours=min_rest_hours,
    )
    errors.raise_failures(problems)
    with transaction.atomic():
        rule = SitePlanningRule.objects.select_for_update().filter(site=site).first()
        before = audit.snapshot(rule, RULE_FIELDS) if rule else {}
        if rule is None:
            rule = SitePlanningRule(provider_id=site.provider_id, site=site)
        rule.opening_hours = days
        rule.max_days_per_week = max_days_per_week
        rule.min_rest_hours = min_rest_hours
        rule.save()
        audit.record(
            organisation=site.provider,
            actor=actor,
            action="site_planning_rule.set",
            obj=rule,
            changes=audit.diff(before, audit.snapshot(rule, RULE_FIELDS)),
        )
    return rule


def agent_contract_set(
    *, actor: Principal | None, worker: Worker, hours_per_week: int
) -> AgentContract:
    """Set (create or replace) an agent's contracted hours a week, the most the
    roster gives it."""
    if actor is not None:
        visibility.require(actor, "schedule.manage")
        if worker.provider_id != actor.organisation.pk:
            raise errors.ValidationFailed.single("worker_id", NOT_PROVIDERS_AGENT)
    errors.raise_failures(
        [
            ("worker_id", None if worker.kind == WorkerKind.AGENT else CONTRACT_NOT_AGENT),
            (
                "hours_per_week",
                None
                if CONTRACT_HOURS_MIN <= hours_per_week <= CONTRACT_HOURS_MAX
                else CONTRACT_HOURS_RANGE,
            ),
        ]
    )
    with transaction.atomic():
        contract = AgentContract.objects.select_for_update().filter(worker=worker).first()
        before = audit.snapshot(contract, CONTRACT_FIELDS) if contract else {}
        if contract is None:
            contract = AgentContract(provider_id=worker.provider_id, worker=worker)
        contract.hours_per_week = hours_per_week
        contract.save()
        audit.record(
            organisation=worker.provider,
            actor=actor,
            action="agent_contract.set",
            obj=contract,
            changes=audit.diff(before, audit.snapshot(contract, CONTRACT_FIELDS)),
        )
    return contract


# ---------------------------------------------------------------- time off


def time_off_request(
    *,
    actor: Principal | None,
    worker: Worker,
    start: datetime,
    end: datetime,
    reason: str = "",
) -> TimeOffRequest:
    """An agent asks for time off: for itself, or a planner for one of its agents."""
    if actor is not None:
        visibility.require(actor, "time_off.request")
        own = actor.user is not None and worker.user_id == actor.user.pk
        if not own and not visibility.allowed(actor, "schedule.manage"):
            raise errors.PermissionDenied(NOT_YOUR_TIME_OFF)
    errors.raise_failures(
        [
            ("worker_id", None if worker.kind == WorkerKind.AGENT else NOT_AN_AGENT),
            ("start", NOT_AWARE if start.tzinfo is None else None),
            ("end", NOT_AWARE if end.tzinfo is None else None),
        ]
    )
    errors.raise_failures(
        [
            ("end", END_BEFORE_START if end <= start else None),
            (
                "end",
                TIME_OFF_TOO_LONG if end - start > timedelta(days=TIME_OFF_DAYS_MAX) else None,
            ),
        ]
    )
    with transaction.atomic():
        request = TimeOffRequest.objects.create(
            provider_id=worker.provider_id,
            worker=worker,
            start=start.astimezone(UTC),
            end=end.astimezone(UTC),
            reason=reason,
        )
        audit.record_created(
            organisation=worker.provider,
            actor=actor,
            action="time_off.request",
            obj=request,
            fields=["worker_id", "start", "end", "reason"],
        )
    return request


def time_off_decide(
    *, actor: Principal | None, time_off: TimeOffRequest, approve: bool
) -> TimeOffRequest:
    """A planner approves or rejects a request; either way the request keeps the
    coverage approving costs (`schedule_selectors.time_off_coverage_cost`). Approving
    takes the agent off its published shifts in the span: they are unrostered until
    the roster runs again."""
    if actor is not None:
        visibility.require(actor, "schedule.manage")
    if time_off.status != TimeOffStatus.REQUESTED:
        raise errors.Conflict(ALREADY_DECIDED.format(status=time_off.status))
    cost = schedule_selectors.time_off_coverage_cost(time_off=time_off)
    status = TimeOffStatus.APPROVED if approve else TimeOffStatus.REJECTED
    with transaction.atomic():
        time_off.status = status
        time_off.decided_by = actor.user if actor is not None else None
        time_off.decided_at = timezone.now()
        time_off.coverage_cost = cost
        time_off.save()
        if approve:
            schedule_selectors.worker_shifts(
                worker=time_off.worker, start=time_off.start, end=time_off.end
            ).update(worker=None)
        audit.record(
            organisation=time_off.worker.provider,
            actor=actor,
            action=f"time_off.{'approve' if approve else 'reject'}",
            obj=time_off,
            changes={
                "status": [TimeOffStatus.REQUESTED, status],
                "coverage_cost_intervals": [None, len(cost)],
            },
        )
    return time_off
