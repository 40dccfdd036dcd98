"""Reads of the twin, always through the visibility rules: scenarios, runs, and the
comparison of runs side by side (an overall table with confidence half widths, and
per-interval series for charts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet

from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import OrganisationKind
from offload.tenancy.visibility import ROLE_REQUIRED, Principal
from offload.twin import live
from offload.twin.engine import model as engine_model
from offload.twin.models import RunStatus, Scenario, ScenarioRun
from offload.twin.visibility_rules import READERS

COMPARE_MAX = 10
TOO_MANY_RUNS = f"compare at most {COMPARE_MAX} runs"
METRIC_LABELS = {
    engine_model.FIRST_RESPONSE: "first response",
    engine_model.TURNAROUND: "turnaround",
}


def require_reader(principal: Principal) -> None:
    """Provider people who plan or run the floor read the twin; a client reads
    nothing of it (its lists are empty, its lookups 404 through the rules)."""
    if principal.is_provider and not principal.has_role(*READERS):
        raise errors.PermissionDenied(ROLE_REQUIRED.format(roles=", ".join(sorted(READERS))))


def live_get(
    *,
    principal: Principal,
    start: datetime | None,
    days: int,
    replay_from: date | datetime | None = None,
    now: datetime | None = None,
) -> live.LiveBuild:
    """The principal's provider's live configuration as an engine scenario (replaying
    the items of a past window with `replay_from`, as scenario_create does)."""
    require_reader(principal)
    visibility.require_side(principal, OrganisationKind.PROVIDER)
    now = now or datetime.now(UTC)
    provider = principal.organisation
    errors.raise_failures([live.replay_problem(provider, replay_from, days, None, now)])
    begin = live.period_start(start or now + live.INTERVAL)
    return live.live_scenario(
        provider=provider, start=begin, days=days, now=now, replay_from=replay_from
    )


def scenario_list(*, principal: Principal) -> QuerySet[Scenario]:
    require_reader(principal)
    return (
        visibility.visible(principal, Scenario.objects.all())
        .annotate(run_count=Count("runs"))
        .order_by("-pk")
    )


def scenario_get(*, principal: Principal, scenario_id: int) -> Scenario:
    require_reader(principal)
    return visibility.get_visible(principal, Scenario.objects.all(), pk=scenario_id)


def run_list(*, principal: Principal, scenario_id: int | None = None) -> QuerySet[ScenarioRun]:
    require_reader(principal)
    qs = visibility.visible(principal, ScenarioRun.objects.select_related("scenario"))
    if scenario_id is not None:
        qs = qs.filter(scenario_id=scenario_id)
    return qs


def run_get(*, principal: Principal, run_id: int) -> ScenarioRun:
    require_reader(principal)
    return visibility.get_visible(
        principal, ScenarioRun.objects.select_related("scenario"), pk=run_id
    )


def runs_get(*, principal: Principal, run_ids: Sequence[int], field: str) -> list[ScenarioRun]:
    """The named runs in the order named, all visible, or a 422 naming `field`."""
    require_reader(principal)
    wanted = list(dict.fromkeys(run_ids))
    if len(wanted) > COMPARE_MAX:
        raise errors.ValidationFailed.single(field, TOO_MANY_RUNS)
    found = {
        r.pk: r
        for r in visibility.visible(
            principal, ScenarioRun.objects.select_related("scenario").filter(pk__in=wanted)
        )
    }
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise errors.ValidationFailed.single(
            field, f"no such run (or not visible to you): {', '.join(map(str, missing))}"
        )
    return [found[pk] for pk in wanted]


# ------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class Cell:
    mean: float | None
    half_width: float | None
    delta: float | None  # mean less the first run's mean


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str  # share | seconds | money | items
    cells: tuple[Cell | None, ...]  # one per run; None when the run has no result


@dataclass(frozen=True)
class Series:
    run_id: int
    label: str
    starts: tuple[str, ...]  # ISO instants of the intervals' starts (UTC)
    service_level: Mapping[str, tuple[float | None, ...]]
    backlog: tuple[float, ...]
    occupancy: Mapping[str, tuple[float | None, ...]]
    asa_s: tuple[float | None, ...] = ()
    abandon_rate: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class Comparison:
    runs: tuple[ScenarioRun, ...]
    rows: tuple[Row, ...]
    series: tuple[Series, ...]
    confidence: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _estimate(raw: Any) -> tuple[float | None, float | None]:
    if not isinstance(raw, Mapping):
        return None, None
    mean, hw = raw.get("mean"), raw.get("half_width")
    return (
        float(mean) if isinstance(mean, int | float) else None,
        float(hw) if isinstance(hw, int | float) else None,
    )


def overall_rows(results: Sequence[Mapping[str, Any] | None]) -> list[Row]:
    """Rows of the overall table: service level per metric, ASA, abandonment,
    occupancy per site, cost per item, and the volumes behind them."""
    overall = [r.get("overall", {}) if r else None for r in results]
    metrics: list[str] = []
    sites: list[str] = []
    for o in overall:
        if o:
            metrics += [m for m in o.get("service_level", {}) if m not in metrics]
            sites += [s for s in o.get("occupancy", {}) if s not in sites]
    specs: list[tuple[str, str, str, tuple[str, ...]]] = [
        (
            f"service_level.{m}",
            f"Service level ({METRIC_LABELS.get(m, m)})",
            "share",
            ("service_level", m),
        )
        for m in metrics
    ]
    specs += [
        ("asa_s", "ASA", "seconds", ("asa_s",)),
        ("abandon_rate", "Abandonment", "share", ("abandon_rate",)),
    ]
    specs += [(f"occupancy.{s}", f"Occupancy {s}", "share", ("occupancy", s)) for s in sites]
    specs += [
        ("cost_per_item", "Cost per item", "money", ("cost_per_item",)),
        ("arrivals", "Items offered", "items", ("arrivals",)),
        ("answered", "Items answered", "items", ("answered",)),
    ]
    rows = []
    for key, label, unit, path in specs:
        cells: list[Cell | None] = []
        first: float | None = None
        for i, o in enumerate(overall):
            if not o:
                cells.append(None)
                continue
            node: Any = o
            for part in path:
                node = node.get(part) if isinstance(node, Mapping) else None
            mean, hw = _estimate(node)
            if i == 0:
                first = mean
            delta = None if i == 0 or mean is None or first is None else mean - first
            cells.append(Cell(mean, hw, delta))
        rows.append(Row(key, label, unit, tuple(cells)))
    return rows


def _start(run: ScenarioRun) -> datetime:
    built = run.scenario.built or {}
    try:
        return datetime.fromtimestamp(engine_model.start_epoch(built.get("start", 0)), tz=UTC)
    except ValueError:
        return run.scenario.start


def _series(run: ScenarioRun) -> Series | None:
    result = run.result or {}
    intervals = result.get("intervals") or []
    if not intervals:
        return None
    start = _start(run)
    metrics: list[str] = []
    sites: list[str] = []
    for i in intervals:
        metrics += [m for m in i.get("service_level", {}) if m not in metrics]
        sites += [s for s in i.get("occupancy", {}) if s not in sites]
    return Series(
        run_id=run.pk,
        label=f"#{run.pk} {run.scenario.name}",
        starts=tuple(
            (start + timedelta(seconds=float(i.get("start_s", 0)))).isoformat() for i in intervals
        ),
        service_level={
            m: tuple(i.get("service_level", {}).get(m) for i in intervals) for m in metrics
        },
        backlog=tuple(float(i.get("backlog", 0) or 0) for i in intervals),
        occupancy={s: tuple(i.get("occupancy", {}).get(s) for i in intervals) for s in sites},
        asa_s=tuple(i.get("asa_s") for i in intervals),
        abandon_rate=tuple(i.get("abandon_rate") for i in intervals),
    )


NOT_FINISHED = "run #{id} is {status}: it has no figures yet"


def runs_compare(*, principal: Principal, runs: Sequence[ScenarioRun]) -> Comparison:
    """The runs side by side; the first is the baseline the deltas are taken from.
    Runs that did not succeed have empty cells (and a note)."""
    require_reader(principal)
    results = [r.result if r.status == RunStatus.SUCCEEDED and r.result else None for r in runs]
    notes = tuple(
        NOT_FINISHED.format(id=r.pk, status=r.status)
        for r, res in zip(runs, results, strict=True)
        if res is None
    )
    confidence = next(
        (float(res["confidence"]) for res in results if res and "confidence" in res), None
    )
    series = tuple(s for r, res in zip(runs, results, strict=True) if res and (s := _series(r)))
    return Comparison(
        runs=tuple(runs),
        rows=tuple(overall_rows(results)),
        series=series,
        confidence=confidence,
        notes=notes,
    )
