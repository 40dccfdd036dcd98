"""The pure routing evaluator: eligibility, relaxation steps and ordering."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from offload.work.routing import (
    ItemView,
    QueuePolicy,
    RelaxStep,
    Router,
    WorkerView,
    grants,
)

NOW = 1_000_000.0


POLICY = QueuePolicy(queue_id=1, process_id=10, channel="email", required_skills={"billing": 3})
WORKER = WorkerView(
    id=7,
    skills={"billing": 3},
    languages=frozenset({"en"}),
    certified=frozenset({10}),
    free={"email": 1},
)
ITEM = ItemView(
    id=1, queue_id=1, priority=3, language="en", created_at=NOW - 60, queued_at=NOW - 60
)


def policy(**overrides: Any) -> QueuePolicy:
    return replace(POLICY, **overrides)


def worker(**overrides: Any) -> WorkerView:
    return replace(WORKER, **overrides)


def item(id: int = 1, **overrides: Any) -> ItemView:
    return replace(ITEM, id=id, **overrides)


def test_a_certified_skilled_speaker_with_capacity_is_eligible():
    assert Router({1: policy()}).eligible(item(), worker(), NOW)


def test_each_missing_condition_makes_the_worker_ineligible():
    router = Router({1: policy()})
    assert not router.eligible(item(), worker(certified=frozenset()), NOW)
    assert not router.eligible(item(), worker(free={"email": 0}), NOW)
    assert not router.eligible(item(), worker(free={"chat": 3}), NOW)
    assert not router.eligible(item(), worker(skills={"billing": 2}), NOW)
    assert not router.eligible(item(language="de"), worker(), NOW)


def test_an_item_without_a_language_fits_every_speaker():
    assert Router({1: policy()}).eligible(item(language=""), worker(languages=frozenset()), NOW)


def test_a_relaxation_step_lowers_skills_only_after_the_wait():
    # given: level 2 is enough after 5 minutes
    router = Router({1: policy(relaxation=(RelaxStep(after_s=300, skill_drop=1),))})
    junior = worker(skills={"billing": 2})
    # then
    assert not router.eligible(item(queued_at=NOW - 299), junior, NOW)
    assert router.eligible(item(queued_at=NOW - 300), junior, NOW)


def test_steps_accumulate_and_a_language_step_opens_other_languages():
    # given: after 10 minutes anyone speaking English takes German items too
    steps = (
        RelaxStep(after_s=300, skill_drop=1),
        RelaxStep(after_s=600, languages=frozenset({"en"})),
    )
    router = Router({1: policy(relaxation=steps)})
    # then
    assert not router.eligible(item(language="de", queued_at=NOW - 599), worker(), NOW)
    assert router.eligible(item(language="de", queued_at=NOW - 600), worker(), NOW)
    # and a junior also needs the skills step, which came earlier
    junior = worker(skills={"billing": 2})
    assert router.eligible(item(language="de", queued_at=NOW - 600), junior, NOW)


def test_pick_orders_by_priority_then_due_time_then_age():
    # given
    router = Router({1: policy()})
    p2_old = item(1, priority=2, created_at=NOW - 500)
    p1_late_due = item(2, priority=1, due_at=NOW + 900)
    p1_soon_due = item(3, priority=1, due_at=NOW + 100)
    p1_no_due = item(4, priority=1)
    # when
    picked = router.pick([p2_old, p1_late_due, p1_soon_due, p1_no_due], worker(), NOW)
    # then
    assert picked == p1_soon_due


def test_a_queues_own_ordering_applies_when_pulling_from_it():
    # given: a first-in-first-out queue
    router = Router({1: policy(ordering=("created_at",))})
    older_p4 = item(1, priority=4, created_at=NOW - 900)
    newer_p1 = item(2, priority=1, created_at=NOW - 10)
    # then
    assert router.pick([older_p4, newer_p1], worker(), NOW, queue_id=1) == older_p4
    assert router.pick([older_p4, newer_p1], worker(), NOW) == newer_p1


def test_no_eligible_item_picks_nothing():
    router = Router({1: policy()})
    assert router.pick([item(language="fr")], worker(), NOW) is None


def test_grants_name_every_queue_and_language_the_worker_may_take():
    # given
    policies = [policy(), policy(queue_id=2, process_id=11)]
    # when
    got = grants(policies, worker(languages=frozenset({"en", "pl"})))
    # then: only the certified process's queue, for no-language, en and pl items
    assert {(g.queue_id, g.language, g.min_wait_s) for g in got} == {
        (1, "", 0),
        (1, "en", 0),
        (1, "pl", 0),
    }
