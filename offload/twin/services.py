"""Writes of the digital twin: scenarios, their runs as background tasks, sweeps.

- `scenario_create` builds a scenario from the live configuration (offload.twin.live)
  or from an uploaded engine scenario, makes its changes (offload.twin.changes) and
  stores both the base and the built engine scenario.
- `scenario_run` creates a `ScenarioRun` and enqueues its task in the same
  transaction (django-tasks-db keeps the task in the database, so the two commit
  together); `scenario_sweep` does so for many scenarios, one task each, so every
  task worker takes its share.
- `scenario_run_execute` is the task's body: it claims the run (queued -> running,
  for this attempt only), simulates the built scenario, writes the progress into the
  row every few percent (with a heartbeat) and stores the result or the error.
- `runs_recover` (the `twin.run_recovery` sweep): a run whose heartbeat is older than
  `OFFLOAD_JOB_STALE_SECONDS` lost its worker; it is queued again as a new attempt,
  up to `MAX_ATTEMPTS`, then marked failed. A task of an older attempt finds the
  run moved on and stops without writing.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from offload.core import errors, sweeps
from offload.tenancy import audit, visibility
from offload.tenancy.models import Organisation, OrganisationKind
from offload.tenancy.visibility import Principal
from offload.twin import changes as twin_changes
from offload.twin import engine, live, tasks
from offload.twin.engine import model as engine_model
from offload.twin.models import RunStatus, Scenario, ScenarioRun, ScenarioSource
from offload.twin.visibility_rules import MANAGE

logger = logging.getLogger(__name__)

NAME_MAX = 200
DESCRIPTION_MAX = 5000
DAYS_MAX = 31
REPLICATIONS_MAX = 100
SEED_MAX = 2**31 - 1
SWEEP_MAX = 50
CHANGES_MAX = 50
MAX_ATTEMPTS = 3
# Progress is written when it moved this much, or this long after the last write.
PROGRESS_STEP = 0.02
PROGRESS_SECONDS = 5.0
RECOVERY_BATCH = 50

NAME_REQUIRED = "a scenario needs a name"
TOO_LONG = "at most {n} characters"
OUT_OF_RANGE = "must be from {lo} to {hi}"
BAD_SCENARIO = "not an engine scenario: {reason}"
NO_SCENARIOS = "name at least one scenario"
TOO_MANY = "at most {n}"
LOST_WORKER = "the task worker running it stopped {n} times; giving up"
SUPERSEDED = "the run was queued again meanwhile"
FIELDS = ["name", "description", "source", "start", "days", "changes", "seed", "replications"]


def _require_manager(actor: Principal | None) -> None:
    if actor is not None:
        visibility.require(actor, MANAGE)
        visibility.require_side(actor, OrganisationKind.PROVIDER)


def _range(field: str, value: int, lo: int, hi: int) -> tuple[str, str | None]:
    ok = not isinstance(value, bool) and isinstance(value, int) and lo <= value <= hi
    return field, None if ok else OUT_OF_RANGE.format(lo=lo, hi=hi)


def _uploaded(raw: Mapping[str, Any]) -> engine_model.Scenario:
    try:
        scenario = engine_model.Scenario.from_dict(raw)
        scenario.start_epoch()
    except KeyError as exc:
        raise errors.ValidationFailed.single(
            "scenario", BAD_SCENARIO.format(reason=f"{exc.args[0]} is missing")
        ) from exc
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise errors.ValidationFailed.single("scenario", BAD_SCENARIO.format(reason=exc)) from exc
    if scenario.horizon_s is None and scenario.max_arrivals is None and scenario.replay is None:
        raise errors.ValidationFailed.single(
            "scenario", BAD_SCENARIO.format(reason=engine_model.NO_HORIZON)
        )
    return scenario


def scenario_build(
    base: engine_model.Scenario,
    raw_changes: Sequence[Any],
    *,
    name: str,
    seed: int,
    replications: int,
) -> tuple[engine_model.Scenario, list[dict[str, Any]]]:
    """The base with the changes made, named and seeded; the changes as stored.
    The changes are made on the base with `seed`, so a `volume` change on a replay
    thins or copies its arrivals by the scenario's seed. A bad change is a 422
    naming `changes[i].field`."""
    try:
        applied = twin_changes.apply_all(dataclasses.replace(base, seed=seed), raw_changes)
    except twin_changes.ChangeError as exc:
        raise errors.ValidationFailed.single(exc.field, exc.message) from exc
    built = dataclasses.replace(applied.scenario, name=name, seed=seed, replications=replications)
    return built, [twin_changes.to_dict(c) for c in applied.changes]


@transaction.atomic
def scenario_create(
    *,
    actor: Principal | None,
    provider: Organisation,
    name: str,
    description: str = "",
    start: datetime | None = None,
    days: int = 7,
    changes: Sequence[Any] = (),
    seed: int = 1,
    replications: int = 5,
    uploaded: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    replay_from: date | datetime | None = None,
) -> Scenario:
    """A scenario from the live configuration of `days` days from `start` (the next
    30-minute interval if not given), or from an uploaded engine scenario, with
    `changes` made to it. With `replay_from` (a date: midnight in the provider's
    zone), the live configuration's arrivals are the items created in the `days`
    days from it, replayed (offload.twin.live); that window must be over."""
    _require_manager(actor)
    name = (name or "").strip()
    errors.raise_failures(
        [
            ("name", None if name else NAME_REQUIRED),
            ("name", TOO_LONG.format(n=NAME_MAX) if len(name) > NAME_MAX else None),
            (
                "description",
                TOO_LONG.format(n=DESCRIPTION_MAX) if len(description) > DESCRIPTION_MAX else None,
            ),
            _range("days", days, 1, DAYS_MAX),
            _range("seed", seed, 0, SEED_MAX),
            _range("replications", replications, 1, REPLICATIONS_MAX),
            ("changes", TOO_MANY.format(n=CHANGES_MAX) if len(changes) > CHANGES_MAX else None),
        ]
    )
    now = now or timezone.now()
    errors.raise_failures([live.replay_problem(provider, replay_from, days, uploaded, now)])
    notes: list[str] = []
    if uploaded is not None:
        base = _uploaded(uploaded)
        source = ScenarioSource.UPLOAD
        begin = datetime.fromtimestamp(base.start_epoch(), tz=UTC)
        if base.horizon_s:
            days = max(1, min(DAYS_MAX, math.ceil(base.horizon_s / 86_400)))
    else:
        begin = live.period_start(start or now + live.INTERVAL)
        build = live.live_scenario(
            provider=provider, start=begin, days=days, name=name, now=now, replay_from=replay_from
        )
        base, notes, source = build.scenario, list(build.notes), ScenarioSource.LIVE
    built, stored_changes = scenario_build(
        base, changes, name=name, seed=seed, replications=replications
    )
    scenario = Scenario.objects.create(
        provider=provider,
        name=name,
        description=description,
        source=source,
        start=begin,
        days=days,
        changes=stored_changes,
        base=base.to_dict(),
        built=built.to_dict(),
        notes=notes,
        seed=seed,
        replications=replications,
        created_by=actor.user if actor is not None else None,
    )
    audit.record_created(
        organisation=provider,
        actor=actor,
        action="twin.scenario.create",
        obj=scenario,
        fields=FIELDS,
    )
    return scenario


# ------------------------------------------------------------------ runs


def _enqueue(run: ScenarioRun) -> None:
    result = tasks.scenario_run_task.enqueue(run.pk, run.attempt)
    ScenarioRun.objects.filter(pk=run.pk).update(task_id=str(result.id)[:64])


def _new_run(
    actor: Principal | None, scenario: Scenario, seed: int | None, replications: int | None
) -> ScenarioRun:
    errors.raise_failures(
        [
            _range("seed", seed, 0, SEED_MAX) if seed is not None else ("seed", None),
            _range("replications", replications, 1, REPLICATIONS_MAX)
            if replications is not None
            else ("replications", None),
        ]
    )
    run = ScenarioRun.objects.create(
        provider_id=scenario.provider_id,
        scenario=scenario,
        seed=scenario.seed if seed is None else seed,
        replications=scenario.replications if replications is None else replications,
        enqueued_at=timezone.now(),
        created_by=actor.user if actor is not None else None,
    )
    audit.record_created(
        organisation=scenario.provider,
        actor=actor,
        action="twin.run.create",
        obj=run,
        fields=["scenario_id", "seed", "replications"],
    )
    return run


@transaction.atomic
def scenario_run(
    *,
    actor: Principal | None,
    scenario: Scenario,
    seed: int | None = None,
    replications: int | None = None,
) -> ScenarioRun:
    """Queue one run of the scenario (its own seed and replications unless given)."""
    _require_manager(actor)
    run = _new_run(actor, scenario, seed, replications)
    _enqueue(run)
    run.refresh_from_db()
    return run


@transaction.atomic
def scenario_sweep(
    *,
    actor: Principal | None,
    entries: Sequence[tuple[Scenario, int | None]],
    replications: int | None = None,
) -> list[ScenarioRun]:
    """One run per (scenario, seed) entry, each its own task: the task workers share
    them. A seed of None is the scenario's own."""
    _require_manager(actor)
    errors.raise_failures(
        [
            ("runs", None if entries else NO_SCENARIOS),
            ("runs", TOO_MANY.format(n=SWEEP_MAX) if len(entries) > SWEEP_MAX else None),
        ]
    )
    runs = [_new_run(actor, scenario, seed, replications) for scenario, seed in entries]
    for run in runs:
        _enqueue(run)
    for run in runs:
        run.refresh_from_db()
    return runs


class RunSuperseded(Exception):
    """The run was queued again (or finished) while this task ran it: stop."""


class ProgressWriter:
    """The engine's progress callback: writes the fraction and a heartbeat into the
    run every PROGRESS_STEP, or PROGRESS_SECONDS after the last write."""

    def __init__(self, run_id: int, attempt: int) -> None:
        self.run_id, self.attempt = run_id, attempt
        self.written = 0.0
        self.at = time.monotonic()

    def __call__(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        moved = fraction - self.written >= PROGRESS_STEP
        if not moved and time.monotonic() - self.at < PROGRESS_SECONDS:
            return
        updated = ScenarioRun.objects.filter(
            pk=self.run_id, attempt=self.attempt, status=RunStatus.RUNNING
        ).update(progress=fraction, heartbeat_at=timezone.now())
        if not updated:
            raise RunSuperseded(SUPERSEDED)
        self.written, self.at = fraction, time.monotonic()


def _finish(run_id: int, attempt: int, **fields: Any) -> int:
    return ScenarioRun.objects.filter(pk=run_id, attempt=attempt, status=RunStatus.RUNNING).update(
        finished_at=timezone.now(), **fields
    )


def scenario_run_execute(*, run_id: int, attempt: int) -> str:
    """The task's body: claim the run for this attempt, simulate, store the outcome.
    Returns the status it left (or "skipped" when the run was not this task's)."""
    now = timezone.now()
    claimed = ScenarioRun.objects.filter(
        pk=run_id, attempt=attempt, status=RunStatus.QUEUED
    ).update(status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, progress=0.0)
    if not claimed:
        return "skipped"
    run = ScenarioRun.objects.select_related("scenario").get(pk=run_id)
    try:
        scenario = engine_model.Scenario.from_dict(
            {**run.scenario.built, "seed": run.seed, "replications": run.replications}
        )
        result = engine.run(scenario, progress=ProgressWriter(run_id, attempt))
    except RunSuperseded:
        return "skipped"
    except Exception as exc:  # any failure of the simulation is the run's, not the worker's
        logger.exception("twin run %s failed", run_id)
        _finish(run_id, attempt, status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        return RunStatus.FAILED
    _finish(run_id, attempt, status=RunStatus.SUCCEEDED, progress=1.0, result=result.to_dict())
    return RunStatus.SUCCEEDED


@sweeps.register("twin.run_recovery")
def runs_recover(now: datetime) -> int:
    """Runs left running by a worker that died: queued again, or failed after
    MAX_ATTEMPTS."""
    with transaction.atomic():
        stale = sweeps.claim_stale(
            ScenarioRun.objects.filter(status=RunStatus.RUNNING),
            field="heartbeat_at",
            now=now,
            limit=RECOVERY_BATCH,
        )
        requeued = []
        for run in stale:
            if run.attempt >= MAX_ATTEMPTS:
                run.status, run.finished_at = RunStatus.FAILED, now
                run.error = LOST_WORKER.format(n=run.attempt)
                run.save(update_fields=["status", "finished_at", "error", "updated_at"])
                continue
            run.attempt += 1
            run.status, run.progress = RunStatus.QUEUED, 0.0
            run.started_at = run.heartbeat_at = None
            run.enqueued_at = now
            run.save(
                update_fields=[
                    "attempt",
                    "status",
                    "progress",
                    "started_at",
                    "heartbeat_at",
                    "enqueued_at",
                    "updated_at",
                ]
            )
            requeued.append(run)
        for run in requeued:
            _enqueue(run)
    return len(stale)
