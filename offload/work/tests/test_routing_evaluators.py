"""The two evaluators of the routing policy pick the same item.

Hypothesis draws queues (skills required, relaxation steps, ordering), items
(priority, language, age, SLA due time) and a worker (skills, languages,
certifications); the SQL claim of offload.work.leases and the pure evaluator of
offload.work.routing must choose the same item, or both none.
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from offload.contracts.tests.factories import make_engagement
from offload.tenancy import visibility
from offload.work import intake, leases, pgcycle
from offload.work.models import Queue, WorkItem
from offload.work.routing import ItemView, Router
from offload.work.tests.factories import make_item, make_process
from offload.workers import services as worker_services
from offload.workers.tests.factories import make_agent

pytestmark = pytest.mark.django_db

LANGUAGES = ["", "en", "de", "pl"]
KEYS = ["priority", "due_at", "created_at"]

queue_st = st.fixed_dictionaries(
    {
        "skill": st.integers(0, 4),
        "relax_after": st.sampled_from([None, 5, 30]),
        "skill_drop": st.integers(0, 2),
        "relax_language": st.sampled_from([[], ["en"], ["de"]]),
        "ordering": st.permutations(KEYS).map(list),
        "certified": st.sampled_from([True, True, True, False]),
    }
)
item_st = st.fixed_dictionaries(
    {
        "queue": st.integers(0, 2),
        "priority": st.sampled_from(["P1", "P2", "P3", "P4"]),
        "language": st.sampled_from(["", "en", "en", "de", "pl"]),
        "age_min": st.integers(0, 60),
        "due_in_min": st.one_of(st.none(), st.integers(-30, 240)),
    }
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    queues=st.lists(queue_st, min_size=1, max_size=3),
    items=st.lists(item_st, min_size=1, max_size=12),
    worker_skill=st.integers(2, 5),
    worker_languages=st.lists(st.sampled_from(LANGUAGES[1:]), min_size=1, max_size=2, unique=True),
    pull_one_queue=st.booleans(),
    # How much of the provider's backlog a pull reads first (PostgreSQL): a short
    # head often holds nothing the worker may take, and the grants' heads are read.
    head_rows=st.sampled_from([1, 2, pgcycle.HEAD_ROWS]),
)
def test_the_sql_claim_and_the_pure_evaluator_pick_the_same_item(
    queues, items, worker_skill, worker_languages, pull_one_queue, head_rows
):
    with transaction.atomic(), mock.patch.object(pgcycle, "HEAD_ROWS", head_rows):
        now = timezone.now()
        engagement = make_engagement()
        made: list[Queue] = []
        certified = []
        for spec in queues:
            process = make_process(
                engagement=engagement,
                required_skills={"billing": spec["skill"]} if spec["skill"] else {},
            )
            queue = intake.queue_default(process)
            queue.ordering = spec["ordering"]
            if spec["relax_after"] is not None:
                queue.relaxation = [
                    {
                        "after_minutes": spec["relax_after"],
                        "skill_drop": spec["skill_drop"],
                        "languages": spec["relax_language"],
                    }
                ]
            queue.save()
            made.append(queue)
            if spec["certified"]:
                certified.append(process)
        for n, spec in enumerate(items):
            queue = made[spec["queue"] % len(made)]
            item = make_item(queue.process, language=spec["language"], priority=spec["priority"])
            created = now - timedelta(minutes=spec["age_min"], seconds=n)
            due = (
                None if spec["due_in_min"] is None else now + timedelta(minutes=spec["due_in_min"])
            )
            WorkItem.objects.filter(pk=item.pk).update(
                created_at=created, queued_at=created, due_at=due
            )
        worker = make_agent(
            engagement.provider,
            skills={"billing": worker_skill} if worker_skill else {},
            languages=worker_languages,
            processes=certified,
            channels={"email": 5},
        )
        worker = worker_services.worker_set_presence(
            actor=None, worker=worker, presence="available"
        )
        one = made[0] if pull_one_queue else None
        # the pure evaluator, on the same rows
        router = Router({q.pk: leases.queue_policy(q, q.process) for q in made})
        views = [
            ItemView(
                id=i.pk,
                queue_id=i.queue_id,
                priority=leases.PRIORITY_RANK[i.priority],
                language=i.language,
                created_at=i.created_at.timestamp(),
                queued_at=(i.queued_at or i.created_at).timestamp(),
                due_at=i.due_at.timestamp() if i.due_at else None,
            )
            for i in WorkItem.objects.filter(queue__in=made)
        ]
        expected = router.pick(
            views,
            leases.worker_view(worker),
            now.timestamp(),
            queue_id=one.pk if one else None,
        )
        # the SQL claim
        actor = visibility.principal_for_user(worker.user)
        assert actor is not None
        claim = leases.work_item_claim(actor=actor, queue=one, now=now)
        event("an item was picked" if claim else "nothing was eligible")
        assert (claim.item.pk if claim else None) == (expected.id if expected else None)
        transaction.set_rollback(True)
