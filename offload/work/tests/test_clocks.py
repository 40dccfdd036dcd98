"""SLA clocks kept in rows: started at intake, advanced by the item's events, ticked
by the sweep, and equal to a replay of the item's events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offload.contracts.tests.factories import make_calendar, make_policy, target
from offload.core import errors
from offload.sla import BusinessCalendar
from offload.tenancy import visibility
from offload.tenancy.tests.factories import make_user
from offload.tenancy.visibility import Principal
from offload.work import clock_sweep, clocks, services
from offload.work.models import SlaClock, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process

pytestmark = pytest.mark.django_db

ALWAYS_OPEN: dict[str, Any] = {
    "timezone": "UTC",
    "hours": "24/7",
    "holidays": None,
    "closed": [],
    "partial": [],
}


def sla_process(**policy: Any) -> Any:
    process = make_process()
    calendar = make_calendar(process.engagement, ALWAYS_OPEN)
    sla = make_policy(
        process.engagement,
        calendar=calendar,
        targets=[
            target("first_response", priority="", value="1", unit="business_hours"),
            target("turnaround", priority="", value="4", unit="business_hours"),
            target("turnaround", priority="P1", value="2", unit="business_hours"),
        ],
        **policy,
    )
    process.sla_policy = sla
    process.save()
    return process


def due(clock: SlaClock) -> datetime:
    assert clock.due_at is not None
    return clock.due_at


def admin_of(organisation: Any) -> Principal:
    found = visibility.principal_for_user(make_user(organisation))
    assert found is not None
    return found


def by_metric(item: WorkItem) -> dict[str, SlaClock]:
    return {c.metric: c for c in SlaClock.objects.filter(item=item)}


def types(item: WorkItem) -> list[str]:
    return list(
        WorkItemEvent.objects.filter(item=item).order_by("seq").values_list("type", flat=True)
    )


def test_an_item_starts_one_clock_per_time_metric_and_is_due_by_the_earliest():
    # given / when
    item = make_item(sla_process(), priority="P3")
    # then
    found = by_metric(item)
    assert set(found) == {"first_response", "turnaround"}
    fr, ta = found["first_response"], found["turnaround"]
    assert fr.state == ta.state == "running"
    assert due(fr) - fr.started_at == timedelta(hours=1)
    assert due(ta) - ta.started_at == timedelta(hours=4)
    item.refresh_from_db()
    assert item.due_at == fr.due_at


def test_the_priority_chooses_the_target():
    item = make_item(sla_process(), priority="P1")
    ta = by_metric(item)["turnaround"]
    assert ta.target == timedelta(hours=2)


def test_a_process_without_a_policy_has_no_clocks():
    item = make_item(make_process())
    assert not SlaClock.objects.filter(item=item).exists()
    assert item.due_at is None


def test_a_provider_reply_meets_first_response_and_completion_meets_turnaround():
    # given
    item = make_item(sla_process())
    # when
    services.work_item_reply(actor=None, item=item, text="On it")
    # then: a reply from the system (provider side) is a response
    assert by_metric(item)["first_response"].state == "met"
    assert by_metric(item)["turnaround"].state == "running"
    # when
    services.work_item_complete(actor=None, item=item, outcome="resolved")
    # then
    assert by_metric(item)["turnaround"].state == "met"
    item.refresh_from_db()
    assert item.due_at is None


def test_waiting_on_the_client_pauses_turnaround_only():
    # given
    item = make_item(sla_process())
    # when
    services.work_item_wait(actor=None, item=item)
    # then
    found = by_metric(item)
    assert found["turnaround"].state == "paused"
    assert found["turnaround"].next_check_at is None
    assert found["first_response"].state == "running"
    # when
    services.work_item_resume(actor=None, item=item)
    # then: running again, due later by the time it was paused
    ta = by_metric(item)["turnaround"]
    assert ta.state == "running"
    assert due(ta) >= ta.original_due_at


def test_the_sweep_fires_each_threshold_once_and_only_the_highest_when_several_are_due():
    # given
    item = make_item(sla_process())
    start = by_metric(item)["first_response"].started_at
    # when: 46 minutes in, first response (1 h) passed 75 %
    fired = clock_sweep.clocks_checked(start + timedelta(minutes=46))
    again = clock_sweep.clocks_checked(start + timedelta(minutes=46))
    # then
    assert fired == 1
    assert again == 0
    warnings = WorkItemEvent.objects.filter(item=item, type="sla_warning")
    assert [e.data for e in warnings] == [{"metric": "first_response", "percent": 75}]
    # when: three hours in, 90 % and the breach of first response, 75 % of turnaround
    clock_sweep.clocks_checked(start + timedelta(hours=3, minutes=1))
    # then: the breach alone for first response (90 % marked silently)
    assert types(item)[-2:] == ["sla_breached", "sla_warning"] or types(item)[-2:] == [
        "sla_warning",
        "sla_breached",
    ]
    fr = by_metric(item)["first_response"]
    assert fr.breached
    assert fr.fired == [75, 90, 100]
    assert WorkItemEvent.objects.filter(item=item, type="sla_breached").count() == 1


def test_completion_after_the_due_time_breaches_with_one_breach_event():
    # given: the breach was already signalled by the sweep
    item = make_item(sla_process())
    start = by_metric(item)["turnaround"].started_at
    clock_sweep.clocks_checked(start + timedelta(hours=5))
    breaches = WorkItemEvent.objects.filter(item=item, type="sla_breached").count()
    # when
    services.work_item_complete(actor=None, item=item, outcome="resolved")
    # then: no second breach for the same clocks
    assert WorkItemEvent.objects.filter(item=item, type="sla_breached").count() == breaches
    assert by_metric(item)["turnaround"].state == "breached"


def test_the_stored_clocks_equal_a_replay_of_the_events():
    # given
    item = make_item(sla_process())
    services.work_item_wait(actor=None, item=item)
    services.work_item_resume(actor=None, item=item)
    services.work_item_reply(actor=None, item=item, text="Done soon")
    services.work_item_complete(actor=None, item=item, outcome="resolved")
    services.work_item_reopen(actor=None, item=item)
    # when
    replayed = clocks.item_replay(item)
    # then
    stored = {m: clocks.clock_of(c) for m, c in by_metric(item).items()}
    assert replayed == stored


ACTIONS = ["wait", "resume", "reply", "client_reply", "escalate", "complete", "reopen", "sweep"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.sampled_from(ACTIONS), max_size=12))
def test_replay_equals_the_stored_clocks_on_random_histories(actions):
    # given: an item, and a client admin who can reply
    process = sla_process(pause_statuses=["waiting_on_client", "escalated"])
    item = make_item(process)
    client = visibility.principal_for_user(make_user(process.client))
    # when: whatever the lifecycle allows, in this order
    for action in actions:
        item.refresh_from_db()
        try:
            match action:
                case "wait":
                    services.work_item_wait(actor=None, item=item)
                case "resume":
                    services.work_item_resume(actor=None, item=item)
                case "reply":
                    services.work_item_reply(actor=None, item=item, text="Hello")
                case "client_reply":
                    services.work_item_reply(actor=client, item=item, text="Thanks")
                case "escalate":
                    services.work_item_escalate(actor=None, item=item, reason="hard one")
                case "complete":
                    services.work_item_complete(actor=None, item=item, outcome="resolved")
                case "reopen":
                    services.work_item_reopen(actor=None, item=item)
                case "sweep":
                    clock_sweep.clocks_checked(timezone.now())
        except errors.Conflict:
            continue
    # then
    stored = {m: clocks.clock_of(c) for m, c in by_metric(item).items()}
    assert clocks.item_replay(item) == stored


def test_a_policy_revision_moves_open_clocks_to_the_new_version_and_keeps_stopped_ones():
    # given: an open item and a finished one on version 1
    from offload.contracts import services as contract_services
    from offload.work import clock_sweep as sweep

    process = sla_process()
    open_item = make_item(process)
    done_item = make_item(process)
    services.work_item_complete(actor=None, item=done_item, outcome="resolved")
    v1 = process.sla_policy
    # when: turnaround becomes 8 hours, and the sweep runs
    v2 = contract_services.sla_policy_revise(
        actor=None,
        policy=v1,
        targets=[
            target("first_response", priority="", value="1", unit="business_hours"),
            target("turnaround", priority="", value="8", unit="business_hours"),
        ],
    )
    handled = sweep.recomputes_done(timezone.now())
    again = sweep.recomputes_done(timezone.now())
    # then: the open item's clocks run on version 2 with the new target
    ta = by_metric(open_item)["turnaround"]
    assert handled == 1
    assert again == 0
    assert ta.policy_id == v2.pk
    assert ta.target == timedelta(hours=8)
    assert due(ta) - ta.started_at == timedelta(hours=8)
    assert ta.original_due_at - ta.started_at == timedelta(hours=4)
    assert types(open_item)[-1] == "sla_policy_changed"
    # and the finished one keeps the version it was measured against
    assert by_metric(done_item)["turnaround"].policy_id == v1.pk
    assert "sla_policy_changed" not in types(done_item)
    # and a replay gives the same clocks
    stored = {m: clocks.clock_of(c) for m, c in by_metric(open_item).items()}
    assert clocks.item_replay(open_item) == stored


def test_a_calendar_edit_recomputes_the_clocks_that_run_on_it():
    # given: an item on a 24/7 calendar
    from offload.contracts import services as contract_services
    from offload.work import clock_sweep as sweep

    process = sla_process()
    item = make_item(process)
    before = by_metric(item)["turnaround"].due_at
    calendar = process.sla_policy.calendar
    admin = admin_of(process.provider)
    # when: it opens only 09:00-17:00 UTC on the weekday three days from now, so the
    # new due time cannot equal the old one whatever the hour the test runs at
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[
        (timezone.now() + timedelta(days=3)).weekday()
    ]
    weekdays: dict[str, Any] = {
        "timezone": "UTC",
        "hours": {day: [["09:00", "17:00"]]},
        "holidays": None,
        "closed": [],
        "partial": [],
    }
    contract_services.calendar_update(actor=admin, calendar=calendar, data={"spec": weekdays})
    sweep.recomputes_done(timezone.now())
    # then: the due time is recomputed on the new hours
    ta = by_metric(item)["turnaround"]
    assert ta.due_at != before
    assert BusinessCalendar.from_spec(weekdays).is_open(due(ta) - timedelta(microseconds=1))


def test_an_item_already_breached_when_its_policy_attaches_gets_one_breach_per_clock():
    # given: an item of a process with no policy yet
    from offload.contracts import services as contract_services
    from offload.work import clock_sweep as sweep

    bare = make_process()
    item = make_item(bare)
    admin = admin_of(bare.provider)
    other = make_policy(
        bare.engagement,
        calendar=make_calendar(bare.engagement, ALWAYS_OPEN),
        targets=[
            target("first_response", priority="", value="1", unit="business_hours"),
            target("turnaround", priority="", value="4", unit="business_hours"),
        ],
    )
    # when: the process takes a policy, and the sweep runs five hours later
    contract_services.process_update(actor=admin, process=bare, data={"sla_policy": other})
    sweep.recomputes_done(timezone.now() + timedelta(hours=5))
    # then: both clocks exist, breached, with one breach event each and no warnings
    found = by_metric(item)
    assert set(found) == {"first_response", "turnaround"}
    assert all(c.breached for c in found.values())
    breaches = WorkItemEvent.objects.filter(item=item, type="sla_breached")
    assert sorted(e.data["metric"] for e in breaches) == ["first_response", "turnaround"]
    assert not WorkItemEvent.objects.filter(item=item, type="sla_warning").exists()


@pytest.mark.parametrize(
    ("event_type", "data", "kind"),
    [
        ("assigned", {"to_status": "assigned"}, "status"),
        ("completed", {"to_status": "completed"}, "completed"),
        ("reopened", {"to_status": "queued"}, "reopened"),
        ("replied", {"public": True, "from": "provider"}, "reply"),
        ("replied", {"public": False, "from": "provider"}, None),
        ("reprioritized", {"by": "person", "to": "P1"}, "reclassified"),
        ("reprioritized", {"by": "rule", "to": "P1"}, None),
        ("offered", {"worker": 1}, None),
        ("sla_warning", {"metric": "turnaround"}, None),
    ],
)
def test_only_events_that_move_a_clock_read_the_clocks(event_type, data, kind):
    # given an item with clocks
    item = make_item(sla_process())
    event = WorkItemEvent(item=item, type=event_type, data=data, at=timezone.now())
    # when
    found = clocks.kind_of(event_type, data)
    with CaptureQueriesContext(connection) as queries:
        clocks.clocks_advance(item, event)
    # then
    assert (found.value if found else None) == kind
    table = SlaClock._meta.db_table
    read_clocks = any(table in q["sql"] for q in queries.captured_queries)
    assert read_clocks == (kind is not None)
