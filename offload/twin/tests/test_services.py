"""offload/twin/services.py: scenarios, runs as tasks (the immediate backend in
tests), sweeps, and runs lost with their worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from offload.core import errors
from offload.tenancy.tests.factories import make_client, make_principal, make_provider
from offload.twin import engine as twin_engine
from offload.twin import services
from offload.twin.models import RunStatus, ScenarioRun, ScenarioSource
from offload.twin.tests.factories import START, make_live, make_scenario, tiny_scenario

pytestmark = pytest.mark.django_db


def test_a_scenario_from_live_keeps_the_snapshot_and_the_changes_made():
    # given
    world = make_live()
    planner = make_principal(world.provider, "wfm_planner")
    # when
    scenario = services.scenario_create(
        actor=planner,
        provider=world.provider,
        name="Five more in Monterrey",
        start=START,
        days=1,
        changes=[{"kind": "add_agents", "count": 5, "site": "Monterrey", "like": world.sofia.pk}],
        now=START,
    )
    # then
    assert scenario.source == ScenarioSource.LIVE
    assert scenario.start == START
    assert len(scenario.base["agents"]) == 2
    assert len(scenario.built["agents"]) == 7
    assert scenario.built["name"] == "Five more in Monterrey"
    assert scenario.changes == [
        {"kind": "add_agents", "count": 5, "site": "Monterrey", "like": world.sofia.pk}
    ]
    assert scenario.created_by == planner.user


def test_a_bad_change_is_a_422_naming_its_field():
    # given
    world = make_live()
    # when / then
    with pytest.raises(errors.ValidationFailed) as caught:
        make_scenario(
            world.provider, changes=[{"kind": "remove_agents", "site": "Cebu", "count": 1}]
        )
    assert [e.field for e in caught.value.errors] == ["changes[0].site"]


def test_an_uploaded_scenario_is_taken_as_it_is_and_a_bad_one_names_the_scenario():
    # given
    provider = make_provider()
    # when
    scenario = make_scenario(
        provider, uploaded=tiny_scenario(), changes=[{"kind": "aht", "percent": 50}]
    )
    # then
    assert scenario.source == ScenarioSource.UPLOAD
    assert scenario.built["processes"][0]["aht_s"] == 180.0
    assert scenario.base["processes"][0]["aht_s"] == 120.0
    for bad in ({"processes": [{"id": 1}]}, {**tiny_scenario(), "start": "Monday"}):
        with pytest.raises(errors.ValidationFailed) as caught:
            make_scenario(provider, uploaded=bad)
        assert [e.field for e in caught.value.errors] == ["scenario"]


@pytest.mark.parametrize("role", ["team_lead", "agent"])
def test_only_planners_ops_managers_and_admins_make_scenarios(role):
    # given
    provider = make_provider()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.scenario_create(
            actor=make_principal(provider, role), provider=provider, name="No", days=1
        )


def test_a_client_makes_no_scenario():
    client = make_client()
    with pytest.raises(errors.PermissionDenied):
        services.scenario_create(
            actor=make_principal(client, "client_admin"), provider=client, name="No", days=1
        )


def test_a_run_through_the_task_stores_its_result_and_full_progress():
    # given
    scenario = make_scenario(make_provider(), uploaded=tiny_scenario())
    # when
    run = services.scenario_run(actor=None, scenario=scenario, replications=3)
    # then
    assert run.status == RunStatus.SUCCEEDED
    assert run.progress == 1.0
    assert run.replications == 3
    assert run.started_at is not None
    assert run.finished_at is not None
    assert run.task_id
    assert run.result is not None
    assert run.result["overall"]["arrivals"]["mean"] == 40.0
    assert len(run.result["replications"]) == 3
    assert run.error == ""


def test_progress_is_written_into_the_row_while_it_runs(monkeypatch):
    # given: the engine reports progress; the row is read as it is written
    scenario = make_scenario(make_provider(), uploaded=tiny_scenario())
    seen: list[float] = []
    real_run = twin_engine.run

    def watching(s, *, progress=None):
        def report(fraction: float) -> None:
            progress(fraction)
            seen.append(ScenarioRun.objects.get(scenario=scenario).progress)

        return real_run(s, progress=report)

    monkeypatch.setattr(twin_engine, "run", watching)
    # when
    services.scenario_run(actor=None, scenario=scenario)
    # then: written at least every PROGRESS_STEP, never backwards, ending at 1
    assert seen
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_a_failing_run_stores_its_error(monkeypatch):
    # given
    scenario = make_scenario(make_provider(), uploaded=tiny_scenario())

    def broken(s, *, progress=None):
        raise ValueError("replications must be at least 1")

    monkeypatch.setattr(twin_engine, "run", broken)
    # when
    run = services.scenario_run(actor=None, scenario=scenario)
    # then
    assert run.status == RunStatus.FAILED
    assert run.error == "ValueError: replications must be at least 1"
    assert run.result is None
    assert run.finished_at is not None


def test_a_sweep_makes_one_run_and_one_task_per_entry():
    # given
    provider = make_provider()
    a = make_scenario(provider, name="A", uploaded=tiny_scenario())
    b = make_scenario(provider, name="B", uploaded=tiny_scenario(agents=3))
    # when
    runs = services.scenario_sweep(actor=None, entries=[(a, None), (b, None), (a, 7)])
    # then
    assert [(r.scenario_id, r.seed) for r in runs] == [(a.pk, 1), (b.pk, 1), (a.pk, 7)]
    assert len({r.task_id for r in runs}) == 3
    assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
    # the same scenario and seed give the same figures; another seed other ones
    first, again = runs[0].result, runs[2].result
    assert first is not None
    assert again is not None
    assert first["overall"] != again["overall"]


def _stuck(scenario, *, attempt: int) -> ScenarioRun:
    """A run its worker left running an hour ago."""
    long_ago = timezone.now() - timedelta(hours=1)
    return ScenarioRun.objects.create(
        provider=scenario.provider,
        scenario=scenario,
        status=RunStatus.RUNNING,
        seed=1,
        replications=2,
        attempt=attempt,
        enqueued_at=long_ago,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )


def test_a_run_whose_worker_died_is_queued_again_as_a_new_attempt():
    # given
    scenario = make_scenario(make_provider(), uploaded=tiny_scenario())
    stuck = _stuck(scenario, attempt=1)
    # when
    handled = services.runs_recover(timezone.now())
    # then: a new attempt, run (immediately in tests) to the end
    stuck.refresh_from_db()
    assert handled == 1
    assert stuck.attempt == 2
    assert stuck.status == RunStatus.SUCCEEDED
    assert stuck.progress == 1.0


def test_a_run_lost_too_often_is_failed_and_a_fresh_one_left_alone():
    # given
    scenario = make_scenario(make_provider(), uploaded=tiny_scenario())
    lost = _stuck(scenario, attempt=services.MAX_ATTEMPTS)
    fresh = _stuck(scenario, attempt=1)
    ScenarioRun.objects.filter(pk=fresh.pk).update(heartbeat_at=timezone.now())
    # when
    services.runs_recover(timezone.now())
    # then
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == RunStatus.FAILED
    assert lost.error == services.LOST_WORKER.format(n=services.MAX_ATTEMPTS)
    assert (fresh.status, fresh.attempt) == (RunStatus.RUNNING, 1)


def test_a_task_of_an_older_attempt_stops_without_writing():
    # given: the run was queued again (attempt 2) while attempt 1's task still ran
    scenario = make_scenario(make_provider(), uploaded=tiny_scenario())
    run = _stuck(scenario, attempt=2)
    # when
    outcome = services.scenario_run_execute(run_id=run.pk, attempt=1)
    writer = services.ProgressWriter(run.pk, 1)
    # then
    assert outcome == "skipped"
    with pytest.raises(services.RunSuperseded):
        writer(0.5)
    run.refresh_from_db()
    assert (run.status, run.progress, run.result) == (RunStatus.RUNNING, 0.0, None)
