"""/api/v1 routes of workforce planning: schedules.

`GET/POST /schedules`, `GET /schedules/{schedule_id}`, its `/shifts` and `/coverage`,
`POST /schedules/{schedule_id}/publish` and `/roster`, `GET/POST /shift-templates`,
`GET /my-shifts`, `GET/POST /time-off`, `GET /time-off/{time_off_id}`,
`POST /time-off/{time_off_id}/decide`, `GET /site-planning-rules`,
`GET /site-planning-rules/{planning_rule_id}`, `PUT /sites/{site_id}/planning-rule`,
`GET /agent-contracts`, `GET /agent-contracts/{agent_contract_id}` and
`PUT /workers/{worker_id}/contract`. The provider's own: a client sees none of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Status

from offload.contracts.models import Process
from offload.core import errors
from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import NOT_FOUND_REF, Page, resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.tenancy.models import OrganisationKind, Site
from offload.tenancy.visibility import Principal
from offload.workers import selectors as worker_selectors
from offload.workers.models import Worker
from offload.workforce import schedule_selectors as selectors
from offload.workforce import schedule_services as services
from offload.workforce import scheduling
from offload.workforce.models import (
    AgentContract,
    Schedule,
    ScheduledShift,
    ShiftTemplate,
    SitePlanningRule,
    TimeOffRequest,
)
from offload.workforce.schedule_schemas import (
    AgentContractIn,
    AgentContractOut,
    CoverageOut,
    ScheduleIn,
    ScheduleOut,
    ShiftOut,
    ShiftTemplateIn,
    ShiftTemplateOut,
    SitePlanningRuleIn,
    SitePlanningRuleOut,
    TimeOffDecideIn,
    TimeOffFilter,
    TimeOffIn,
    TimeOffOut,
)

router = Router(tags=["workforce"])

NOT_A_WORKER = "you are not an agent: name the worker_id"
MY_SHIFTS_DAYS = 14


def _provider(principal: Principal) -> None:
    visibility.require_side(principal, OrganisationKind.PROVIDER)


def _processes(principal: Principal, ids: list[int], field: str) -> None:
    """Every id a process the caller sees, or a 422 naming the field."""
    found = set(
        visibility.visible(principal, Process.objects.filter(pk__in=ids)).values_list(
            "pk", flat=True
        )
    )
    missing = [pk for pk in dict.fromkeys(ids) if pk not in found]
    if missing:
        what = NOT_FOUND_REF.format(what="process")
        raise errors.ValidationFailed.single(field, f"{what}: {', '.join(map(str, missing))}")


# ---------------------------------------------------------------- schedules


@router.get("/schedules", response=Page[ScheduleOut])
def schedule_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    return page(
        selectors.schedule_list(principal=principal_of(request)), cursor=cursor, limit=limit
    )


@router.post("/schedules", response={201: ScheduleOut})
def schedule_generate(request: HttpRequest, payload: ScheduleIn) -> Status[Schedule]:
    """Generate a draft schedule; the solver runs as a background task (the answer's
    `solve_state` says whether it is done)."""
    principal = principal_of(request)
    # References first: a foreign process is a 422 whoever asks.
    requirements = None
    if payload.requirements is not None:
        _processes(
            principal, [r.process_id for r in payload.requirements], "requirements.process_id"
        )
        requirements = [
            services.Requirement(r.process_id, r.start, r.agents) for r in payload.requirements
        ]
    if payload.process_ids is not None:
        _processes(principal, payload.process_ids, "process_ids")
    visibility.require(principal, "schedule.manage")
    _provider(principal)
    schedule = services.schedule_generate(
        actor=principal,
        provider=principal.organisation,
        start=payload.start,
        days=payload.days,
        name=payload.name,
        requirements=requirements,
        process_ids=payload.process_ids,
        options=scheduling.SolverOptions(
            random_seed=payload.random_seed, time_limit_s=payload.time_limit_s
        ),
    )
    return Status(201, schedule)


@router.get("/schedules/{schedule_id}", response=ScheduleOut)
def schedule_get(request: HttpRequest, schedule_id: int) -> Schedule:
    return selectors.schedule_get(principal=principal_of(request), schedule_id=schedule_id)


@router.get("/schedules/{schedule_id}/shifts", response=Page[ShiftOut])
def schedule_shifts(
    request: HttpRequest,
    schedule_id: int,
    site_id: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    principal = principal_of(request)
    schedule = selectors.schedule_get(principal=principal, schedule_id=schedule_id)
    qs = selectors.schedule_shift_list(principal=principal, schedule=schedule, site_id=site_id)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/schedules/{schedule_id}/coverage", response=CoverageOut)
def schedule_coverage(request: HttpRequest, schedule_id: int) -> dict[str, object]:
    """Required and scheduled agents (breaks off) per process and interval."""
    schedule = selectors.schedule_get(principal=principal_of(request), schedule_id=schedule_id)
    required, scheduled = selectors.schedule_coverage(schedule=schedule)
    keys = sorted(set(required) | set(scheduled))
    items = [
        {
            "process_id": p,
            "start": t,
            "required": required.get((p, t), 0.0),
            "scheduled": scheduled.get((p, t), 0.0),
        }
        for p, t in keys
    ]
    return {"items": items}


@router.post("/schedules/{schedule_id}/publish", response=ScheduleOut)
def schedule_publish(request: HttpRequest, schedule_id: int) -> Schedule:
    principal = principal_of(request)
    schedule = selectors.schedule_get(principal=principal, schedule_id=schedule_id)
    return services.schedule_publish(actor=principal, schedule=schedule)


@router.post("/schedules/{schedule_id}/roster", response=ScheduleOut)
def roster_generate(request: HttpRequest, schedule_id: int) -> Schedule:
    """Give the schedule's shifts to named agents (shifts nobody can take stay unfilled)."""
    principal = principal_of(request)
    schedule = selectors.schedule_get(principal=principal, schedule_id=schedule_id)
    return services.roster_generate(actor=principal, schedule=schedule)


@router.get("/my-shifts", response=Page[ShiftOut])
def my_shifts(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    """The caller's own published shifts from yesterday to two weeks ahead (empty for
    anyone who is not an agent)."""
    principal = principal_of(request)
    worker = worker_selectors.worker_for_principal(principal)
    qs: QuerySet[ScheduledShift] = ScheduledShift.objects.none()
    if worker is not None:
        now = datetime.now(UTC)
        qs = selectors.worker_shifts(
            worker=worker, start=now - timedelta(days=1), end=now + timedelta(days=MY_SHIFTS_DAYS)
        )
    return page(qs, cursor=cursor, limit=limit)


# ---------------------------------------------------------------- shift templates


@router.get("/shift-templates", response=Page[ShiftTemplateOut])
def shift_template_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    qs = selectors.shift_template_list(principal=principal_of(request))
    return page(qs, cursor=cursor, limit=limit)


@router.get("/shift-templates/{template_id}", response=ShiftTemplateOut)
def shift_template_get(request: HttpRequest, template_id: int) -> ShiftTemplate:
    return visibility.get_visible(
        principal_of(request), ShiftTemplate.objects.all(), pk=template_id
    )


@router.post("/shift-templates", response={201: ShiftTemplateOut})
def shift_template_create(request: HttpRequest, payload: ShiftTemplateIn) -> Status[ShiftTemplate]:
    principal = principal_of(request)
    visibility.require(principal, "schedule.manage")
    _provider(principal)
    template = services.shift_template_create(
        actor=principal, provider=principal.organisation, **payload.model_dump()
    )
    return Status(201, template)


# ---------------------------------------------------------------- time off


@router.get("/time-off", response=Page[TimeOffOut])
def time_off_list(
    request: HttpRequest,
    filters: Query[TimeOffFilter],
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    """Planners see every request; anyone else their own only."""
    principal = principal_of(request)
    qs = selectors.time_off_list(principal=principal, status=filters.status)
    if filters.worker_id is not None:
        qs = qs.filter(worker_id=filters.worker_id)
    if not visibility.allowed(principal, "schedule.manage"):
        own = worker_selectors.worker_for_principal(principal)
        qs = qs.filter(worker=own) if own is not None else qs.none()
    return page(qs, cursor=cursor, limit=limit)


@router.post("/time-off", response={201: TimeOffOut})
def time_off_request(request: HttpRequest, payload: TimeOffIn) -> Status[TimeOffRequest]:
    """Ask for time off: for yourself (an agent), or a planner for one of its agents."""
    principal = principal_of(request)
    worker: Worker | None
    if payload.worker_id is None:
        worker = worker_selectors.worker_for_principal(principal)
        if worker is None:
            raise errors.ValidationFailed.single("worker_id", NOT_A_WORKER)
    else:
        worker = resolve(
            visibility.visible(principal, Worker.objects.all()),
            field="worker_id",
            pk=payload.worker_id,
        )
    visibility.require(principal, "time_off.request")
    time_off = services.time_off_request(
        actor=principal, worker=worker, start=payload.start, end=payload.end, reason=payload.reason
    )
    return Status(201, time_off)


def _own_or_planner(principal: Principal, time_off: TimeOffRequest) -> None:
    if visibility.allowed(principal, "schedule.manage"):
        return
    own = principal.user is not None and time_off.worker.user_id == principal.user.pk
    if not own:
        raise errors.NotFound("time off request not found")


@router.get("/time-off/{time_off_id}", response=TimeOffOut)
def time_off_get(request: HttpRequest, time_off_id: int) -> TimeOffRequest:
    principal = principal_of(request)
    time_off = selectors.time_off_get(principal=principal, time_off_id=time_off_id)
    _own_or_planner(principal, time_off)
    return time_off


@router.post("/time-off/{time_off_id}/decide", response=TimeOffOut)
def time_off_decide(
    request: HttpRequest, time_off_id: int, payload: TimeOffDecideIn
) -> TimeOffRequest:
    """Approve or reject; the answer carries the coverage approving costs."""
    principal = principal_of(request)
    time_off = selectors.time_off_get(principal=principal, time_off_id=time_off_id)
    return services.time_off_decide(
        actor=principal, time_off=time_off, approve=payload.decision == "approved"
    )


# ---------------------------------------------------------------- planning rules


@router.get("/site-planning-rules", response=Page[SitePlanningRuleOut])
def site_planning_rule_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    """The rules set per site; a site without one opens all week, 5 days a week and 11
    hours' rest."""
    qs = visibility.visible(principal_of(request), SitePlanningRule.objects.select_related("site"))
    return page(qs, cursor=cursor, limit=limit)


@router.get("/site-planning-rules/{planning_rule_id}", response=SitePlanningRuleOut)
def site_planning_rule_get(request: HttpRequest, planning_rule_id: int) -> SitePlanningRule:
    return visibility.get_visible(
        principal_of(request), SitePlanningRule.objects.select_related("site"), pk=planning_rule_id
    )


@router.put("/sites/{site_id}/planning-rule", response=SitePlanningRuleOut)
def site_planning_rule_set(
    request: HttpRequest, site_id: int, payload: SitePlanningRuleIn
) -> SitePlanningRule:
    """Set (create or replace) the site's rules. Only the site's provider reaches it:
    a client, who may see the site, gets a 404 like anyone else."""
    principal = principal_of(request)
    site = visibility.get_visible(
        principal,
        Site.objects.select_related("provider").filter(provider_id=principal.organisation.pk),
        pk=site_id,
    )
    return services.site_planning_rule_set(
        actor=principal,
        site=site,
        opening_hours=payload.opening_hours,
        max_days_per_week=payload.max_days_per_week,
        min_rest_hours=payload.min_rest_hours,
    )


@router.get("/agent-contracts", response=Page[AgentContractOut])
def agent_contract_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    """The contracted hours set per agent; an agent without a contract works up to 40
    hours a week."""
    qs = visibility.visible(principal_of(request), AgentContract.objects.all())
    return page(qs, cursor=cursor, limit=limit)


@router.get("/agent-contracts/{agent_contract_id}", response=AgentContractOut)
def agent_contract_get(request: HttpRequest, agent_contract_id: int) -> AgentContract:
    return visibility.get_visible(
        principal_of(request), AgentContract.objects.all(), pk=agent_contract_id
    )


@router.put("/workers/{worker_id}/contract", response=AgentContractOut)
def agent_contract_set(
    request: HttpRequest, worker_id: int, payload: AgentContractIn
) -> AgentContract:
    principal = principal_of(request)
    worker = visibility.get_visible(
        principal, Worker.objects.select_related("provider"), pk=worker_id
    )
    return services.agent_contract_set(
        actor=principal, worker=worker, hours_per_week=payload.hours_per_week
    )
