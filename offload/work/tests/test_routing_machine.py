"""A hypothesis state machine over routing: pull, heartbeat, expiry, complete and
fail in any order, with the invariants checked after every step:

- no item has two owners (at most one open lease, and its holder is the assignee);
- a worker's load equals the items it holds in working statuses, never negative,
  never above capacity;
- no item is lost: every item is waiting, held, or finished.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from offload.tenancy import visibility
from offload.tenancy.visibility import Principal
from offload.work import leases, services
from offload.work.models import Assignment, WorkItem
from offload.work.tests.factories import make_item, make_process
from offload.workers import services as worker_services
from offload.workers.models import Worker, WorkerChannel
from offload.workers.tests.factories import make_agent

pytestmark = pytest.mark.django_db

WORKERS = 3
ITEMS = 6
CAPACITY = 2


class Routing(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.clock: datetime = timezone.now()
        process = make_process(wrap_up_seconds=0)
        self.items = [make_item(process, language="en").pk for _ in range(ITEMS)]
        self.workers: list[Worker] = []
        self.actors: list[Principal] = []
        for _ in range(WORKERS):
            worker = make_agent(
                process.provider,
                skills={},
                languages=["en"],
                processes=[process],
                channels={"email": CAPACITY},
            )
            worker_services.worker_set_presence(actor=None, worker=worker, presence="available")
            actor = visibility.principal_for_user(worker.user)
            assert actor is not None
            self.workers.append(worker)
            self.actors.append(actor)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def _held(self, n: int) -> list[WorkItem]:
        return list(
            WorkItem.objects.filter(
                assignments__worker=self.workers[n],
                assignments__ended_at__isnull=True,
                status__in=sorted(leases.USING_CAPACITY),
            )
        )

    @rule(n=st.integers(0, WORKERS - 1))
    def pull(self, n: int) -> None:
        leases.work_item_claim(actor=self.actors[n], now=self.clock)

    @rule(n=st.integers(0, WORKERS - 1))
    def heartbeat(self, n: int) -> None:
        for item in self._held(n)[:1]:
            leases.lease_heartbeat(actor=self.actors[n], item_id=item.pk, now=self.clock)

    @rule(minutes=st.integers(1, 20))
    def time_passes_and_leases_expire(self, minutes: int) -> None:
        self.clock += timedelta(minutes=minutes)
        leases.leases_expired(self.clock)

    @rule(n=st.integers(0, WORKERS - 1))
    def complete(self, n: int) -> None:
        for item in self._held(n)[:1]:
            services.work_item_complete(actor=self.actors[n], item=item, outcome="resolved")

    @rule(n=st.integers(0, WORKERS - 1))
    def fail(self, n: int) -> None:
        for item in self._held(n)[:1]:
            services.work_item_fail(
                actor=self.actors[n], item=item, kind="business", reason="Bad input"
            )

    @rule(n=st.integers(0, WORKERS - 1))
    def release(self, n: int) -> None:
        for item in self._held(n)[:1]:
            leases.lease_release(actor=self.actors[n], item_id=item.pk, now=self.clock)

    @invariant()
    def one_owner_per_item(self) -> None:
        open_leases = Assignment.objects.filter(ended_at__isnull=True)
        per_item = Counter(open_leases.values_list("item_id", flat=True))
        assert all(count == 1 for count in per_item.values())
        for lease in open_leases.select_related("item", "worker"):
            assert lease.item.assignee_id == lease.worker.user_id

    @invariant()
    def capacity_matches_what_is_held(self) -> None:
        for worker in self.workers:
            load = WorkerChannel.objects.get(worker=worker, channel="email").load
            held = Assignment.objects.filter(
                worker=worker,
                ended_at__isnull=True,
                item__status__in=sorted(leases.USING_CAPACITY),
            ).count()
            assert load == held
            assert 0 <= load <= CAPACITY

    @invariant()
    def no_item_is_lost(self) -> None:
        for item in WorkItem.objects.filter(pk__in=self.items):
            held = Assignment.objects.filter(item=item, ended_at__isnull=True).exists()
            if item.status in leases.USING_CAPACITY:
                assert held, f"item {item.pk} is {item.status} without a holder"
            else:
                assert item.status in {"queued", "completed", "failed"}
                assert not held


def test_routing_keeps_its_invariants_in_any_order():
    run_state_machine_as_test(
        Routing,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
