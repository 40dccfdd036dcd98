"""Interval actuals: the rollup of item events and leases, and the workforce.actuals sweep."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from offload.contracts.tests.factories import make_engagement
from offload.core import sweeps
from offload.tenancy import visibility
from offload.tenancy.tests.factories import make_client, make_provider, make_user
from offload.work import leases, services
from offload.work.models import Assignment, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process
from offload.workers import services as worker_services
from offload.workers.tests.factories import make_agent
from offload.workforce import forecast_services, forecast_sweep
from offload.workforce.models import ActualsWatermark, IntervalActual
from offload.workforce.tests.factories import make_actuals

pytestmark = pytest.mark.django_db

NINE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HALF = timedelta(minutes=30)


@pytest.fixture
def shop() -> dict[str, Any]:
    provider = make_provider("Northwind")
    acme = make_client("Acme")
    process = make_process(engagement=make_engagement(acme, provider), name="Acme email")
    agent = make_agent(provider, user=make_user(provider, "agent", username="maria"))
    return {"provider": provider, "process": process, "agent": agent}


def event(item: WorkItem, kind: str, at: datetime, **data: Any) -> None:
    """Append an event to the item's log at `at` (the log refuses updates on
    PostgreSQL, so tests place events by appending them)."""
    WorkItemEvent.objects.create(
        item=item,
        client_id=item.client_id,
        provider_id=item.provider_id,
        seq=WorkItemEvent.objects.filter(item=item).count() + 1,
        type=kind,
        at=at,
        actor_label="test",
        data=data,
    )


def arrived(process: Any, at: datetime) -> WorkItem:
    """An item with a `created` event at `at` (intake's own is at the real now, a week
    before the intervals these tests roll up)."""
    item = make_item(process)
    event(item, "created", at)
    return item


def completed(item: WorkItem, agent: Any, at: datetime, work_s: int, wrap_s: int) -> None:
    """A completion at `at` by a lease that worked `work_s` and wrapped up `wrap_s`."""
    event(item, "completed", at, to_status="completed")
    Assignment.objects.create(
        client_id=item.client_id,
        provider_id=item.provider_id,
        item=item,
        worker=agent,
        assigned_at=at - timedelta(seconds=work_s),
        lease_expires_at=at,
        how="pull",
        ended_at=at,
        end_reason="completed",
        work_seconds=work_s,
        wrap_seconds=wrap_s,
    )


def rows(process: Any) -> list[tuple[str, int, int, int]]:
    return [
        (r.start.strftime("%H:%M"), r.arrivals, r.handled, r.handle_seconds)
        for r in IntervalActual.objects.filter(process=process).order_by("start")
    ]


def test_rollup_counts_arrivals_and_handle_time_per_interval(shop):
    # given: three arrivals at 09:05, 09:25 and 09:40; two completions at 09:50
    process, agent = shop["process"], shop["agent"]
    first = arrived(process, NINE + timedelta(minutes=5))
    second = arrived(process, NINE + timedelta(minutes=25))
    arrived(process, NINE + timedelta(minutes=40))
    completed(first, agent, NINE + timedelta(minutes=50), work_s=300, wrap_s=45)
    completed(second, agent, NINE + timedelta(minutes=50), work_s=200, wrap_s=15)
    # when
    written = forecast_services.actuals_rollup(start=NINE, end=NINE + 2 * HALF)
    # then: AHT of 09:30 is (345 + 215) / 2 = 280 s
    assert written == 2
    assert rows(process) == [("09:00", 2, 0, 0), ("09:30", 1, 2, 560)]
    assert IntervalActual.objects.get(process=process, start=NINE + HALF).aht_s == 280


def test_rollup_twice_gives_the_same_rows_and_follows_late_wrap_ups(shop):
    # given: a completion whose wrap-up is not counted yet
    process, agent = shop["process"], shop["agent"]
    item = arrived(process, NINE)
    completed(item, agent, NINE + timedelta(minutes=10), work_s=300, wrap_s=0)
    forecast_services.actuals_rollup(start=NINE, end=NINE + HALF)
    # when: the wrap-up ends, and the interval is rolled up again
    Assignment.objects.filter(item=item).update(wrap_seconds=60)
    forecast_services.actuals_rollup(start=NINE, end=NINE + HALF)
    forecast_services.actuals_rollup(start=NINE, end=NINE + HALF)
    # then: one row, with the wrap-up
    assert rows(process) == [("09:00", 1, 1, 360)]


def test_rollup_removes_a_row_the_events_no_longer_support(shop):
    # given: a row for 09:00 (say, from a rollup before a correction), and no event
    process = shop["process"]
    make_actuals(process, NINE, [5])
    # when
    forecast_services.actuals_rollup(start=NINE, end=NINE + HALF)
    # then
    assert rows(process) == []


def test_a_completion_without_a_lease_counts_the_handle_time_it_reported(shop):
    # given: completed by the API with handle_seconds, no lease
    process = shop["process"]
    item = arrived(process, NINE)
    event(item, "completed", NINE + timedelta(minutes=3), handle_seconds=240)
    # when
    forecast_services.actuals_rollup(start=NINE, end=NINE + HALF)
    # then
    assert rows(process) == [("09:00", 1, 1, 240)]


def test_rollup_for_one_provider_leaves_the_others_alone(shop):
    # given: another provider's arrival in the same interval
    other = make_process(name="Other")
    arrived(other, NINE)
    arrived(shop["process"], NINE)
    # when
    forecast_services.actuals_rollup(start=NINE, end=NINE + HALF, provider=shop["provider"])
    # then
    assert rows(shop["process"]) == [("09:00", 1, 0, 0)]
    assert rows(other) == []


def test_the_real_cycle_of_claim_complete_and_wrap_up_is_rolled_up(shop):
    # given: an item pulled, completed and wrapped up by an available agent
    process, agent = shop["process"], shop["agent"]
    agent.processes.add(process)
    worker_services.worker_set_presence(actor=None, worker=agent, presence="available")
    actor = visibility.principal_for_user(agent.user)
    assert actor is not None
    make_item(process)
    claim = leases.work_item_claim(actor=actor)
    assert claim is not None
    services.work_item_complete(actor=actor, item=claim.item, outcome="resolved")
    leases.wrap_up_end(actor=actor)
    lease = Assignment.objects.get(item=claim.item)
    now = timezone.now()
    # when
    forecast_services.actuals_rollup(start=now - timedelta(hours=1), end=now + HALF)
    # then
    row = IntervalActual.objects.get(process=process)
    assert (row.arrivals, row.handled) == (1, 1)
    assert row.handle_seconds == lease.work_seconds + lease.wrap_seconds
    assert lease.wrap_seconds >= 1


def test_the_sweep_recomputes_the_last_two_intervals_and_moves_its_watermark(shop):
    # given: an arrival at 09:10, and the sweep registered under its name
    process = shop["process"]
    arrived(process, NINE + timedelta(minutes=10))
    now = NINE + timedelta(minutes=40)
    assert "workforce.actuals" in {s.name for s in sweeps.registered()}
    # when
    forecast_sweep.actuals_sweep(now)
    arrived(process, NINE + timedelta(minutes=20))  # a late event in the previous interval
    forecast_sweep.actuals_sweep(now + timedelta(minutes=5))
    # then
    assert rows(process) == [("09:00", 2, 0, 0)]
    assert ActualsWatermark.objects.get().rolled_to == NINE


def test_the_sweep_catches_up_from_its_watermark(shop):
    # given: the sweep last ran at 09:40, and the next tick comes three hours later
    process = shop["process"]
    forecast_sweep.actuals_sweep(NINE + timedelta(minutes=40))
    arrived(process, NINE + timedelta(hours=1, minutes=5))
    # when
    forecast_sweep.actuals_sweep(NINE + timedelta(hours=3, minutes=40))
    # then: the interval in between is rolled up too
    assert rows(process) == [("10:00", 1, 0, 0)]
    assert ActualsWatermark.objects.get().rolled_to == NINE + timedelta(hours=3)


@pytest.mark.django_db(transaction=True)
def test_a_second_sweeper_skips_while_another_holds_the_watermark(shop):
    """PostgreSQL: the watermark row is claimed with SKIP LOCKED, so two workers never
    roll up at once (SQLite serialises its writers anyway)."""
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    # given: the watermark exists, and this thread holds it as a running sweep would
    arrived(shop["process"], NINE + timedelta(minutes=10))
    forecast_sweep.actuals_sweep(NINE + timedelta(minutes=40))
    handled: list[int] = []

    def other_worker() -> None:
        try:
            handled.append(forecast_sweep.actuals_sweep(NINE + timedelta(minutes=45)))
        finally:
            connection.close()

    with transaction.atomic():
        ActualsWatermark.objects.select_for_update().get()
        # when
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(timeout=60)
    # then: the other worker did nothing and did not wait
    assert handled == [0]
    assert rows(shop["process"]) == [("09:00", 1, 0, 0)]
