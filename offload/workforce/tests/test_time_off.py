"""Time off: agents ask for their own, planners decide against the coverage it costs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import AuditEvent, User
from offload.tenancy.tests.factories import make_user
from offload.tenancy.visibility import Principal
from offload.workers.models import Worker
from offload.workforce import schedule_selectors, schedule_services
from offload.workforce.models import ScheduledShift, TimeOffStatus
from offload.workforce.tests.schedule_factories import MONDAY_9_MANILA, make_floor, make_schedule

pytestmark = pytest.mark.django_db

MONDAY = (MONDAY_9_MANILA, MONDAY_9_MANILA + timedelta(hours=8))


def principal(user: User) -> Principal:
    found = visibility.principal_for_user(user)
    assert found is not None
    return found


def test_an_agent_asks_for_its_own_time_off_only():
    floor = make_floor(agents=2)
    me, other = floor.agents

    # when the agent asks for itself
    request = schedule_services.time_off_request(
        actor=principal(me.user), worker=me, start=MONDAY[0], end=MONDAY[1], reason="Dentist"
    )

    # then it is requested and audited
    assert (request.status, request.worker_id, request.reason) == (
        TimeOffStatus.REQUESTED,
        me.pk,
        "Dentist",
    )
    assert AuditEvent.objects.filter(action="time_off.request", object_id=str(request.pk)).exists()
    # and it may not ask for another agent
    with pytest.raises(errors.PermissionDenied, match="themselves"):
        schedule_services.time_off_request(
            actor=principal(me.user), worker=other, start=MONDAY[0], end=MONDAY[1]
        )
    # while a planner may, for any of its agents
    planner = principal(make_user(floor.provider, "wfm_planner"))
    schedule_services.time_off_request(actor=planner, worker=other, start=MONDAY[0], end=MONDAY[1])


def test_bad_spans_name_their_fields():
    floor = make_floor(agents=1)
    (me,) = floor.agents
    with pytest.raises(errors.ValidationFailed) as caught:
        schedule_services.time_off_request(actor=None, worker=me, start=MONDAY[1], end=MONDAY[0])
    assert [e.field for e in caught.value.errors] == ["end"]
    with pytest.raises(errors.ValidationFailed) as caught:
        schedule_services.time_off_request(
            actor=None, worker=me, start=MONDAY[0], end=MONDAY[0] + timedelta(days=40)
        )
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("end", schedule_services.TIME_OFF_TOO_LONG)
    ]


def rostered_worker(shift: ScheduledShift) -> Worker:
    assert shift.worker is not None
    return shift.worker


def rostered_monday(agents_wanted: int, staff: int):
    """A published, rostered Monday 09:00-17:00 Manila with `agents_wanted` required."""
    floor = make_floor(agents=staff)
    schedule = make_schedule(floor, agents=agents_wanted)
    schedule_services.schedule_publish(actor=None, schedule=schedule)
    schedule_services.roster_generate(actor=None, schedule=schedule)
    return floor, schedule


def test_deciding_shows_the_intervals_approving_leaves_short():
    # given one agent wanted all Monday, rostered to one of two agents
    floor, schedule = rostered_monday(agents_wanted=1, staff=2)
    (shift,) = ScheduledShift.objects.filter(schedule=schedule)
    worker = rostered_worker(shift)
    request = schedule_services.time_off_request(
        actor=None,
        worker=worker,
        start=MONDAY[0] + timedelta(hours=4),
        end=MONDAY[1] + timedelta(hours=4),
    )

    # when a planner approves it
    planner = principal(make_user(floor.provider, "wfm_planner"))
    decided = schedule_services.time_off_decide(actor=planner, time_off=request, approve=True)

    # then the answer lists the 8 intervals (13:00-17:00 Manila) left with nobody
    assert decided.status == TimeOffStatus.APPROVED
    assert decided.decided_by == planner.user
    assert len(decided.coverage_cost) == 8
    assert decided.coverage_cost[0] == {
        "process_id": floor.process.pk,
        "start": (MONDAY[0] + timedelta(hours=4)).isoformat(),
        "required": 1.0,
        "scheduled": 1.0,
        "after": 0.0,
    }
    # and the agent is off its shift, which waits for the roster again
    shift.refresh_from_db()
    assert shift.worker_id is None


def test_a_request_that_leaves_coverage_at_the_requirement_costs_nothing():
    # given two agents rostered where one is wanted
    floor, schedule = rostered_monday(agents_wanted=1, staff=3)
    # the schedule above has one shift: add a second, rostered to another agent
    extra = ScheduledShift.objects.get(schedule=schedule)
    ScheduledShift.objects.create(
        schedule=schedule,
        provider=floor.provider,
        site=floor.site,
        process=floor.process,
        start=extra.start,
        end=extra.end,
        worker=next(a for a in floor.agents if a.pk != extra.worker_id),
    )
    request = schedule_services.time_off_request(
        actor=None, worker=rostered_worker(extra), start=MONDAY[0], end=MONDAY[1]
    )

    # when the cost is read / then it is nothing
    assert schedule_selectors.time_off_coverage_cost(time_off=request) == []


def test_a_rejected_request_keeps_its_cost_and_the_shift():
    _, schedule = rostered_monday(agents_wanted=1, staff=1)
    (shift,) = ScheduledShift.objects.filter(schedule=schedule)
    request = schedule_services.time_off_request(
        actor=None, worker=rostered_worker(shift), start=MONDAY[0], end=MONDAY[1]
    )
    decided = schedule_services.time_off_decide(actor=None, time_off=request, approve=False)
    assert decided.status == TimeOffStatus.REJECTED
    assert len(decided.coverage_cost) == 16
    shift.refresh_from_db()
    assert shift.worker_id == request.worker_id
    # and a decided request is not decided again
    with pytest.raises(errors.Conflict):
        schedule_services.time_off_decide(actor=None, time_off=decided, approve=True)


def test_agents_do_not_decide():
    floor = make_floor(agents=1)
    (me,) = floor.agents
    request = schedule_services.time_off_request(
        actor=None, worker=me, start=MONDAY[0], end=MONDAY[1]
    )
    with pytest.raises(errors.PermissionDenied):
        schedule_services.time_off_decide(actor=principal(me.user), time_off=request, approve=True)


def test_approved_time_off_keeps_the_roster_off_the_agent():
    # given the only agent approved off all Monday before the roster runs
    floor = make_floor(agents=1)
    (me,) = floor.agents
    request = schedule_services.time_off_request(
        actor=None, worker=me, start=MONDAY[0], end=MONDAY[1]
    )
    schedule_services.time_off_decide(actor=None, time_off=request, approve=True)
    schedule = make_schedule(floor)

    # when rostered / then the shift stays unfilled
    schedule_services.roster_generate(actor=None, schedule=schedule)
    schedule.refresh_from_db()
    assert schedule.unfilled_shifts == 1
    assert not ScheduledShift.objects.filter(schedule=schedule, worker__isnull=False).exists()
