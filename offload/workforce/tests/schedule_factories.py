"""Small builders for scheduling tests: a provider with a site, a process and agents
able to staff it; templates, rules and schedules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from offload.contracts.models import Process
from offload.tenancy.models import Organisation, Site
from offload.tenancy.tests.factories import make_provider, make_site
from offload.workers.models import Worker
from offload.workers.tests.factories import make_agent, make_process
from offload.workforce import schedule_services, scheduling
from offload.workforce.models import Schedule, ShiftTemplate, SitePlanningRule

# Monday 23 November 2026, 01:00 UTC: 09:00 in Manila.
MONDAY_9_MANILA = datetime(2026, 11, 23, 1, tzinfo=UTC)
ONE_WORKER = scheduling.SolverOptions(num_workers=1, random_seed=7, time_limit_s=20)


@dataclass(frozen=True)
class Floor:
    provider: Organisation
    site: Site
    process: Process
    agents: list[Worker]


def make_template(provider: Organisation, **overrides: object) -> ShiftTemplate:
    fields: dict[str, object] = {
        "name": "8 h, no break",
        "length_minutes": 480,
        "break_minutes": 0,
    }
    fields.update(overrides)
    return schedule_services.shift_template_create(actor=None, provider=provider, **fields)  # type: ignore[arg-type]


def make_rule(
    site: Site, opening: Sequence[Sequence[str] | None], **overrides: int
) -> SitePlanningRule:
    return SitePlanningRule.objects.create(
        provider_id=site.provider_id, site=site, opening_hours=list(opening), **overrides
    )


def make_floor(
    agents: int = 3, *, provider: Organisation | None = None, break_minutes: int = 0
) -> Floor:
    """A provider with a Manila site open 09:00-17:00 weekdays, an 8-hour template
    (with a break of `break_minutes` 3-5 hours in), a process needing billing 2 and
    `agents` certified agents at billing 3."""
    provider = provider or make_provider()
    site = make_site(provider, timezone="Asia/Manila", hourly_cost=Decimal("10.00"))
    make_rule(site, [["09:00", "17:00"]] * 5 + [None, None])
    make_template(provider, break_minutes=break_minutes)
    process = make_process(provider, required_skills={"billing": 2})
    staff = [
        make_agent(provider, site=site, skills={"billing": 3}, processes=[process])
        for _ in range(agents)
    ]
    return Floor(provider, site, process, staff)


def nine_to_five(
    process: Process, day: int = 0, agents: float = 1
) -> list[schedule_services.Requirement]:
    start = MONDAY_9_MANILA + timedelta(days=day)
    return [
        schedule_services.Requirement(process.pk, start + k * scheduling.INTERVAL, agents)
        for k in range(16)
    ]


def make_schedule(floor: Floor, *, days: int = 1, agents: float = 1, **kw: object) -> Schedule:
    """A solved schedule of `floor` for [Monday 01:00 UTC, + days), 09:00-17:00 each day."""
    requirements = [r for d in range(days) for r in nine_to_five(floor.process, d, agents)]
    return schedule_services.schedule_generate(
        actor=None,
        provider=floor.provider,
        start=MONDAY_9_MANILA,
        days=days,
        requirements=requirements,
        options=ONE_WORKER,
        **kw,  # type: ignore[arg-type]
    )
