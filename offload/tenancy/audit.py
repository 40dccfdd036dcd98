"""The audit trail: append-only, hash-chained per organisation.

Each row stores the SHA-256 of its own content and of the previous row of its
organisation. Writers lock only their organisation's chain head, so chains of
different clients never wait on each other. `verify` walks every chain and
reports the first row that was edited, inserted or deleted.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from offload.core import request_context
from offload.tenancy.models import AuditChainHead, AuditEvent, Organisation
from offload.tenancy.visibility import Principal

GENESIS = "0" * 64
SYSTEM_ACTOR = "system"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields that changed."""
    changed: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = _jsonable(before.get(key)), _jsonable(after.get(key))
        if old != new:
            changed[key] = [old, new]
    return changed


def snapshot(obj: Model, fields: list[str]) -> dict[str, Any]:
    return {f: _jsonable(getattr(obj, f)) for f in fields}


def content_hash(event: AuditEvent) -> str:
    payload = {
        "organisation": event.organisation_id,
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor_user": event.actor_user_id,
        "actor_api_key": event.actor_api_key_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "changes": event.changes,
        "request_id": event.request_id,
        "ip": event.ip,
        "prev_hash": event.prev_hash,
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def clean_ip(ip: str | None) -> str | None:
    """The address as the database will hand it back (or None if it is not one).

    The hash is computed before the row is stored, so it must cover the stored form:
    PostgreSQL's inet rewrites '2001:0db8::0001' as '2001:db8::1' and refuses text
    that is not an address.
    """
    if not ip:
        return None
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    stored: str = AuditEvent._meta.get_field("ip").get_prep_value(ip)
    return stored


def record(
    *,
    organisation: Organisation,
    actor: Principal | None,
    action: str,
    obj: Model,
    changes: Mapping[str, list[Any]] | None = None,
) -> AuditEvent:
    """Append one event to the organisation's chain, inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction")
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(
        organisation=organisation, defaults={"seq": 0, "hash": GENESIS}
    )
    ctx = request_context.current()
    event = AuditEvent(
        organisation=organisation,
        seq=head.seq + 1,
        # Microsecond precision survives every database's round trip, so the hash
        # recomputed from a stored row equals the one computed here.
        created_at=timezone.now(),
        actor_user=actor.user if actor else None,
        actor_api_key=actor.api_key if actor else None,
        actor_label=actor.label if actor else SYSTEM_ACTOR,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        changes=_jsonable(dict(changes or {})),
        request_id=ctx.request_id,
        ip=clean_ip(ctx.ip),
        prev_hash=head.hash,
    )
    event.hash = content_hash(event)
    event.save(force_insert=True)
    head.seq, head.hash = event.seq, event.hash
    head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class ChainProblem:
    organisation_id: int
    seq: int
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        return (
            f"organisation {self.organisation_id}: row seq={self.seq}"
            f" (id={self.event_id}): {self.reason}"
        )


EDITED = "content does not match its hash (edited)"
BROKEN_LINK = "previous-hash link is broken (a row before it was inserted, edited or deleted)"
GAP = "sequence jumps from {prev} to {seq} (rows deleted)"
TAIL_MISSING = "chain head says {head} rows but the trail ends at {seq} (rows deleted)"
BEYOND_HEAD = "row after the chain head's last seq {head} (inserted)"
HEAD_MISSING = "the trail has rows but its chain head is gone (deleted)"


def record_created(
    *,
    organisation: Organisation,
    actor: Principal | None,
    action: str,
    obj: Model,
    fields: list[str],
) -> AuditEvent:
    """Record a new object: each of its `fields` from nothing to its value."""
    changes = diff({}, snapshot(obj, fields))
    return record(organisation=organisation, actor=actor, action=action, obj=obj, changes=changes)


def record_deleted(
    *,
    organisation: Organisation,
    actor: Principal | None,
    action: str,
    obj: Model,
    fields: list[str],
) -> AuditEvent:
    """Record an object about to be deleted: each of its `fields` from its value to nothing."""
    changes = diff(snapshot(obj, fields), {})
    return record(organisation=organisation, actor=actor, action=action, obj=obj, changes=changes)


def _walk(organisation_id: int, head: AuditChainHead | None) -> Iterator[ChainProblem]:
    prev_seq, prev_hash = 0, GENESIS
    rows = AuditEvent.objects.filter(organisation_id=organisation_id).order_by("seq")
    for event in rows.iterator(chunk_size=2000):
        if head is None:
            yield ChainProblem(organisation_id, event.seq, event.pk, HEAD_MISSING)
            return
        if event.seq != prev_seq + 1:
            yield ChainProblem(
                organisation_id, event.seq, event.pk, GAP.format(prev=prev_seq, seq=event.seq)
            )
            return
        if event.prev_hash != prev_hash:
            yield ChainProblem(organisation_id, event.seq, event.pk, BROKEN_LINK)
            return
        if content_hash(event) != event.hash:
            yield ChainProblem(organisation_id, event.seq, event.pk, EDITED)
            return
        if event.seq > head.seq:
            # Well-formed but never written through `record`, which moves the head.
            yield ChainProblem(
                organisation_id, event.seq, event.pk, BEYOND_HEAD.format(head=head.seq)
            )
            return
        prev_seq, prev_hash = event.seq, event.hash
    if head is not None and (head.seq != prev_seq or head.hash != prev_hash):
        yield ChainProblem(
            organisation_id, prev_seq + 1, None, TAIL_MISSING.format(head=head.seq, seq=prev_seq)
        )


def verify() -> list[ChainProblem]:
    """The first problem of each broken chain; an empty list means every chain holds."""
    heads = {h.organisation_id: h for h in AuditChainHead.objects.all()}
    org_ids = set(heads) | set(
        AuditEvent.objects.values_list("organisation_id", flat=True).distinct()
    )
    problems: list[ChainProblem] = []
    for org_id in sorted(org_ids):
        problems.extend(_walk(org_id, heads.get(org_id)))
    return problems
