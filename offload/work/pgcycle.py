"""The pull -> complete cycle on PostgreSQL: one statement for each step.

A worker's claim and its completion of the item it holds are the hottest writes
in Offload. Each is a single statement of data-modifying CTEs: the statement is
its own transaction, so one round trip does the pick (SKIP LOCKED), the capacity,
the item, the lease, the event and its webhook outbox rows.

These are fast paths, not the rules: when a statement finds nothing to do (a stale
routing context, an item not in the holder's common case, a presence that is not
available), the caller falls back to the ORM services in offload.work.leases and
offload.work.services, which decide the answer and its errors. A test checks that
both paths write identical rows.

An item with SLA clocks needs more than the statement: its clocks follow the event
in the same transaction, in Python. So a statement runs either inside the caller's
transaction, or `alone` (autocommit, its own transaction, two round trips fewer per
cycle) when the caller expects no clocks; alone, it writes nothing for an item that
has clocks and says so (`needs_transaction`), and the caller runs it again inside
a transaction.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from offload.core import models as core_models
from offload.core import prepared
from offload.tenancy import visibility
from offload.tenancy.visibility import Principal
from offload.work.models import Assignment, RoutingVersion, WorkItem
from offload.work.routing import ANY_LANGUAGE, Grant

# The provider's backlog rows a pull reads first, in the pull's order (see
# _PROVIDER_HEAD_SQL): enough that 32 workers racing for the same head, each
# speaking some of its languages, still find one of theirs unlocked.
HEAD_ROWS = 64

# The order of the provider's backlog index (item_provider_backlog).
_PROVIDER_ORDER = ("priority", "due_at", "created_at")

# Candidates read per grant before the one to lock is chosen: enough that 32
# workers racing for the same head of a queue still find one unlocked.
CANDIDATES_PER_GRANT = 3

_ORDER_COLUMNS = {
    "priority": "i.priority",
    "due_at": "i.due_at NULLS LAST",
    "created_at": "i.created_at",
}

# A kept routing context is fresh while the worker's row is as it was read (its
# skills, languages, certifications and channels move its updated_at) and its
# provider's processes and queues have not changed since it was made (their
# routing version, which triggers keep: models.RoutingVersion).
_FRESH_SQL = """w.updated_at = %(worker_updated_at)s
        AND COALESCE((SELECT v.version FROM work_routingversion v
                      WHERE v.provider_id = w.provider_id), 0) = %(routing_version)s"""


def routing_version(provider_id: int) -> int:
    """The provider's routing version: read before what a routing context is made
    of, so a change made meanwhile makes the context stale, never wrongly fresh."""
    found = RoutingVersion.objects.filter(provider_id=provider_id).values_list("version", flat=True)
    return next(iter(found), 0)


# The worker's gate, its grants and the item picked. {load} is a channel row's load
# as the pull counts it; {also} a further condition on pulling at all.
_CLAIM_READS = """
gate AS (
    SELECT w.presence, w.is_active, {fresh} AS fresh
    FROM workers_worker w WHERE w.id = %(worker)s
),
open_channels AS (
    SELECT wc.channel FROM workers_workerchannel wc
    WHERE wc.worker_id = %(worker)s AND {load} < wc.capacity
),
g(queue_id, min_wait, channel, {slot_columns}) AS (
    -- A grant's languages in slots l1..lN (NULL past its own); '*' alone in l1.
    SELECT * FROM unnest(%(g_queue)s::bigint[], %(g_wait)s::float8[], %(g_channel)s::text[],
                         {slot_arrays})
),
open_grants AS (
    -- The grants of queues whose channel has capacity left; nothing if the gate is shut.
    SELECT g.* FROM g
    WHERE g.channel IN (SELECT channel FROM open_channels)
      AND EXISTS (SELECT 1 FROM gate WHERE fresh AND is_active AND presence = 'available'){also}
),
{picking}
clocked AS (
    SELECT EXISTS (SELECT 1 FROM work_slaclock c WHERE c.item_id = (SELECT id FROM picked))
        AS yes
),"""

# The claim's writes, once `taken` holds a unit of the worker's capacity for the
# picked item. {after}: what the `assigned` event waits for.
_CLAIM_WRITES = """
upd AS (
    UPDATE work_workitem i
    SET status = 'assigned', assignee_id = %(user)s, updated_at = %(now)s
    FROM picked p
    WHERE i.id = p.id AND EXISTS (SELECT 1 FROM taken)
    RETURNING i.*, p.status AS before
),
lease AS (
    INSERT INTO work_assignment
        (item_id, worker_id, client_id, provider_id, assigned_at, lease_expires_at,
         how, work_seconds, wrap_seconds, created_at, updated_at, end_reason)
    SELECT u.id, %(worker)s, u.client_id, u.provider_id, %(now)s,
           %(now)s + q.lease_seconds * interval '1 second', 'pull', 0, 0, %(now)s, %(now)s, ''
    FROM upd u JOIN work_queue q ON q.id = u.queue_id
    RETURNING id, item_id, lease_expires_at
),
ev AS (
    INSERT INTO work_workitemevent
        (item_id, client_id, provider_id, seq, type, at, actor_user_id, actor_api_key_id,
         actor_label, data)
    SELECT u.id, u.client_id, u.provider_id,
           (SELECT COALESCE(MAX(e.seq), 0) + 1 FROM work_workitemevent e WHERE e.item_id = u.id),
           'assigned', %(now)s, %(user)s, %(api_key)s, %(label)s,
           jsonb_build_object('from_status', u.before, 'to_status', 'assigned',
                              'worker', %(worker)s, 'how', 'pull',
                              'lease_expires_at', to_char(l.lease_expires_at AT TIME ZONE 'UTC',
                                                          'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
    FROM upd u JOIN lease l ON l.item_id = u.id{after}
    RETURNING id, item_id, client_id, provider_id
),
hooks AS ({hooks}
),"""

# The claim's answer: the item and its lease, or why there is none.
_CLAIMED = """u.*, l.id AS lease_id, l.lease_expires_at AS lease_until, {slugs},
       (SELECT yes FROM clocked) AS has_clocks,
       gate.fresh AS gate_fresh, gate.presence AS gate_presence,
       gate.is_active AS gate_active, {candidates} AS gate_candidates
FROM gate
LEFT JOIN (upd u JOIN lease l ON l.item_id = u.id) ON true"""

# Data-modifying CTEs run to completion whether or not the final SELECT reads them,
# so the ones nothing reads return nothing.
_CLAIM_SQL = """
WITH {reads}
taken AS (
    -- Every write hangs on this one: alone, nothing is written for an item with clocks.
    UPDATE workers_workerchannel wc SET load = wc.load + 1
    FROM picked p
    WHERE wc.worker_id = %(worker)s AND wc.channel = p.channel AND wc.load < wc.capacity
      AND NOT (%(alone)s AND (SELECT yes FROM clocked))
    RETURNING wc.id
),{writes}
busy AS (
    UPDATE workers_worker SET idle_since = NULL
    WHERE id = %(worker)s AND idle_since IS NOT NULL AND EXISTS (SELECT 1 FROM upd)
)
SELECT {claimed}
"""

# The item's process and queue slugs, read along for the API's answer.
_SLUGS_SQL = """
    (SELECT p.slug FROM contracts_process p WHERE p.id = u.process_id) AS process_slug,
    (SELECT q.slug FROM work_queue q WHERE q.id = u.queue_id) AS queue_slug"""

# Each grant's own backlog head: the pull's candidates when the provider's head has
# none this worker may take (or all of them are taken), or when the queue orders
# otherwise. {when} is that condition.
_GRANT_HEADS_SQL = """
cand AS (
    -- The head of each grant's backlog in the pull's order. Each of its languages is
    -- read from the partial index on (queue, language, priority, due_at, created_at,
    -- id), so no other language's items are stepped over, and the heads merged; '*'
    -- (every language) from the one on (queue, priority, due_at, created_at, id).
    -- Sorted instead for a queue ordered otherwise.
    SELECT c.id FROM open_grants g CROSS JOIN LATERAL (
        SELECT h.id FROM (
{branches}
        ) h
        ORDER BY {merged}, h.id
        LIMIT %(per_grant)s
    ) c
    WHERE {when}
),"""

# Lock the best of {source}'s candidates that no one else holds.
_LOCK_SQL = """
    SELECT i.id, i.channel, i.client_id, i.provider_id, i.queue_id, i.status
    FROM {source} c JOIN work_workitem i ON i.id = c.id
    WHERE i.status IN ('queued', 'escalated')
    ORDER BY {ordering}, i.id
    LIMIT 1
    FOR UPDATE OF i SKIP LOCKED"""

# In the pull's own order, the provider's backlog is read first: its first
# HEAD_ROWS items, whoever's, of which the worker's grants keep theirs. When one of
# those is the worker's to take, it is the best the worker may take: every item it
# may take outside the head comes later in the same order. Only when none is (the
# head is other teams', languages', or all taken) are the grants' own heads read,
# so a pull costs one short read in the common case and stays bounded in the other.
_PROVIDER_HEAD_SQL = """
head AS (
    SELECT i.id, i.queue_id, i.language, COALESCE(i.queued_at, i.created_at) AS since
    FROM work_workitem i
    WHERE i.provider_id = %(provider)s AND i.status IN ('queued', 'escalated')
    ORDER BY {ordering}, i.id
    LIMIT %(head_rows)s
),
head_cand AS (
    SELECT h.id FROM head h JOIN open_grants g ON g.queue_id = h.queue_id
    WHERE (g.l1 = '*' OR h.language IN ({slot_columns}))
      AND h.since <= %(now)s - g.min_wait * interval '1 second'
),{rest}"""

# Past the head, the grants' own heads (_GRANT_HEADS_SQL) when the head has nothing.
_PAST_THE_HEAD_SQL = """
picked_head AS ({lock_head}
),
{grant_heads}
picked_rest AS ({lock_rest}
),
picked AS (
    SELECT * FROM picked_head UNION ALL SELECT * FROM picked_rest
),"""

# The head alone (Pull.head_only): when it has nothing to take, the statement says
# so (ClaimOutcome.head_missed) and writes nothing; the caller then runs the one
# that reads past it. A statement planned without the grants' heads is a fifth
# smaller, and starting and ending its plan is most of what a pull costs.
_HEAD_ONLY_SQL = """
picked AS ({lock_head}
),"""


# A queue ordered otherwise: its own head alone, sorted.
_GRANT_HEADS_ONLY_SQL = """{grant_heads}
picked AS ({lock}
),"""


# The webhook outbox row of each subscribed endpoint, written with the {event_type}
# event of {events}.
_HOOKS_SQL = """
    INSERT INTO work_webhookdelivery
        (created_at, updated_at, client_id, provider_id, endpoint_id, item_id, event_id,
         status, attempts, next_attempt_at, last_error)
    SELECT %(now)s, %(now)s, ev.client_id, ev.provider_id, e.id, ev.item_id, ev.id,
           'pending', 0, %(now)s, ''
    FROM {events} ev JOIN work_webhookendpoint e
      ON e.client_id = ev.client_id AND e.is_active
     AND (e.event_types @> '["{event_type}"]'::jsonb OR e.event_types @> '["*"]'::jsonb)"""


@dataclass(frozen=True)
class ClaimOutcome:
    """What the claim statement found. `item` and `lease` when it assigned one;
    otherwise `decided` says whether "nothing to take" is the answer (True) or the
    caller must find out on the general path (a stale context, an unavailable or
    inactive worker, or every candidate taken by others meanwhile)."""

    item: WorkItem | None
    lease: Assignment | None
    decided: bool
    # The item has SLA clocks: they must follow the `assigned` event. Without an
    # item: run alone, it picked one with clocks and wrote nothing.
    has_clocks: bool = False
    # Read the provider's head alone (Pull.head_only) and found nothing there to
    # take: the statement that reads past it is still to run.
    head_missed: bool = False

    @property
    def needs_transaction(self) -> bool:
        return self.item is None and self.has_clocks


@dataclass(frozen=True)
class GrantArrays:
    """A worker's grants as the claim statement's array parameters, in PostgreSQL's
    text form: made once per routing context, not dumped again on every pull."""

    queues: str
    languages: tuple[str, ...]  # one array per slot: each grant's n-th language
    waits: str
    channels: str
    slots: int  # the most languages of one queue and wait
    any_language: bool  # some grant is for items of every language


def grant_arrays(grants: Sequence[Grant], queue_channels: Mapping[int, str]) -> GrantArrays:
    """One read per queue and wait: the grants' languages together ('*', every
    language, alone when granted)."""
    by_wait: dict[tuple[int, float], set[str]] = {}
    for grant in grants:
        languages = by_wait.setdefault((grant.queue_id, float(min(grant.min_wait_s, 10**9))), set())
        languages.add(grant.language)
    for languages in by_wait.values():
        if ANY_LANGUAGE in languages:
            languages.intersection_update({ANY_LANGUAGE})
    in_order = [sorted(languages) for languages in by_wait.values()]
    slots = max((len(ordered) for ordered in in_order), default=1)
    return GrantArrays(
        queues=_array([queue_id for queue_id, _ in by_wait]),
        languages=tuple(
            _array([ordered[slot] if slot < len(ordered) else None for ordered in in_order])
            for slot in range(slots)
        ),
        waits=_array([wait for _, wait in by_wait]),
        channels=_array([queue_channels[queue_id] for queue_id, _ in by_wait]),
        slots=slots,
        any_language=any(ordered == [ANY_LANGUAGE] for ordered in in_order),
    )


def _array(values: Sequence[int | float | str | None]) -> str:
    def element(value: int | float | str | None) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, str):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return repr(value)

    return "{" + ",".join(element(value) for value in values) + "}"


@dataclass(frozen=True)
class Pull:
    """Who pulls and what it may take: the claim's inputs. `per_grant` bounds the
    candidates read from each grant's backlog (None: all of them, exact)."""

    worker_id: int
    user_id: int
    provider_id: int
    # What the context was made from (_FRESH_SQL): the statement refuses it stale.
    worker_updated_at: datetime
    routing_version: int
    arrays: GrantArrays
    ordering: tuple[str, ...]
    per_grant: int | None
    # Read the provider's head alone (_HEAD_ONLY_SQL); only in the provider's order.
    head_only: bool = False

    @property
    def reads_head_alone(self) -> bool:
        return self.head_only and self.ordering == _PROVIDER_ORDER

    @property
    def shape(self) -> tuple[tuple[str, ...], int, bool, bool]:
        """What its statement is compiled for: the ordering, the grants' shape and
        how far it reads."""
        return self.ordering, self.arrays.slots, self.arrays.any_language, self.reads_head_alone


def claim(*, actor: Principal, pull: Pull, now: datetime, alone: bool = False) -> ClaimOutcome:
    """Pick, lock and assign the best item the grants allow, of the worker's
    provider. `alone`: the statement is its own transaction (see the module's
    docstring)."""
    params = _pull_params(actor, pull, now, alone)
    row = prepared.fetch(_claim_statement(*pull.shape), params)[0]
    return _claimed(row, pull, now, alone)


def _pull_params(actor: Principal, pull: Pull, now: datetime, alone: bool) -> dict[str, Any]:
    arrays = pull.arrays
    return {
        "worker_updated_at": pull.worker_updated_at,
        "routing_version": pull.routing_version,
        "worker": pull.worker_id,
        "user": pull.user_id,
        "g_queue": arrays.queues,
        **{f"g_l{slot}": column for slot, column in enumerate(arrays.languages, start=1)},
        "g_wait": arrays.waits,
        "g_channel": arrays.channels,
        "per_grant": pull.per_grant,
        "provider": pull.provider_id,
        "head_rows": HEAD_ROWS,
        **_actor_params(actor, now, alone),
    }


def _actor_params(actor: Principal, now: datetime, alone: bool) -> dict[str, Any]:
    """Who writes the events, when, and whether the statement is its own transaction."""
    return {
        "now": now,
        "api_key": actor.api_key.pk if actor.api_key else None,
        "label": actor.label,
        "alone": alone,
    }


def _claimed(row: Mapping[str, Any], pull: Pull, now: datetime, alone: bool) -> ClaimOutcome:
    """The claim's answer from its row (_CLAIMED's columns)."""
    if row["id"] is None:
        if alone and row["has_clocks"]:
            return ClaimOutcome(None, None, decided=False, has_clocks=True)
        usable = row["gate_fresh"] and row["gate_active"] and row["gate_presence"] == "available"
        if usable and pull.reads_head_alone and row["gate_candidates"] > 0:
            return ClaimOutcome(None, None, decided=False, head_missed=True)
        return ClaimOutcome(None, None, decided=bool(usable) and row["gate_candidates"] == 0)
    item = _item(row)
    # The lease as _CLAIM_WRITES inserted it.
    lease = core_models.loaded_instance(
        Assignment,
        {
            "id": row["lease_id"],
            "item_id": item.pk,
            "worker_id": pull.worker_id,
            "client_id": item.client_id,
            "provider_id": item.provider_id,
            "assigned_at": now,
            "lease_expires_at": row["lease_until"],
            "how": "pull",
            "work_seconds": 0,
            "wrap_seconds": 0,
            "wrap_up_until": None,
            "ended_at": None,
            "end_reason": "",
            "created_at": now,
            "updated_at": now,
        },
    )
    return ClaimOutcome(item, lease, decided=True, has_clocks=bool(row["has_clocks"]))


# One branch of a grant's backlog read: its language in slot {slot}, or '*'.
_HEAD_SQL = """
            (SELECT i.id, i.priority, i.due_at, i.created_at
             FROM work_workitem i
             WHERE i.queue_id = g.queue_id AND {language}
               AND i.status IN ('queued', 'escalated')
               AND COALESCE(i.queued_at, i.created_at)
                   <= %(now)s - g.min_wait * interval '1 second'
             ORDER BY {ordering}, i.id
             LIMIT %(per_grant)s)"""


@functools.cache
def _claim_statement(
    ordering: tuple[str, ...], slots: int, any_language: bool, head_only: bool
) -> prepared.Statement:
    """The claim for this ordering and the shape of a worker's grants (_claim_reads)."""
    return prepared.statement(
        _CLAIM_SQL.format(
            reads=_claim_reads(ordering, slots, any_language, head_only),
            writes=_claim_writes(after=""),
            claimed=_claimed_columns(ordering, head_only),
        )
    )


def _claim_reads(
    ordering: tuple[str, ...],
    slots: int,
    any_language: bool,
    head_only: bool,
    load: str = "wc.load",
    also: str = "",
) -> str:
    """The claim's reads for this ordering and a worker whose grants have at most
    `slots` languages per queue (a slot past a grant's languages is NULL and reads
    nothing), reading the backlog of every language only for a worker granted it
    ('*'). In the order of the provider's backlog index, it reads the provider's
    head first, and past it unless `head_only`."""
    order = ", ".join(_ORDER_COLUMNS[key] for key in ordering)
    languages = [f"i.language = g.l{slot} AND g.l1 <> '*'" for slot in range(1, slots + 1)]
    if any_language:
        languages.append("g.l1 = '*'")
    branches = "\n            UNION ALL".join(
        _HEAD_SQL.format(language=language, ordering=order) for language in languages
    )
    slot_names = [f"l{slot}" for slot in range(1, slots + 1)]
    grant_heads = functools.partial(
        _GRANT_HEADS_SQL.format, branches=branches, merged=order.replace("i.", "h.")
    )
    if ordering == _PROVIDER_ORDER:
        lock_head = _LOCK_SQL.format(source="head_cand", ordering=order)
        if head_only:
            rest = _HEAD_ONLY_SQL.format(lock_head=lock_head)
        else:
            rest = _PAST_THE_HEAD_SQL.format(
                lock_head=lock_head,
                grant_heads=grant_heads(when="NOT EXISTS (SELECT 1 FROM picked_head)"),
                lock_rest=_LOCK_SQL.format(source="cand", ordering=order),
            )
        picking = _PROVIDER_HEAD_SQL.format(
            ordering=order,
            slot_columns=", ".join(f"g.{name}" for name in slot_names),
            rest=rest,
        )
    else:
        picking = _GRANT_HEADS_ONLY_SQL.format(
            grant_heads=grant_heads(when="true"),
            lock=_LOCK_SQL.format(source="cand", ordering=order),
        )
    return _CLAIM_READS.format(
        fresh=_FRESH_SQL,
        load=load,
        slot_columns=", ".join(slot_names),
        slot_arrays=", ".join(f"%(g_l{slot})s::text[]" for slot in range(1, slots + 1)),
        also=also,
        picking=picking,
    )


def _claim_writes(after: str) -> str:
    return _CLAIM_WRITES.format(
        after=after, hooks=_HOOKS_SQL.format(events="ev", event_type="assigned")
    )


def _claimed_columns(ordering: tuple[str, ...], head_only: bool) -> str:
    """_CLAIMED's columns; `gate_candidates` counts the candidates read, or, of the
    head alone, the grants still open past it (none: nothing to look further for)."""
    if head_only:  # only ever in the provider's order (Pull.reads_head_alone)
        candidates = "(SELECT count(*) FROM open_grants)"
    elif ordering == _PROVIDER_ORDER:
        candidates = "((SELECT count(*) FROM head_cand) + (SELECT count(*) FROM cand))"
    else:
        candidates = "(SELECT count(*) FROM cand)"
    return _CLAIMED.format(slugs=_SLUGS_SQL, candidates=candidates)


# The completion of the item {item} reads, by the worker holding it ({holder}:
# a further condition on the lease), up to its event and its webhook rows.
_DONE = """
cur AS (
    {item}
),
done_clocked AS (
    SELECT EXISTS (SELECT 1 FROM work_slaclock c WHERE c.item_id = (SELECT id FROM cur)) AS yes
),
held AS (
    SELECT a.id, a.worker_id, w.kind FROM work_assignment a
    JOIN workers_worker w ON w.id = a.worker_id
    JOIN cur ON cur.id = a.item_id
    WHERE a.ended_at IS NULL AND w.user_id = %(user)s{holder}
      -- Every write hangs on this one: alone, nothing is written for an item with clocks.
      AND NOT (%(alone)s AND (SELECT yes FROM done_clocked))
    FOR UPDATE OF a
),
wrap AS (
    SELECT CASE WHEN h.kind = 'agent' THEN p.wrap_up_seconds ELSE 0 END AS seconds
    FROM held h CROSS JOIN cur JOIN contracts_process p ON p.id = cur.process_id
),
done AS (
    UPDATE work_workitem i
    SET status = 'completed', outcome = %(outcome)s, result = %(result)s::jsonb,
        completed_at = %(now)s, updated_at = %(now)s
    FROM cur, held
    WHERE i.id = cur.id
    RETURNING i.*, cur.status AS before
),
done_lease AS (
    UPDATE work_assignment a
    SET ended_at = %(now)s, end_reason = 'completed', updated_at = %(now)s,
        work_seconds = GREATEST(0, floor(extract(epoch FROM %(now)s - a.assigned_at)))::int,
        wrap_up_until = CASE WHEN wrap.seconds > 0
                             THEN %(now)s + wrap.seconds * interval '1 second' END
    FROM held, wrap
    WHERE a.id = held.id AND EXISTS (SELECT 1 FROM done)
),
done_ev AS (
    INSERT INTO work_workitemevent
        (item_id, client_id, provider_id, seq, type, at, actor_user_id, actor_api_key_id,
         actor_label, data)
    SELECT u.id, u.client_id, u.provider_id,
           (SELECT COALESCE(MAX(e.seq), 0) + 1 FROM work_workitemevent e WHERE e.item_id = u.id),
           'completed', %(now)s, %(user)s, %(api_key)s, %(label)s,
           jsonb_build_object('from_status', u.before, 'to_status', 'completed')
           || %(data)s::jsonb
    FROM done u
    RETURNING id, item_id, client_id, provider_id
),
done_hooks AS ({hooks}
),"""

_COMPLETE_SQL = """
WITH {done}
cap AS (
    -- Without a wrap-up the holder's unit of capacity is free at once.
    UPDATE workers_workerchannel wc SET load = wc.load - 1
    FROM held, wrap, cur
    WHERE wc.worker_id = held.worker_id AND wc.channel = cur.channel AND wc.load > 0
      AND wrap.seconds = 0 AND EXISTS (SELECT 1 FROM done)
    RETURNING wc.id, wc.load
),
idle AS (
    -- Idle from now if it holds nothing any more (the statement sees loads before
    -- `cap`, so the row `cap` changed is read from its RETURNING).
    UPDATE workers_worker w SET idle_since = %(now)s
    FROM held, wrap
    WHERE w.id = held.worker_id AND w.presence = 'available' AND wrap.seconds = 0
      AND EXISTS (SELECT 1 FROM done)
      AND NOT EXISTS (SELECT 1 FROM cap WHERE cap.load > 0)
      AND NOT EXISTS (
        SELECT 1 FROM workers_workerchannel o
        WHERE o.worker_id = held.worker_id AND o.load > 0 AND o.id NOT IN (SELECT id FROM cap)
      )
)
SELECT u.*, {slugs}, (SELECT yes FROM done_clocked) AS has_clocks
FROM cur LEFT JOIN done u ON true
"""

# Complete the item the worker holds and take its next one, as the two statements
# above in turn would. A statement changes a row once, so the worker's capacity and
# idleness are each one change: the completed item's unit is freed (`freed`, none in
# a wrap-up) and the pull counts it free; the pull waits for the completion, and
# its event for the completion's, so the events keep their order.
_COMPLETE_AND_CLAIM_SQL = """
WITH {done}
freed AS (
    SELECT cur.channel FROM cur, wrap WHERE wrap.seconds = 0 AND EXISTS (SELECT 1 FROM done)
),{reads}
cap AS (
    -- A unit freed on the channel of the next item is the one it takes: no room is
    -- needed then. Otherwise as the claim's `taken`.
    UPDATE workers_workerchannel wc SET load = GREATEST(wc.load - d.freed, 0) + d.took
    FROM (
        SELECT channel, max(freed) AS freed, max(took) AS took FROM (
            SELECT channel, 1 AS freed, 0 AS took FROM freed
            UNION ALL
            SELECT channel, 0, 1 FROM picked WHERE NOT (%(alone)s AND (SELECT yes FROM clocked))
        ) c GROUP BY channel
    ) d
    WHERE wc.worker_id = %(worker)s AND wc.channel = d.channel
      AND (d.took = 0 OR d.freed = 1 OR wc.load < wc.capacity)
    RETURNING wc.id, wc.load, d.took
),
taken AS (
    SELECT id FROM cap WHERE took = 1
),{writes}
idle AS (
    -- Busy with the next item (a row already busy is left alone); else idle from
    -- now if it holds nothing any more.
    UPDATE workers_worker w
    SET idle_since = CASE WHEN EXISTS (SELECT 1 FROM upd) THEN NULL ELSE %(now)s END
    WHERE w.id = %(worker)s AND (
        (EXISTS (SELECT 1 FROM upd) AND w.idle_since IS NOT NULL)
        OR (w.presence = 'available' AND EXISTS (SELECT 1 FROM freed)
            AND NOT EXISTS (SELECT 1 FROM cap WHERE cap.load > 0)
            AND NOT EXISTS (
              SELECT 1 FROM workers_workerchannel o
              WHERE o.worker_id = w.id AND o.load > 0 AND o.id NOT IN (SELECT id FROM cap)
            ))
    )
)
-- The completed item, then the next one: the columns of _CLAIMED.
SELECT 'done' AS part, u.*, NULL::bigint AS lease_id, NULL::timestamptz AS lease_until, {slugs},
       (SELECT yes FROM done_clocked) AS has_clocks, NULL::boolean AS gate_fresh,
       NULL::text AS gate_presence, NULL::boolean AS gate_active, NULL::bigint AS gate_candidates
FROM cur LEFT JOIN done u ON true
UNION ALL
SELECT 'next', {claimed}
"""

# The holder's common case: it holds the item and is working it.
HELD_STATUSES = ("assigned", "in_progress")


@dataclass(frozen=True)
class Completed:
    """`item` when the statement completed it; None when, run alone, it found clocks
    and wrote nothing (`needs_transaction`)."""

    item: WorkItem | None
    # The item has SLA clocks: they must follow the `completed` event.
    has_clocks: bool

    @property
    def needs_transaction(self) -> bool:
        return self.item is None


def complete(
    *,
    actor: Principal,
    item_id: int,
    outcome: str,
    result: Mapping[str, Any],
    data: Mapping[str, Any],
    now: datetime,
    alone: bool = False,
) -> Completed | None:
    """Complete an item the caller holds and works on, in one statement; None when
    that is not the case (the general path decides what is). `alone`: the statement
    is its own transaction (see the module's docstring)."""
    assert actor.user is not None
    statement, item_params = _complete_statement(actor)
    params = {
        **_done_params(actor, item_id, item_params, outcome, result, data, now, alone),
        "user": actor.user.pk,
    }
    rows = prepared.fetch(statement, params)
    return _completed(rows[0], alone) if rows else None


def complete_and_claim(
    *,
    actor: Principal,
    item_id: int,
    outcome: str,
    result: Mapping[str, Any],
    data: Mapping[str, Any],
    pull: Pull,
    now: datetime,
    alone: bool = False,
) -> tuple[Completed, ClaimOutcome] | None:
    """Complete the item `pull`'s worker holds and works on, and take its next one, in
    one statement: what complete() then claim() would write. None when the item is
    not held so (nothing written). Alone, an item with clocks (either) is not written
    and says so: the completion's, by `needs_transaction`, then nothing else is; the
    next item's, by the claim's, once the completion is."""
    statement, item_params = _complete_and_claim_statement(actor, *pull.shape)
    params = {
        **_pull_params(actor, pull, now, alone),
        **_done_params(actor, item_id, item_params, outcome, result, data, now, alone),
    }
    by_part = {row["part"]: row for row in prepared.fetch(statement, params)}
    done = _completed(by_part["done"], alone) if "done" in by_part else None
    if done is None:
        return None
    return done, _claimed(by_part["next"], pull, now, alone)


def _done_params(
    actor: Principal,
    item_id: int,
    item_params: Mapping[str, Any],
    outcome: str,
    result: Mapping[str, Any],
    data: Mapping[str, Any],
    now: datetime,
    alone: bool,
) -> dict[str, Any]:
    return {
        **{name: item_id if value == _ITEM else value for name, value in item_params.items()},
        "outcome": outcome,
        "result": json.dumps(dict(result)),
        "data": json.dumps(dict(data)),
        **_actor_params(actor, now, alone),
    }


def _completed(row: Mapping[str, Any], alone: bool) -> Completed | None:
    """The completion's answer from its row; None: not the holder's common case."""
    if row["id"] is None:
        return Completed(None, has_clocks=True) if alone and row["has_clocks"] else None
    return Completed(_item(row), has_clocks=bool(row["has_clocks"]))


# The item id in the cached item query, replaced by the real one at each run.
_ITEM = -(2**62)


@functools.lru_cache(maxsize=4096)
def _complete_statement(actor: Principal) -> tuple[prepared.Statement, dict[str, Any]]:
    """The complete statement for this caller, and its item query's parameters (the
    id as _ITEM)."""
    named: dict[str, Any] = {}
    sql = _COMPLETE_SQL.format(done=_done(actor, named, holder=""), slugs=_SLUGS_SQL)
    return prepared.statement(sql), named


@functools.lru_cache(maxsize=4096)
def _complete_and_claim_statement(
    actor: Principal, ordering: tuple[str, ...], slots: int, any_language: bool, head_only: bool
) -> tuple[prepared.Statement, dict[str, Any]]:
    """complete_and_claim's statement for this caller and the shape of its grants,
    and its item query's parameters (the id as _ITEM)."""
    named: dict[str, Any] = {}
    sql = _COMPLETE_AND_CLAIM_SQL.format(
        done=_done(actor, named, holder="\n        AND a.worker_id = %(worker)s"),
        reads=_claim_reads(
            ordering,
            slots,
            any_language,
            head_only,
            load="wc.load - (SELECT count(*) FROM freed f WHERE f.channel = wc.channel)",
            also="\n      AND EXISTS (SELECT 1 FROM done)",
        ),
        writes=_claim_writes(after="\n    WHERE EXISTS (SELECT 1 FROM done_ev)"),
        slugs=_SLUGS_SQL,
        claimed=_claimed_columns(ordering, head_only),
    )
    return prepared.statement(sql), named


def _done(actor: Principal, named: dict[str, Any], holder: str) -> str:
    """_DONE for this caller, its item query's parameters added to `named`. The item
    is read as the visibility module lets the caller see it, which depends on the
    principal alone, so its statements are compiled once per principal."""
    item_sql, item_params = (
        visibility.visible(actor, WorkItem.objects.filter(pk=_ITEM, status__in=HELD_STATUSES))
        .values("id", "status", "channel", "process_id")
        .query.sql_with_params()
    )
    # Locked here, not by select_for_update(), which refuses to compile outside a
    # transaction: the statement is its own.
    item_sql += " FOR UPDATE"
    return _DONE.format(
        item=_named(item_sql, list(item_params), named),
        holder=holder,
        hooks=_HOOKS_SQL.format(events="done_ev", event_type="completed"),
    )


# Per column of a WorkItem: its attribute, and how the ORM converts it (JSON decoded).
_ITEM_LOADS = tuple(
    (field.attname, field.column, getattr(field, "from_db_value", None))
    for field in WorkItem._meta.concrete_fields
)


def _item(row: Mapping[str, Any]) -> WorkItem:
    """A WorkItem from its columns, converted as the ORM would, with its process's
    and queue's slugs."""
    db = connections[DEFAULT_DB_ALIAS]
    item = core_models.loaded_instance(
        WorkItem,
        {
            attname: row[column] if convert is None else convert(row[column], None, db)
            for attname, column, convert in _ITEM_LOADS
        },
    )
    item.process_slug, item.queue_slug = row["process_slug"], row["queue_slug"]
    return item


def _named(sql: str, values: list[Any], into: dict[str, Any]) -> str:
    """The ORM's `%s` placeholders as `%(orm_N)s`, their values added to `into`, so
    the query can sit inside a statement with named parameters."""
    counter = iter(range(len(values)))

    def name(_: re.Match[str]) -> str:
        n = next(counter)
        into[f"orm_{n}"] = values[n]
        return f"%(orm_{n})s"

    return re.sub(r"(?<!%)%s", name, sql)
