"""Generating, solving, publishing and rostering schedules against the database, and
the contract the rest of Offload reads (`scheduled_coverage`, `scheduled_shifts`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import make_user
from offload.workers.tests.factories import make_agent
from offload.workforce import (
    forecast_selectors,
    schedule_selectors,
    schedule_services,
    schedule_sweep,
    schedule_tasks,
    scheduling,
)
from offload.workforce.models import (
    AgentContract,
    Schedule,
    ScheduledShift,
    ScheduleStatus,
    SolveState,
    TimeOffRequest,
    TimeOffStatus,
)
from offload.workforce.tests.factories import make_forecast
from offload.workforce.tests.schedule_factories import (
    MONDAY_9_MANILA,
    ONE_WORKER,
    make_floor,
    make_schedule,
    nine_to_five,
)

pytestmark = pytest.mark.django_db


def fields_of(exc: errors.ValidationFailed) -> list[str]:
    return [e.field for e in exc.errors]


def test_a_solve_whose_worker_died_is_solved_again_then_failed_after_three_tries():
    # given a schedule left solving by a worker that died 20 minutes ago
    floor = make_floor()
    schedule = make_schedule(floor, agents=2)
    assert schedule.attempts == 1
    Schedule.objects.filter(pk=schedule.pk).update(solve_state=SolveState.RUNNING)
    later = timezone.now() + timedelta(minutes=20)
    # when the recovery sweep runs (the immediate backend solves it at once)
    assert schedule_sweep.schedules_recover(later) == 1
    # then it is solved again, with the options it was generated with
    schedule.refresh_from_db()
    assert (schedule.solve_state, schedule.attempts, schedule.shift_count) == ("solved", 2, 2)
    # given it died on its third try
    Schedule.objects.filter(pk=schedule.pk).update(solve_state=SolveState.RUNNING, attempts=3)
    # when
    schedule_sweep.schedules_recover(later)
    # then it is failed, saying why, instead of looping
    schedule.refresh_from_db()
    assert schedule.solve_state == SolveState.FAILED
    assert schedule.solve_error == schedule_sweep.LOST_WORKER.format(n=3)
    # and a solve still within its time is left alone
    Schedule.objects.filter(pk=schedule.pk).update(solve_state=SolveState.RUNNING)
    assert schedule_sweep.schedules_recover(timezone.now()) == 0


def test_a_task_for_a_schedule_another_task_took_does_nothing():
    # given a schedule being solved by another task
    schedule = make_schedule(make_floor(), agents=2)
    Schedule.objects.filter(pk=schedule.pk).update(solve_state=SolveState.RUNNING)
    # when a second task for it starts
    outcome = schedule_tasks.schedule_solve_task.call(schedule.pk, 1, 1, 5.0)
    # then it skips it
    assert outcome == {"schedule_id": schedule.pk, "skipped": True}


def test_a_slow_solve_taken_for_dead_does_not_write_over_the_next_one(monkeypatch):
    # given: a queued schedule whose solve, while it runs, is taken for dead and
    # claimed by a second attempt
    schedule = make_schedule(make_floor(), agents=2)
    Schedule.objects.filter(pk=schedule.pk).update(
        solve_state=SolveState.QUEUED, attempts=0, shift_count=0
    )
    ScheduledShift.objects.filter(schedule=schedule).delete()
    solve = scheduling.solve

    def taken_over(problem: Any) -> Any:
        Schedule.objects.filter(pk=schedule.pk).update(attempts=2)
        return solve(problem)

    monkeypatch.setattr(scheduling, "solve", taken_over)
    # when: the first attempt's task finishes
    schedule_tasks.schedule_solve_task.call(schedule.pk, 1, 1, 5.0)
    # then: it wrote nothing; the schedule is the second attempt's, still running
    schedule.refresh_from_db()
    assert (schedule.solve_state, schedule.attempts, schedule.shift_count) == ("running", 2, 0)
    assert not ScheduledShift.objects.filter(schedule=schedule).exists()


def test_generate_solves_in_the_task_and_stores_shifts_and_totals():
    # given a site of three agents and two wanted 09:00-17:00 Monday
    floor = make_floor()

    # when a schedule is generated (the immediate task backend solves it at once)
    schedule = make_schedule(floor, agents=2)

    # then it is solved: two 8-hour shifts from 01:00 UTC, 160.00 at 10.00 an hour
    assert schedule.solve_state == SolveState.SOLVED
    assert schedule.solver_status == "OPTIMAL"
    assert schedule.status == ScheduleStatus.DRAFT
    shifts = list(ScheduledShift.objects.filter(schedule=schedule))
    assert [(s.start, s.end, s.process_id, s.worker_id) for s in shifts] == [
        (MONDAY_9_MANILA, MONDAY_9_MANILA + timedelta(hours=8), floor.process.pk, None)
    ] * 2
    assert (schedule.shift_count, schedule.under_staffed) == (2, 0)
    assert schedule.total_cost == Decimal("160.00")
    assert schedule.cost_per_site == {str(floor.site.pk): "160.00"}
    assert len(schedule.requirements) == 16
    assert AuditEvent.objects.filter(
        action="schedule.generate", object_id=str(schedule.pk)
    ).exists()


def test_generate_reads_the_forecasts_when_no_requirements_are_given(monkeypatch):
    # given forecasts that want one agent 09:00-17:00 Monday
    floor = make_floor()
    rows = [
        forecast_selectors.IntervalRequirement(r.process_id, r.start, 10.0, 300.0, 1, 1)
        for r in nine_to_five(floor.process)
    ]
    asked = {}

    def staffing_requirements(**kwargs):
        asked.update(kwargs)
        return rows

    monkeypatch.setattr(forecast_selectors, "staffing_requirements", staffing_requirements)

    # when a schedule is generated without requirements
    schedule = schedule_services.schedule_generate(
        actor=None, provider=floor.provider, start=MONDAY_9_MANILA, days=1, options=ONE_WORKER
    )

    # then the forecasts' horizon was asked for and one shift covers it
    assert (asked["start"], asked["end"]) == (MONDAY_9_MANILA, MONDAY_9_MANILA + timedelta(days=1))
    assert schedule.shift_count == 1
    assert schedule.under_staffed == 0


def test_generate_without_requirements_or_forecasts_is_refused(monkeypatch):
    # given no forecasts
    floor = make_floor()
    monkeypatch.setattr(forecast_selectors, "staffing_requirements", lambda **kw: [])

    # when / then a schedule without requirements is a 422 naming them
    with pytest.raises(errors.ValidationFailed) as caught:
        schedule_services.schedule_generate(
            actor=None, provider=floor.provider, start=MONDAY_9_MANILA, days=1
        )
    assert fields_of(caught.value) == ["requirements"]


def test_bad_horizons_and_requirements_name_their_fields():
    floor = make_floor()
    # an unaligned start and no days
    with pytest.raises(errors.ValidationFailed) as caught:
        schedule_services.schedule_generate(
            actor=None,
            provider=floor.provider,
            start=MONDAY_9_MANILA + timedelta(minutes=10),
            days=0,
            requirements=[],
        )
    assert fields_of(caught.value) == ["start", "days"]
    # a requirement outside the horizon
    late = schedule_services.Requirement(floor.process.pk, MONDAY_9_MANILA + timedelta(days=2), 1)
    with pytest.raises(errors.ValidationFailed) as caught:
        schedule_services.schedule_generate(
            actor=None, provider=floor.provider, start=MONDAY_9_MANILA, days=1, requirements=[late]
        )
    assert fields_of(caught.value) == ["requirements[0].start"]


def test_agents_below_the_process_skill_level_are_no_headcount():
    # given a site whose only agents have billing 1 where the process needs 2
    floor = make_floor(agents=0)
    make_agent(floor.provider, site=floor.site, skills={"billing": 1}, processes=[floor.process])

    # when scheduled
    schedule = make_schedule(floor)

    # then nobody is scheduled and the whole day is reported short
    assert schedule.shift_count == 0
    assert schedule.under_staffed == 16
    assert schedule.solve_state == SolveState.SOLVED


def test_only_planners_generate():
    floor = make_floor()
    agent = visibility.principal_for_user(floor.agents[0].user)
    with pytest.raises(errors.PermissionDenied):
        schedule_services.schedule_generate(
            actor=agent,
            provider=floor.provider,
            start=MONDAY_9_MANILA,
            days=1,
            requirements=nine_to_five(floor.process),
        )
    planner = visibility.principal_for_user(make_user(floor.provider, "wfm_planner"))
    schedule = schedule_services.schedule_generate(
        actor=planner,
        provider=floor.provider,
        start=MONDAY_9_MANILA,
        days=1,
        requirements=nine_to_five(floor.process),
        options=ONE_WORKER,
    )
    assert schedule.created_by == planner.user  # type: ignore[union-attr]


def test_published_shifts_are_what_the_contract_reads_with_breaks_off():
    # given a template with a 30-minute break 3-5 hours in, one agent wanted all day
    floor = make_floor(break_minutes=30)
    schedule = make_schedule(floor)
    day = (MONDAY_9_MANILA, MONDAY_9_MANILA + timedelta(days=1))

    # then nothing is read before it is published
    assert (
        schedule_selectors.scheduled_coverage(provider=floor.provider, start=day[0], end=day[1])
        == {}
    )

    # when published
    schedule_services.schedule_publish(actor=None, schedule=schedule)

    # then the coverage counts every shift's agents on the phones, breaks taken off
    coverage = schedule_selectors.scheduled_coverage(
        provider=floor.provider, start=day[0], end=day[1], process_ids=[floor.process.pk]
    )
    shifts = schedule_selectors.scheduled_shifts(provider=floor.provider, start=day[0], end=day[1])
    assert len(shifts) == schedule.shift_count
    on_phones: dict[tuple[int, datetime], int] = {}
    for shift in shifts:
        t = shift.start
        while t < shift.end:
            if not any(b <= t < e for b, e in shift.breaks):
                on_phones[(floor.process.pk, t)] = on_phones.get((floor.process.pk, t), 0) + 1
            t += timedelta(minutes=30)
    assert coverage == on_phones
    assert all(s.process_ids == frozenset({floor.process.pk}) for s in shifts)
    assert any(s.breaks for s in shifts)


def test_publishing_an_overlapping_schedule_replaces_the_published_one():
    floor = make_floor()
    first = schedule_services.schedule_publish(actor=None, schedule=make_schedule(floor))
    second = schedule_services.schedule_publish(actor=None, schedule=make_schedule(floor))
    first.refresh_from_db()
    assert (first.status, second.status) == (ScheduleStatus.DRAFT, ScheduleStatus.PUBLISHED)
    with pytest.raises(errors.Conflict):
        schedule_services.schedule_publish(actor=None, schedule=second)


def test_roster_names_agents_within_their_contracts_and_time_off():
    # given three days of one shift each, two agents: one on approved time off Tuesday,
    # the other contracted 16 hours a week (two shifts)
    floor = make_floor(agents=2)
    busy, off = floor.agents
    AgentContract.objects.create(provider=floor.provider, worker=busy, hours_per_week=16)
    TimeOffRequest.objects.create(
        provider=floor.provider,
        worker=off,
        start=MONDAY_9_MANILA + timedelta(days=1),
        end=MONDAY_9_MANILA + timedelta(days=2),
        status=TimeOffStatus.APPROVED,
    )
    schedule = make_schedule(floor, days=3)

    # when rostered
    schedule_services.roster_generate(actor=None, schedule=schedule)

    # then Monday and Wednesday go to the agent with the most hours left, Tuesday to the
    # part-timer; nobody is left unfilled
    rostered = list(ScheduledShift.objects.filter(schedule=schedule).order_by("start"))
    assert [s.worker_id for s in rostered] == [off.pk, busy.pk, off.pk]
    schedule.refresh_from_db()
    assert schedule.unfilled_shifts == 0
    assert schedule.rostered_at is not None


def test_generate_from_real_forecasts_covers_their_scheduled_agents():
    # given a forecast of Monday 09:00-17:00 Manila (16 intervals of 20 items, 300 s)
    floor = make_floor(agents=5)
    make_forecast(floor.process, MONDAY_9_MANILA, [20.0] * 16)
    wanted = forecast_selectors.staffing_requirements(
        provider=floor.provider,
        start=MONDAY_9_MANILA,
        end=MONDAY_9_MANILA + timedelta(days=1),
    )
    assert wanted  # the forecasting contract answers for these intervals

    # when a schedule is generated from it
    schedule = schedule_services.schedule_generate(
        actor=None, provider=floor.provider, start=MONDAY_9_MANILA, days=1, options=ONE_WORKER
    )

    # then its requirements are the forecasts' scheduled agents
    assert sorted(schedule.requirements) == sorted(
        [r.process_id, r.start.isoformat(), float(r.scheduled)] for r in wanted
    )
    required, scheduled = schedule_selectors.schedule_coverage(schedule=schedule)
    short = sum(max(0.0, need - scheduled.get(key, 0.0)) for key, need in required.items())
    assert short == schedule.under_staffed
    # six wanted in each interval (20 items of 300 s, grossed up), five agents: each of
    # the 16 intervals is one short
    assert {r.scheduled for r in wanted} == {6}
    assert (schedule.shift_count, schedule.under_staffed) == (5, 16)
