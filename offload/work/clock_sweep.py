"""The SLA sweep of `offload worker`: clocks whose next warning or breach has come.

It reads the clocks due through the partial index on `next_check_at` (so its cost
grows with the clocks due, not with the open items), locks their items with
SKIP LOCKED in the order every item writer locks (the item, then its clocks), ticks
the clocks through the pure core, and writes the signals as item events in bulk,
in one transaction per batch. A fired threshold is stored in the clock with the
event, so two workers never fire the same one twice. Escalation rules run for the
signals that have one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from offload.contracts import selectors as contract_selectors
from offload.contracts import services as contract_services
from offload.contracts.models import RecomputeKind, SlaPolicy, SlaTarget
from offload.core import sweeps
from offload.work import clocks, escalations, history, lifecycle
from offload.work.models import ClockState, EscalationRule, SlaClock, WorkItem

BATCH = 2000


def _rule_keys(client_ids: set[int]) -> set[tuple[int, str, str, int]]:
    """(client, policy slug, metric, percent) of every active escalation rule."""
    return set(
        EscalationRule.objects.filter(client_id__in=client_ids, is_active=True).values_list(
            "client_id", "policy_slug", "metric", "on_percent"
        )
    )


def clocks_check(now: datetime, *, limit: int = BATCH) -> int:
    """One batch: tick the due clocks of up to `limit` clocks' items; the signals fired."""
    with transaction.atomic():
        wanted = set(
            SlaClock.objects.filter(next_check_at__lte=now)
            .order_by("next_check_at")
            .values_list("item_id", flat=True)[:limit]
        )
        if not wanted:
            return 0
        # Only what events and rules need: a batch reads no payloads.
        items = {
            i.pk: i
            for i in sweeps.claim_due(
                WorkItem.objects.filter(pk__in=wanted)
                .only("id", "client_id", "provider_id", "process_id", "queue_id", "status")
                .order_by("pk"),
                limit=limit,
            )
        }
        rows = list(
            SlaClock.objects.select_for_update()
            .filter(item_id__in=list(items), next_check_at__lte=now)
            .only("id", "item_id", "metric", "policy_id", "priority", "data")
            .order_by("item_id", "metric")
        )
        book = clocks.TermsBook()
        fired = clocks.clocks_tick(rows, now, book)
        history.append_many(
            [(items[f.row.item_id], f.event_type, f.event_data, f.signal.at) for f in fired]
        )
        rules = _rule_keys({i.client_id for i in items.values()}) if fired else set()
        for f in fired:
            item = items[f.row.item_id]
            key = (
                item.client_id,
                book.policy(f.row.policy_id).slug,
                f.signal.metric.value,
                f.signal.percent,
            )
            # Rules are read once per batch, so signals without one cost no query.
            if key in rules and item.status in lifecycle.OPEN:
                # The whole row (the batch read a few columns); it is locked already.
                escalations.signal_escalate(
                    item=WorkItem.objects.get(pk=item.pk),
                    metric=f.signal.metric.value,
                    percent=f.signal.percent,
                    at=now,
                )
    return len(fired)


@sweeps.register("work.sla_check")
def clocks_checked(now: datetime) -> int:
    """Every due clock, batch after batch."""
    total = 0
    while True:
        done = clocks_check(now)
        total += done
        if done == 0:
            return total


# ------------------------------------------------------------------ policy and calendar edits

LIVE = (ClockState.RUNNING, ClockState.PAUSED)
RECOMPUTE_BATCH = 20


def _move(moves: dict[int, tuple[int, int]], now: datetime, reason: str) -> None:
    """Give each item an `sla_policy_changed` event ({item: (from, to)}); its clocks
    follow the event (offload.work.history.clocks_follow) to the terms of `to`."""
    items = WorkItem.objects.select_for_update().filter(pk__in=list(moves)).order_by("pk")
    for item in items:
        old, new = moves[item.pk]
        history.append(
            item,
            "sla_policy_changed",
            actor=None,
            data={"from": old, "to": new, "priority": item.priority, "reason": reason},
            at=now,
        )


def _attach(policy: SlaPolicy, now: datetime) -> None:
    """Open items of the processes on `policy` that have no clocks (the process had
    no policy when they came in) get theirs, from their history."""
    items = (
        WorkItem.objects.select_for_update()
        .filter(process__sla_policy=policy, status__in=sorted(lifecycle.OPEN))
        .exclude(clocks__isnull=False)
        .order_by("pk")
    )
    for item in items:
        history.signals_record(item, clocks.clocks_attach(item, policy.pk, now))


def _live_clocks(policy_ids: Iterable[int]) -> dict[int, int]:
    """{item: policy} of the open items with live clocks on these policy versions."""
    return dict(
        SlaClock.objects.filter(policy_id__in=list(policy_ids), state__in=LIVE)
        .values_list("item_id", "policy_id")
        .distinct()
    )


@sweeps.register("work.sla_recompute")
def recomputes_done(now: datetime) -> int:
    """Policy and calendar edits: the open clocks they touch are recomputed. The
    request row was written with the edit, so a crash between the two cannot skip
    it; it is marked done in the transaction that does the work."""
    with transaction.atomic():
        due = sweeps.claim_due(contract_selectors.sla_recompute_due(now=now), limit=RECOMPUTE_BATCH)
        for request in due:
            if request.kind == RecomputeKind.POLICY and request.policy is not None:
                earlier = contract_selectors.sla_policy_earlier_versions(policy=request.policy)
                on_old = _live_clocks(earlier.values_list("pk", flat=True))
                new = request.policy.pk
                _move({item: (old, new) for item, old in on_old.items()}, now, "policy")
                _attach(request.policy, now)
            elif request.calendar is not None:
                # Calendars are not versioned: the policies on it are re-read with
                # the new spec, and their clocks recomputed under the same version.
                policies = set(
                    SlaPolicy.objects.filter(calendar=request.calendar).values_list("pk", flat=True)
                ) | set(
                    SlaTarget.objects.filter(calendar=request.calendar).values_list(
                        "policy_id", flat=True
                    )
                )
                on_it = _live_clocks(policies)
                _move({item: (p, p) for item, p in on_it.items()}, now, "calendar")
        contract_services.sla_recompute_done(recomputes=due, now=now)
    return len(due)
