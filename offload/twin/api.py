"""/api/v1 routes of the digital twin: scenarios and their runs.

`GET/POST /twin/scenarios`, `GET /twin/scenarios/{scenario_id}`,
`POST /twin/scenarios/{scenario_id}/run`, `GET /twin/runs`, `GET /twin/runs/{run_id}`
(with its progress and result), `GET /twin/runs/{run_id}/compare?runs=2,3` (that run
and others side by side), `POST /twin/sweeps` (many scenarios, one task each) and
`POST /twin/live` (the live configuration as an engine scenario file; nothing stored).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from offload.core import errors
from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page
from offload.tenancy.api import principal_of
from offload.twin import selectors, services
from offload.twin.models import Scenario, ScenarioRun
from offload.twin.schemas import (
    ComparisonOut,
    LiveIn,
    RunDetailOut,
    RunIn,
    RunOut,
    ScenarioDetailOut,
    ScenarioIn,
    ScenarioOut,
    SweepIn,
    SweepOut,
)

router = Router(tags=["twin"])

NO_SUCH_SCENARIO = "no such scenario (or not visible to you)"
BAD_RUN_LIST = "a comma-separated list of run ids, e.g. 2,3"


@router.get("/twin/scenarios", response=Page[ScenarioOut])
def scenario_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    qs = selectors.scenario_list(principal=principal_of(request))
    return page(qs, cursor=cursor, limit=limit)


@router.post("/twin/scenarios", response={201: ScenarioDetailOut})
def scenario_create(request: HttpRequest, payload: ScenarioIn) -> Status[Scenario]:
    """From the live configuration of a period (or an uploaded engine scenario),
    with changes made to it."""
    principal = principal_of(request)
    scenario = services.scenario_create(
        actor=principal,
        provider=principal.organisation,
        name=payload.name,
        description=payload.description,
        start=payload.start,
        days=payload.days,
        changes=[c.as_change() for c in payload.changes],
        seed=payload.seed,
        replications=payload.replications,
        uploaded=payload.scenario,
        replay_from=payload.replay_from,
    )
    return Status(201, scenario)


@router.get("/twin/scenarios/{scenario_id}", response=ScenarioDetailOut)
def scenario_get(request: HttpRequest, scenario_id: int) -> Scenario:
    return selectors.scenario_get(principal=principal_of(request), scenario_id=scenario_id)


@router.post("/twin/scenarios/{scenario_id}/run", response={202: RunOut})
def scenario_run(request: HttpRequest, scenario_id: int, payload: RunIn) -> Status[ScenarioRun]:
    """Queue a run; poll `GET /twin/runs/{run_id}` for its progress and result."""
    principal = principal_of(request)
    scenario = selectors.scenario_get(principal=principal, scenario_id=scenario_id)
    run = services.scenario_run(
        actor=principal, scenario=scenario, seed=payload.seed, replications=payload.replications
    )
    return Status(202, run)


@router.post("/twin/sweeps", response={202: SweepOut})
def scenario_sweep(request: HttpRequest, payload: SweepIn) -> Status[dict[str, Any]]:
    """One run per scenario, each its own background task."""
    principal = principal_of(request)
    wanted = [r.scenario_id for r in payload.runs]
    found = {s.pk: s for s in selectors.scenario_list(principal=principal).filter(pk__in=wanted)}
    errors.raise_failures(
        (f"runs[{i}].scenario_id", None if pk in found else NO_SUCH_SCENARIO)
        for i, pk in enumerate(wanted)
    )
    runs = services.scenario_sweep(
        actor=principal,
        entries=[(found[r.scenario_id], r.seed) for r in payload.runs],
        replications=payload.replications,
    )
    return Status(202, {"runs": runs})


@router.get("/twin/runs", response=Page[RunOut])
def run_list(
    request: HttpRequest,
    scenario_id: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.run_list(principal=principal_of(request), scenario_id=scenario_id)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/twin/runs/{run_id}", response=RunDetailOut)
def run_get(request: HttpRequest, run_id: int) -> ScenarioRun:
    return selectors.run_get(principal=principal_of(request), run_id=run_id)


def _run_ids(raw: str) -> list[int]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not all(p.isdigit() and len(p) <= 18 for p in parts):
        raise errors.ValidationFailed.single("runs", BAD_RUN_LIST)
    return [int(p) for p in parts]


@router.get("/twin/runs/{run_id}/compare", response=ComparisonOut)
def run_compare(request: HttpRequest, run_id: int, runs: str = "") -> selectors.Comparison:
    """This run (the baseline) and `runs` side by side: the overall figures with
    their confidence half widths and deltas to the baseline, and per-interval series."""
    principal = principal_of(request)
    base = selectors.run_get(principal=principal, run_id=run_id)
    others = selectors.runs_get(
        principal=principal, run_ids=[r for r in _run_ids(runs) if r != base.pk], field="runs"
    )
    return selectors.runs_compare(principal=principal, runs=[base, *others])


@router.post("/twin/live", response=dict[str, Any])
def live_export(request: HttpRequest, payload: LiveIn) -> dict[str, Any]:
    """The live configuration of a period as an engine scenario (what `offload twin
    export` writes), with the notes on how it was built. Nothing is stored."""
    principal = principal_of(request)
    build = selectors.live_get(
        principal=principal,
        start=payload.start,
        days=payload.days,
        replay_from=payload.replay_from,
    )
    return {"scenario": build.scenario.to_dict(), "notes": list(build.notes)}
