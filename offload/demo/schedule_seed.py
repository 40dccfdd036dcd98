"""The demo's schedule data (loaded by seed.load, idempotently).

Shift templates (8 h and 10 h with a break in a window), the four sites' local
rules (Manila around the clock, Krakow weekday office hours and a short Saturday,
Monterrey 07:00-23:00 every day, Austin weekday daytime), agents' contracted hours
(every fifth a 30-hour part-timer), two time-off requests (one approved, one waiting
for a planner), and a published, rostered schedule of the coming week solved by the
real CP-SAT model: follow-the-sun requirements for Acme's care and tech processes
and Globex's claims, from a daily curve in each client's time zone.

The solve is bounded (SOLVE_SECONDS, two workers), so the demo loads in seconds; the
answer may be the best found in that time rather than a proven optimum, and the
schedule says which (`solver_status`). Objects that exist are kept, so loading twice
changes nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from offload.contracts.models import Process
from offload.tenancy.models import Organisation, Site
from offload.workers.models import Worker, WorkerKind
from offload.workforce import schedule_services, scheduling
from offload.workforce.models import (
    AgentContract,
    Schedule,
    ShiftTemplate,
    SitePlanningRule,
    TimeOffRequest,
)

SCHEDULE_NAME = "Coming week (demo)"
SOLVE_SECONDS = 4.0
SOLVE_WORKERS = 2
PART_TIME_HOURS = 30

TEMPLATES = (
    # name, length, break, earliest, latest (minutes)
    ("8 h day", 480, 30, 180, 300),
    ("10 h day", 600, 60, 180, 360),
)
WEEKDAYS = 5
Opening = list[list[str] | None]
MANILA: Opening = [["00:00", "24:00"] for _ in range(7)]
KRAKOW: Opening = [*[["07:00", "21:00"]] * WEEKDAYS, ["09:00", "17:00"], None]
MONTERREY: Opening = [["07:00", "23:00"]] * 7
AUSTIN: Opening = [*[["08:00", "20:00"]] * WEEKDAYS, None, None]
RULES: dict[str, tuple[Opening, int, int]] = {
    # site slug: (opening hours Monday first, max days a week, min rest hours)
    "manila": (MANILA, 5, 11),
    "krakow": (KRAKOW, 5, 11),
    "monterrey": (MONTERREY, 6, 10),
    "austin": (AUSTIN, 5, 12),
}
# Process slug -> agents wanted at the daily peak (client's local time).
PEAKS = {"chat-support": 4.0, "tech-helpdesk": 2.0, "claims-entry": 2.0}
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 0.9, 0.5, 0.4)


def _curve(hour: float) -> float:
    """Share of the peak at a local hour: daytime, a quieter evening, a thin night."""
    day = math.exp(-(((hour - 12.0) / 4.5) ** 2))
    return max(0.15, day)


def _next_monday(provider: Organisation) -> datetime:
    zone = ZoneInfo(provider.timezone)
    today = timezone.now().astimezone(zone).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, datetime.min.time()).replace(tzinfo=zone)


def _templates(provider: Organisation) -> None:
    for name, length, brk, earliest, latest in TEMPLATES:
        if not ShiftTemplate.objects.filter(provider=provider, name=name).exists():
            schedule_services.shift_template_create(
                actor=None,
                provider=provider,
                name=name,
                length_minutes=length,
                break_minutes=brk,
                break_earliest_minutes=earliest,
                break_latest_minutes=latest,
            )


def _rules(provider: Organisation) -> None:
    for site in Site.objects.filter(provider=provider, slug__in=RULES):
        opening, max_days, rest = RULES[site.slug]
        SitePlanningRule.objects.get_or_create(
            site=site,
            defaults={
                "provider": provider,
                "opening_hours": opening,
                "max_days_per_week": max_days,
                "min_rest_hours": rest,
            },
        )


def _contracts(provider: Organisation, agents: list[Worker]) -> None:
    have = set(AgentContract.objects.filter(provider=provider).values_list("worker_id", flat=True))
    AgentContract.objects.bulk_create(
        [
            AgentContract(
                provider=provider,
                worker=agent,
                hours_per_week=PART_TIME_HOURS if n % 5 == 4 else 40,
            )
            for n, agent in enumerate(agents)
            if agent.pk not in have
        ]
    )


def _time_off(provider: Organisation, agents: list[Worker], monday: datetime) -> None:
    if TimeOffRequest.objects.filter(provider=provider).exists() or len(agents) < 2:
        return
    approved = schedule_services.time_off_request(
        actor=None,
        worker=agents[1],
        start=monday + timedelta(days=2),
        end=monday + timedelta(days=3),
        reason="Family wedding",
    )
    schedule_services.time_off_decide(actor=None, time_off=approved, approve=True)
    schedule_services.time_off_request(
        actor=None,
        worker=agents[0],
        start=monday + timedelta(days=4),
        end=monday + timedelta(days=5),
        reason="Dentist, then a long weekend",
    )


def requirements(
    provider: Organisation, start: datetime, days: int
) -> list[schedule_services.Requirement]:
    """The demo's wanted agents per process and interval over [start, start + days)."""
    out = []
    processes = Process.objects.filter(provider=provider, slug__in=PEAKS).select_related("client")
    for process in processes.order_by("id"):
        zone = ZoneInfo(process.client.timezone)
        for k in range(days * 48):
            at = start + k * scheduling.INTERVAL
            local = at.astimezone(zone)
            wanted = (
                PEAKS[process.slug]
                * _curve(local.hour + local.minute / 60)
                * WEEKDAY_FACTOR[local.weekday()]
            )
            agents = math.ceil(wanted - 0.25)
            if agents > 0:
                out.append(schedule_services.Requirement(process.pk, at, agents))
    return out


def load(provider: Organisation) -> None:
    """Templates, rules, contracts, time off and the coming week's schedule."""
    agents = list(Worker.objects.filter(provider=provider, kind=WorkerKind.AGENT).order_by("id"))
    monday = _next_monday(provider)
    _templates(provider)
    _rules(provider)
    _contracts(provider, agents)
    _time_off(provider, agents, monday)
    start = monday.astimezone(ZoneInfo("UTC"))
    if Schedule.objects.filter(provider=provider, name=SCHEDULE_NAME, start=start).exists():
        return
    wanted = requirements(provider, start, 7)
    if not wanted:
        return
    schedule = schedule_services.schedule_generate(
        actor=None,
        provider=provider,
        start=start,
        days=7,
        name=SCHEDULE_NAME,
        requirements=wanted,
        options=scheduling.SolverOptions(
            num_workers=SOLVE_WORKERS, random_seed=1, time_limit_s=SOLVE_SECONDS
        ),
    )
    # The task ran inside the demo's load (immediate backend) or waits for the worker;
    # solve here when it has not, so the demo opens on a schedule.
    if schedule.solve_state != "solved":
        schedule = schedule_services.schedule_solve(
            schedule=schedule,
            options=scheduling.SolverOptions(
                num_workers=SOLVE_WORKERS, random_seed=1, time_limit_s=SOLVE_SECONDS
            ),
        )
    if schedule.solve_state == "solved":
        schedule_services.schedule_publish(actor=None, schedule=schedule)
        schedule_services.roster_generate(actor=None, schedule=schedule)
