"""SLA clocks of items: the pure fold of offload.sla.clock, kept one row per clock.

Clocks start with the item (intake) and advance from its events, in the event's
transaction: `history.append` hands every event to `clocks_advance`, which maps it
to a happening of the pure core, applies it to the item's clocks, saves the ones
that changed and returns the signals (a warning or breach reached at a stop, a
turnaround reopened) for the caller to record as events. The SLA sweep
(offload.work.clock_sweep) ticks the clocks whose next check has passed.

`item_replay` folds an item's events from scratch; a test checks that it gives
the stored clocks on randomised histories.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone

from offload.contracts.models import SlaPolicy, SlaTarget, Unit
from offload.sla import BusinessCalendar
from offload.sla import clock as pure
from offload.sla import spec as calendar_spec
from offload.work.models import SlaClock, WorkItem, WorkItemEvent

TIME_METRICS = tuple(m.value for m in pure.Metric)
# Events the clocks write themselves: they never move a clock.
CLOCK_EVENTS = frozenset({"sla_warning", "sla_breached", "sla_clock_reopened"})
SIGNAL_EVENTS = {
    pure.SignalKind.WARNING: "sla_warning",
    pure.SignalKind.BREACH: "sla_breached",
    pure.SignalKind.REOPENED: "sla_clock_reopened",
}
# A reply from these sides is the customer's, not a response to the customer.
CUSTOMER_SIDES = frozenset({"client", "customer"})


# ------------------------------------------------------------------ terms


def _business_day(spec: Any) -> timedelta:
    """A business day of the calendar: its nominal open hours a week over the days
    that open (24 hours for 24/7)."""
    parsed = calendar_spec.parse(spec)
    if parsed.always_open:
        return timedelta(hours=24)
    open_days = sum(1 for windows in parsed.hours.values() if windows) or 1
    return timedelta(hours=calendar_spec.weekly_open_hours(parsed) / open_days)


def target_duration(target: SlaTarget, calendar_spec_raw: Any) -> timedelta:
    value = Decimal(target.target_value)
    if target.unit == Unit.BUSINESS_MINUTES:
        return timedelta(minutes=float(value))
    if target.unit == Unit.BUSINESS_HOURS:
        return timedelta(hours=float(value))
    return _business_day(calendar_spec_raw) * float(value)


class TermsBook:
    """The terms of policy versions by metric and priority, read once per policy for
    as long as the book lives (one call, one sweep batch)."""

    def __init__(self) -> None:
        self._targets: dict[int, list[SlaTarget]] = {}
        self._policies: dict[int, SlaPolicy] = {}
        self._terms: dict[tuple[int, str], tuple[pure.Terms, ...]] = {}

    def policy(self, policy_id: int) -> SlaPolicy:
        if policy_id not in self._policies:
            self._policies[policy_id] = SlaPolicy.objects.select_related("calendar").get(
                pk=policy_id
            )
        return self._policies[policy_id]

    def terms(self, policy_id: int, priority: str) -> tuple[pure.Terms, ...]:
        """One Terms per time metric the policy sets for this priority (a target for
        the priority, else the one for every priority)."""
        key = (policy_id, priority)
        if key not in self._terms:
            self._terms[key] = self._read(policy_id, priority)
        return self._terms[key]

    def _read(self, policy_id: int, priority: str) -> tuple[pure.Terms, ...]:
        policy = self.policy(policy_id)
        if policy_id not in self._targets:
            self._targets[policy_id] = list(
                SlaTarget.objects.filter(policy_id=policy_id, metric__in=TIME_METRICS)
                .select_related("calendar")
                .order_by("metric", "-priority")
            )
        chosen: dict[str, SlaTarget] = {}
        for target in self._targets[policy_id]:
            if target.priority == priority or (
                target.priority == "" and target.metric not in chosen
            ):
                chosen[target.metric] = target
        out = []
        for metric, target in sorted(chosen.items()):
            spec = (target.calendar or policy.calendar).spec
            out.append(
                pure.Terms(
                    metric=pure.Metric(metric),
                    target=target_duration(target, spec),
                    calendar=BusinessCalendar.from_spec(spec),
                    pause_statuses=frozenset(policy.pause_statuses or ()),
                    thresholds=tuple(int(p) for p in policy.warning_percents or ()),
                    policy_id=policy.pk,
                )
            )
        return tuple(out)


# ------------------------------------------------------------------ rows


def _fill(row: SlaClock, clock: pure.Clock) -> SlaClock:
    row.metric = clock.metric.value
    row.policy_id = clock.policy_id
    row.state = clock.state.value
    row.target = clock.target
    row.started_at = clock.started_at
    row.due_at = clock.due_at
    row.original_due_at = clock.original_due_at
    row.paused = clock.paused
    row.stopped_at = clock.stopped_at
    row.fired = list(clock.fired)
    row.next_check_at = clock.next_check_at
    row.breached = pure.BREACH in clock.fired or clock.state == pure.State.BREACHED
    row.data = clock.to_dict()
    return row


def clock_of(row: SlaClock) -> pure.Clock:
    return pure.Clock.from_dict(row.data)


def _due(clocks: Iterable[pure.Clock]) -> datetime | None:
    """The item's due time for routing: the earliest of its live clocks."""
    dues = [c.due_at for c in clocks if not c.is_stopped and c.due_at is not None]
    return min(dues, default=None)


@dataclass(frozen=True)
class ItemFacts:
    """What starting an item's clocks needs (the COPY intake path has no instances)."""

    id: int
    client_id: int
    provider_id: int
    policy_id: int | None
    priority: str
    status: str


def facts(item: WorkItem) -> ItemFacts:
    return ItemFacts(
        item.pk,
        item.client_id,
        item.provider_id,
        item.process.sla_policy_id,
        item.priority,
        item.status,
    )


def clocks_start(items: Sequence[ItemFacts], *, at: datetime) -> dict[int, datetime | None]:
    """Start the clocks of freshly created items (those whose process has an SLA
    policy), in bulk; sets and returns their due times."""
    book = TermsBook()
    rows: list[SlaClock] = []
    due: dict[int, datetime | None] = {}
    for item in items:
        if item.policy_id is None:
            continue
        started = [
            pure.start(t, at, item.status) for t in book.terms(item.policy_id, item.priority)
        ]
        for clock in started:
            rows.append(
                _fill(
                    SlaClock(
                        item_id=item.id,
                        client_id=item.client_id,
                        provider_id=item.provider_id,
                        priority=item.priority,
                    ),
                    clock,
                )
            )
        due[item.id] = _due(started)
    if rows:
        SlaClock.objects.bulk_create(rows)
        by_due: dict[datetime | None, list[int]] = {}
        for item_id, when in due.items():
            by_due.setdefault(when, []).append(item_id)
        for when, ids in by_due.items():
            WorkItem.objects.filter(pk__in=ids).update(due_at=when)
    return due


# ------------------------------------------------------------------ events


def kind_of(event_type: str, data: Mapping[str, Any]) -> pure.Kind | None:
    """What an item event is to its clocks, or None: decided from the event alone, so
    events that move no clock (notes, offers, signals) never read the clocks."""
    if event_type in CLOCK_EVENTS:
        return None
    if event_type == "replied":
        public_provider = data.get("public") and data.get("from") not in CUSTOMER_SIDES
        return pure.Kind.REPLY if public_provider else None
    if event_type == "reprioritized":
        # Raised by an escalation rule: routing order only, never the targets.
        return pure.Kind.RECLASSIFIED if data.get("by") == "person" else None
    if event_type == "sla_policy_changed":
        return pure.Kind.REPOLICIED
    to_status = data.get("to_status")
    if not to_status:
        return None
    if event_type == "reopened":
        return pure.Kind.REOPENED
    if to_status == "completed":
        return pure.Kind.COMPLETED
    if to_status == "cancelled":
        return pure.Kind.CANCELLED
    return pure.Kind.STATUS


def happening_of(
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
    *,
    book: TermsBook,
    policy_ids: Iterable[int],
) -> pure.Happening | None:
    """The happening an item event is to its clocks, or None."""
    kind = kind_of(event_type, data)
    if kind is None:
        return None
    if kind is pure.Kind.RECLASSIFIED:
        terms = tuple(t for pid in set(policy_ids) for t in book.terms(pid, str(data["to"])))
        return pure.Happening(kind, at, terms=terms)
    if kind is pure.Kind.REPOLICIED:
        return pure.Happening(kind, at, terms=book.terms(int(data["to"]), str(data["priority"])))
    if kind in {pure.Kind.REOPENED, pure.Kind.STATUS}:
        return pure.Happening(kind, at, status=str(data["to_status"]))
    return pure.Happening(kind, at)


@dataclass(frozen=True)
class Fired:
    """A signal of one clock, to be recorded as an item event."""

    row: SlaClock
    signal: pure.Signal

    @property
    def event_type(self) -> str:
        return SIGNAL_EVENTS[self.signal.kind]

    @property
    def event_data(self) -> dict[str, Any]:
        return {"metric": self.signal.metric.value, "percent": self.signal.percent}


def _advance_rows(
    rows: Sequence[SlaClock],
    happening: pure.Happening,
    book: TermsBook,
    *,
    new_priority: str | None = None,
) -> list[Fired]:
    """Apply a happening to clock rows; `new_priority` names the priority whose terms
    a reclassification or repolicy brings."""
    fired: list[Fired] = []
    changed: list[SlaClock] = []
    for row in rows:
        before = clock_of(row)
        terms = terms_of(row, book)
        if terms is None:
            continue
        after, _, signals = pure.apply(before, terms, happening)
        if after is not before:
            if new_priority is not None and not after.is_stopped:
                row.priority = new_priority
            changed.append(_fill(row, after))
        fired += [Fired(row, s) for s in signals]
    if changed:
        _save(changed, TICK_COLUMNS if happening.kind == pure.Kind.TICK else tuple(_COLUMNS)[1:])
    return fired


# Column: (its array type, its value in a row), for _save.
_COLUMNS: dict[str, tuple[str, Callable[[SlaClock], Any]]] = {
    "id": ("bigint", lambda r: r.pk),
    "policy_id": ("bigint", lambda r: r.policy_id),
    "priority": ("text", lambda r: r.priority),
    "state": ("text", lambda r: r.state),
    "target": ("interval", lambda r: r.target),
    "started_at": ("timestamptz", lambda r: r.started_at),
    "due_at": ("timestamptz", lambda r: r.due_at),
    "original_due_at": ("timestamptz", lambda r: r.original_due_at),
    "paused": ("interval", lambda r: r.paused),
    "stopped_at": ("timestamptz", lambda r: r.stopped_at),
    "fired": ("jsonb", lambda r: json.dumps(r.fired)),
    "next_check_at": ("timestamptz", lambda r: r.next_check_at),
    "breached": ("boolean", lambda r: r.breached),
    "data": ("jsonb", lambda r: json.dumps(r.data)),
    "updated_at": ("timestamptz", lambda r: r.updated_at),
}
# What a tick can change.
TICK_COLUMNS = ("state", "fired", "next_check_at", "breached", "data", "updated_at")


def _save(rows: Sequence[SlaClock], columns: Sequence[str] = tuple(_COLUMNS)[1:]) -> None:
    """Write changed clock rows: one UPDATE from arrays on PostgreSQL (the ORM's
    bulk_update builds a CASE per field and row, too slow for a sweep's batch)."""
    now = timezone.now()
    for row in rows:
        row.updated_at = now
    if connection.vendor != "postgresql":
        SlaClock.objects.bulk_update(rows, CLOCK_FIELDS)
        return
    names = ["id", *columns]
    # JSON goes as text and is cast: a jsonb[] parameter would need its own adapter.
    types = [_COLUMNS[c][0].replace("jsonb", "text") for c in names]
    # Column names come from _COLUMNS, never from input.
    sql = (
        "UPDATE work_slaclock c SET "  # noqa: S608
        + ", ".join(
            f"{c} = v.{c}" + ("::jsonb" if _COLUMNS[c][0] == "jsonb" else "") for c in columns
        )
        + " FROM unnest("
        + ", ".join(f"%b::{t}[]" for t in types)
        + ") AS v("
        + ", ".join(names)
        + ") WHERE c.id = v.id"
    )
    values = [[_COLUMNS[c][1](r) for r in rows] for c in names]
    # Bound on the server, in binary (%b): quoting a batch's JSON as text is slower.
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, values)


def terms_of(row: SlaClock, book: TermsBook) -> pure.Terms | None:
    """The terms the clock row runs under (its policy version, priority and metric)."""
    for terms in book.terms(row.policy_id, row.priority):
        if terms.metric.value == row.metric:
            return terms
    return None


CLOCK_FIELDS = [
    "metric",
    "policy",
    "priority",
    "state",
    "target",
    "started_at",
    "due_at",
    "original_due_at",
    "paused",
    "stopped_at",
    "fired",
    "next_check_at",
    "breached",
    "data",
    "updated_at",
]


def clocks_advance(item: WorkItem, event: WorkItemEvent) -> list[Fired]:
    """Apply one new event of a locked item to its clocks; the signals to record."""
    if kind_of(event.type, event.data) is None:
        return []
    # Locked after the item, as the SLA sweep locks them, so neither overwrites the other.
    rows = list(SlaClock.objects.select_for_update().filter(item=item).order_by("metric"))
    if not rows:
        return []
    book = TermsBook()
    # An event stamped before a change the clocks already saw (a writer that waited
    # for the SLA sweep's lock) counts from that change: time never runs backwards.
    at = max(event.at, *(clock_of(r).updated_at for r in rows))
    happening = happening_of(
        event.type, event.data, at, book=book, policy_ids=[r.policy_id for r in rows]
    )
    if happening is None:
        return []
    new_priority = None
    if happening.kind == pure.Kind.RECLASSIFIED:
        new_priority = str(event.data["to"])
    elif happening.kind == pure.Kind.REPOLICIED:
        new_priority = str(event.data["priority"])
    fired = _advance_rows(rows, happening, book, new_priority=new_priority)
    due = _due(clock_of(r) for r in rows)
    if due != item.due_at:
        item.due_at = due
        WorkItem.objects.filter(pk=item.pk).update(due_at=due)
    return fired


def clocks_tick(rows: Sequence[SlaClock], at: datetime, book: TermsBook) -> list[Fired]:
    """Tick clocks (the sweep's step); saves them and returns what fired."""
    return _advance_rows(rows, pure.Happening(pure.Kind.TICK, at), book)


# ------------------------------------------------------------------ replay


def _fold(
    item: WorkItem, events: Sequence[WorkItemEvent], first_policy: int, book: TermsBook
) -> pure.Replay:
    """The item's clocks folded from `events` (its whole history, in order) under
    `first_policy` from its creation; each recorded warning or breach is a tick at
    its instant."""
    created = events[0]
    priority = str(created.data.get("priority", item.priority))
    status = "queued" if any(e.type == "queued" and e.at == created.at for e in events) else "new"
    happenings = [
        pure.Happening(pure.Kind.START, created.at, status, book.terms(first_policy, priority))
    ]
    policies = {first_policy}
    latest = created.at
    for event in events[1:]:
        if event.type in ("sla_warning", "sla_breached"):
            latest = max(latest, event.at)
            happenings.append(pure.Happening(pure.Kind.TICK, latest))
            continue
        at = max(event.at, latest)
        happening = happening_of(event.type, event.data, at, book=book, policy_ids=policies)
        if event.type == "sla_policy_changed":
            policies.add(int(event.data["to"]))
        if happening is not None:
            latest = at
            happenings.append(happening)
    return pure.replay(happenings)


def item_replay(item: WorkItem) -> dict[str, pure.Clock]:
    """The item's clocks folded from its events alone, from scratch, starting under
    the policy the item began with (the `from` of its first `sla_policy_changed`, or
    its clocks' policy)."""
    events = list(WorkItemEvent.objects.filter(item=item).order_by("seq"))
    rows = list(SlaClock.objects.filter(item=item))
    if not rows or not events:
        return {}
    first_policy = next(
        (int(e.data["from"]) for e in events if e.type == "sla_policy_changed"),
        rows[0].policy_id,
    )
    replayed = _fold(item, events, first_policy, TermsBook())
    return {m.value: c for m, c in replayed.clocks.items()}


def clocks_attach(item: WorkItem, policy_id: int, now: datetime) -> list[Fired]:
    """A policy attached to an item that has no clocks (its process got one): the
    clocks it would have had, from its history, then one tick at `now`, which
    signals at most the highest threshold passed per clock (an item already
    breached gets one breach, not a storm of warnings)."""
    events = list(WorkItemEvent.objects.filter(item=item).order_by("seq"))
    if not events or SlaClock.objects.filter(item=item).exists():
        return []
    book = TermsBook()
    replayed = _fold(item, events, policy_id, book)
    rows = [
        _fill(
            SlaClock(
                item_id=item.pk,
                client_id=item.client_id,
                provider_id=item.provider_id,
                priority=item.priority,
            ),
            clock,
        )
        for clock in replayed.clocks.values()
    ]
    SlaClock.objects.bulk_create(rows)
    fired = clocks_tick(rows, max(now, *(c.updated_at for c in replayed.clocks.values())), book)
    due = _due(clock_of(r) for r in rows)
    WorkItem.objects.filter(pk=item.pk).update(due_at=due)
    item.due_at = due
    return fired
