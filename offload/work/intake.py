"""Intake: new work items, one at a time or in bulk, each queued in the transaction
that creates it.

An item is idempotent on (client, reference): a known reference answers the item
that already has it, even when two identical calls race (the unique constraint
decides, and the loser reads the winner's row). The rules are written down in
docs/work-items.md.

A bulk call writes its accepted rows (items, their `created` and `queued` events,
the webhook outbox rows) with the ORM on SQLite and with PostgreSQL `COPY`
(offload.work.pgcopy) on PostgreSQL: the same rows either way. Races on a reference
are settled by the unique constraint in both: a chunk's write runs in a savepoint,
and when a concurrent writer has taken one of its references (a COPY waits for that
writer's commit, then fails whole), the savepoint is rolled back, the references now
taken become duplicates and the rest is written again. COPY writes a call's items in
one statement in reference order, so two bulk calls with overlapping references
wait for each other instead of deadlocking. No lock is taken: two imports of one
client run side by side.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import fastjsonschema
import jsonschema
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from offload.contracts.models import Engagement, Priority, Process
from offload.core import errors
from offload.core.errors import FieldError
from offload.tenancy import validators, visibility
from offload.tenancy.models import Organisation
from offload.tenancy.visibility import Principal
from offload.work import clocks, history, pgcopy, webhooks
from offload.work.lifecycle import Status
from offload.work.models import Queue, WebhookDelivery, WorkItem, WorkItemEvent

# The largest bulk call, and how many rows each ORM statement writes.
MAX_BULK_ROWS = 10_000
CHUNK_ROWS = 1_000
REFERENCE_MAX = 200
SUBJECT_MAX = 500
TAG_MAX = 64
TAGS_MAX = 32
# A new item's events: `created`, then `queued`.
NEW_ITEM_EVENTS = 2

REQUIRED = "is required"
NOT_TEXT = "must be a string"
NOT_OBJECT = "must be a JSON object"
NOT_FINITE = "must not hold NaN or Infinity: JSON numbers are finite"
NOT_A_LIST = "must be a list of strings"
BLANK_REFERENCE = "must not be blank"
TOO_LONG = "must be at most {limit} characters"
BAD_PRIORITY = "must be one of: P1, P2, P3, P4"
TOO_MANY_TAGS = f"at most {TAGS_MAX} tags"
BAD_TAG = f"each tag must be 1 to {TAG_MAX} characters"
UNKNOWN_FIELD = "is not a field of this request"
NO_PROCESS = "no such process (or not visible to you)"
OTHER_CLIENT_PROCESS = "this process belongs to another client"
LANGUAGE_NOT_SERVED = "this process serves the languages: {languages}"
PAYLOAD_TOO_LARGE = "is {size} bytes; the limit is {limit} bytes"
PAYLOAD_INVALID = "{reason}"
NO_PARENT = "no such item of this client"
TOO_MANY_ROWS = f"at most {MAX_BULK_ROWS} items per call; split the batch"
NOT_YOUR_ORGANISATION = "a client creates items for its own organisation only"
NO_CLIENT = "no such client (or not served by you)"
AMBIGUOUS_CLIENT = "several of your clients have a process of this slug; name the client"
NAME_THE_CLIENT = "none of your clients has a process named in these rows; name the client"

PRIORITIES = frozenset(Priority.values)
ROW_FIELDS = frozenset(
    {"reference", "process", "priority", "subject", "payload", "language", "tags"}
)


# ------------------------------------------------------------------ payload validators

Validator = Callable[[Any], Any]
_validators: dict[int, tuple[datetime, Validator]] = {}
_validators_lock = threading.Lock()


def _compile(schema: Mapping[str, Any]) -> Validator:
    """fastjsonschema's compiled validator; the reference validator for what it cannot
    compile (a process schema is checked as Draft 2020-12 when it is saved)."""
    try:
        return fastjsonschema.compile(dict(schema), use_formats=False)
    except fastjsonschema.JsonSchemaDefinitionException:
        reference = jsonschema.Draft202012Validator(dict(schema))

        def validate(value: Any) -> Any:
            error = jsonschema.exceptions.best_match(reference.iter_errors(value))
            if error is not None:
                path = ".".join(["data", *(str(p) for p in error.absolute_path)])
                raise fastjsonschema.JsonSchemaValueException(
                    f"{path} {error.message}", value=value, name=path
                )
            return value

        return validate


def payload_validator(process: Process) -> Validator:
    """The compiled validator of the process's item schema, cached per (process, version)."""
    cached = _validators.get(process.pk)
    if cached is not None and cached[0] == process.updated_at:
        return cached[1]
    validator = _compile(process.item_schema or {"type": "object"})
    with _validators_lock:
        _validators[process.pk] = (process.updated_at, validator)
    return validator


def _payload_field(exc: fastjsonschema.JsonSchemaValueException) -> tuple[str, str]:
    """`payload.<path>` and the reason, from fastjsonschema's `data.a.b[0] must be ...`."""
    name = exc.name or "data"
    parts = name.replace("[", ".").replace("]", "").split(".")[1:]
    path = "payload" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts)
    message = exc.message
    if message.startswith(name + " "):
        message = message[len(name) + 1 :]
    return path, message


def payload_text(payload: Mapping[str, Any]) -> str:
    """The payload as compact JSON: what its size limit counts (in UTF-8 bytes).

    Raises ValueError for NaN and Infinity, which JSON (and PostgreSQL's jsonb) has not."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _payload_text_or_none(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    try:
        return payload_text(payload)
    except ValueError:
        return None


def payload_problems(
    process: Process, payload: Any, *, text: str | None = None
) -> list[FieldError]:
    """The payload's problems; `text` is its `payload_text` when the caller has it."""
    if not isinstance(payload, dict):
        return [FieldError("payload", NOT_OBJECT)]
    limit = int(settings.OFFLOAD_MAX_ITEM_PAYLOAD_BYTES)
    if text is None:
        try:
            text = payload_text(payload)
        except ValueError:
            return [FieldError("payload", NOT_FINITE)]
    size = len(text.encode())
    if size > limit:
        return [FieldError("payload", PAYLOAD_TOO_LARGE.format(size=size, limit=limit))]
    try:
        payload_validator(process)(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        path, reason = _payload_field(exc)
        return [FieldError(path, PAYLOAD_INVALID.format(reason=reason))]
    return []


# ------------------------------------------------------------------ queue choice


def queue_choose(queues: Sequence[Queue], language: str) -> Queue | None:
    """The process's non-review queue for `language`, else its default (no languages).

    `queues` are the process's queues; ties go to the lowest id, so the choice is stable.
    """
    candidates = sorted((q for q in queues if not q.is_review), key=lambda q: q.pk)
    if language:
        for queue in candidates:
            if language in (queue.languages or []):
                return queue
    return next((q for q in candidates if not q.languages), None)


def queue_default(process: Process) -> Queue:
    """The process's default queue, created (slug = the process's slug) when missing.

    A concurrent intake may create it first: the insert runs in a savepoint and the
    loser reads the winner's queue.
    """
    existing = queue_choose(list(Queue.objects.filter(process=process)), "")
    if existing is not None:
        return existing
    for slug in (process.slug, f"{process.slug}-{process.pk}"):
        queue = Queue(
            client_id=process.client_id,
            provider_id=process.provider_id,
            process=process,
            name=process.name,
            slug=slug,
        )
        try:
            with transaction.atomic():
                queue.save()
            return queue
        except IntegrityError:
            taken = Queue.objects.filter(client_id=process.client_id, slug=slug).first()
            if taken is not None and taken.process_id == process.pk and not taken.languages:
                return taken
    raise errors.Conflict(f"cannot create a default queue for process {process.pk}")


def _queues_by_process(processes: Iterable[Process]) -> dict[int, list[Queue]]:
    by_process: dict[int, list[Queue]] = {p.pk: [] for p in processes}
    for queue in Queue.objects.filter(process_id__in=list(by_process)):
        by_process[queue.process_id].append(queue)
    return by_process


def _route(process: Process, queues: list[Queue], language: str) -> Queue:
    queue = queue_choose(queues, language)
    if queue is None:
        queue = queue_default(process)
        queues.append(queue)
    return queue


# ------------------------------------------------------------------ who creates for whom


def _check_actor(actor: Principal | None, client: Organisation) -> None:
    """The actor may create items, and for this client."""
    if actor is None:
        return
    visibility.require(actor, "work_item.create")
    if actor.is_client:
        if actor.organisation.pk != client.pk:
            raise errors.PermissionDenied(NOT_YOUR_ORGANISATION)
    elif not Engagement.objects.filter(provider=actor.organisation, client=client).exists():
        raise errors.ValidationFailed.single("client", NO_CLIENT)


def client_resolve(
    *, actor: Principal, client_slug: str | None, process_slugs: Iterable[str], field: str
) -> Organisation:
    """The client an actor creates items for.

    A client principal creates for its own organisation. A provider principal names
    the client by slug, or leaves it out when exactly one of its clients has a
    process of the given slug(s); `field` is what a miss is reported on.
    """
    visibility.require(actor, "work_item.create")
    org = actor.organisation
    if actor.is_client:
        if client_slug and client_slug != org.slug:
            raise errors.ValidationFailed.single("client", NOT_YOUR_ORGANISATION)
        return org
    if client_slug:
        engagement = (
            Engagement.objects.filter(provider=org, client__slug=client_slug)
            .select_related("client")
            .first()
        )
        if engagement is None:
            raise errors.ValidationFailed.single("client", NO_CLIENT)
        return engagement.client
    client_ids = set(
        Process.objects.filter(provider=org, slug__in=list(process_slugs)).values_list(
            "client_id", flat=True
        )
    )
    if len(client_ids) > 1:
        raise errors.ValidationFailed.single("client", AMBIGUOUS_CLIENT)
    if not client_ids:
        message = NO_PROCESS if field == "process" else NAME_THE_CLIENT
        raise errors.ValidationFailed.single(field, message)
    return Organisation.objects.get(pk=client_ids.pop())


def process_resolve(*, actor: Principal | None, client: Organisation, slug: str) -> Process:
    """The client's process of this slug that the actor may see, or a 422 naming `process`."""
    qs = Process.objects.filter(client=client, slug=slug)
    if actor is not None:
        qs = visibility.visible(actor, qs)
    process = qs.first()
    if process is None:
        raise errors.ValidationFailed.single("process", NO_PROCESS)
    return process


# ------------------------------------------------------------------ field checks


@dataclass(slots=True)
class _Row:
    """One item to create, its fields checked."""

    reference: str
    process: Process
    priority: str
    subject: str
    payload: dict[str, Any]
    language: str
    tags: list[str]
    payload_json: str = ""  # the payload's `payload_text`, for the COPY path


def _text_problems(name: str, value: Any, limit: int, *, required: bool) -> list[FieldError]:
    if not isinstance(value, str):
        return [FieldError(name, NOT_TEXT)]
    if required and not value.strip():
        return [FieldError(name, BLANK_REFERENCE)]
    if len(value) > limit:
        return [FieldError(name, TOO_LONG.format(limit=limit))]
    return []


def _field_problems(
    *,
    process: Process,
    reference: Any,
    priority: Any,
    subject: Any,
    payload: Any,
    language: Any,
    tags: Any,
    payload_json: str | None = None,
) -> list[FieldError]:
    """Every problem of one item's fields, each naming its field."""
    problems = _text_problems("reference", reference, REFERENCE_MAX, required=True)
    if priority not in PRIORITIES:
        problems.append(FieldError("priority", BAD_PRIORITY))
    problems += _text_problems("subject", subject, SUBJECT_MAX, required=False)
    if not isinstance(language, str):
        problems.append(FieldError("language", NOT_TEXT))
    elif language:
        message = validators.language_error(language)
        if message is None and process.languages and language not in process.languages:
            message = LANGUAGE_NOT_SERVED.format(languages=", ".join(process.languages))
        if message:
            problems.append(FieldError("language", message))
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append(FieldError("tags", NOT_A_LIST))
    elif len(tags) > TAGS_MAX:
        problems.append(FieldError("tags", TOO_MANY_TAGS))
    elif not all(0 < len(t) <= TAG_MAX for t in tags):
        problems.append(FieldError("tags", BAD_TAG))
    problems += payload_problems(process, payload, text=payload_json)
    return problems


def _new_item(client: Organisation, row: _Row, queue: Queue, parent: WorkItem | None) -> WorkItem:
    return WorkItem(
        client_id=client.pk,
        provider_id=row.process.provider_id,
        process=row.process,
        queue=queue,
        reference=row.reference,
        priority=row.priority,
        channel=row.process.channel,
        subject=row.subject,
        payload=row.payload,
        language=row.language,
        status=Status.QUEUED,
        tags=row.tags,
        parent=parent,
    )


# ------------------------------------------------------------------ one item


@transaction.atomic
def work_item_create(
    *,
    actor: Principal | None,
    client: Organisation,
    process: Process,
    reference: str,
    priority: str = Priority.P3,
    subject: str = "",
    payload: Mapping[str, Any] | None = None,
    language: str = "",
    tags: Sequence[str] | None = None,
    parent: WorkItem | None = None,
) -> tuple[WorkItem, bool]:
    """Create and queue one item; (item, True), or (the known item, False) when the
    client already has this reference."""
    _check_actor(actor, client)
    payload = dict(payload) if payload is not None else {}
    tag_list = list(tags) if tags is not None else []
    problems: list[FieldError] = []
    if process.client_id != client.pk or (
        actor is not None and not visibility.can_see(actor, process)
    ):
        problems.append(FieldError("process", OTHER_CLIENT_PROCESS))
    problems += _field_problems(
        process=process,
        reference=reference,
        priority=priority,
        subject=subject,
        payload=payload,
        language=language,
        tags=tag_list,
    )
    if parent is not None and parent.client_id != client.pk:
        problems.append(FieldError("parent_id", NO_PARENT))
    if problems:
        raise errors.ValidationFailed(problems)
    existing = WorkItem.objects.filter(client=client, reference=reference).first()
    if existing is not None:
        return existing, False
    row = _Row(reference, process, priority, subject, payload, language, tag_list)
    queue = _route(process, list(Queue.objects.filter(process=process)), language)
    item = _new_item(client, row, queue, parent)
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        # A concurrent call took the reference first: answer its item.
        return WorkItem.objects.get(client=client, reference=reference), False
    history.append_new_items([item], actor=actor)
    return item, True


# ------------------------------------------------------------------ bulk


@dataclass
class BulkResult:
    accepted: list[dict[str, Any]] = field(default_factory=list)  # {index, id, reference}
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # {index, id, reference}
    errors: list[dict[str, Any]] = field(default_factory=list)  # {index, field, message}

    @property
    def complete(self) -> bool:
        """Every row was accepted or a duplicate."""
        return not self.errors


def _row_problems(
    row: Any, processes: Mapping[str, Process]
) -> tuple[_Row | None, list[FieldError]]:
    if not isinstance(row, dict):
        return None, [FieldError("item", NOT_OBJECT)]
    problems = [FieldError(k, UNKNOWN_FIELD) for k in row if k not in ROW_FIELDS]
    for name in ("reference", "process"):
        if name not in row:
            problems.append(FieldError(name, REQUIRED))
    slug = row.get("process")
    process = processes.get(slug) if isinstance(slug, str) else None
    if "process" in row and process is None:
        problems.append(FieldError("process", NO_PROCESS))
    if process is None:
        return None, problems
    fields = {
        "reference": row.get("reference", ""),
        "priority": row.get("priority", Priority.P3),
        "subject": row.get("subject", ""),
        "payload": row.get("payload", {}),
        "language": row.get("language", ""),
        "tags": row.get("tags", []),
    }
    if "reference" not in row:
        fields["reference"] = "-"  # reported above; do not report it twice
    payload = fields["payload"]
    text = _payload_text_or_none(payload)
    problems += _field_problems(process=process, payload_json=text, **fields)
    if problems:
        return None, problems
    return _Row(process=process, payload_json=text or "", **fields), []


def _known(client: Organisation, references: Sequence[str]) -> dict[str, int]:
    """The ids of the client's items with these references, one query per chunk."""
    known: dict[str, int] = {}
    for start in range(0, len(references), CHUNK_ROWS):
        chunk = references[start : start + CHUNK_ROWS]
        known.update(
            WorkItem.objects.filter(client=client, reference__in=chunk).values_list(
                "reference", "id"
            )
        )
    return known


@dataclass(slots=True)
class _Fresh:
    """A valid row with a reference new to the client: the item to write."""

    index: int
    row: _Row
    queue: Queue
    pk: int | None = None


def _write_orm(client: Organisation, fresh: list[_Fresh], actor: Principal | None) -> None:
    items = [_new_item(client, f.row, f.queue, None) for f in fresh]
    WorkItem.objects.bulk_create(items)
    history.append_new_items(items, actor=actor)
    for f, item in zip(fresh, items, strict=True):
        f.pk = item.pk


def _item_row(client_id: int, f: _Fresh, now: datetime) -> dict[str, Any]:
    """The item's field values, as `_new_item` makes them, with its reserved id."""
    row = f.row
    return {
        "id": f.pk,
        "created_at": now,
        "updated_at": now,
        "client_id": client_id,
        "provider_id": row.process.provider_id,
        "process_id": row.process.id,
        "queue_id": f.queue.id,
        "reference": row.reference,
        "priority": row.priority,
        "channel": row.process.channel,
        "subject": row.subject,
        "payload": pgcopy.JsonText(row.payload_json or payload_text(row.payload)),
        "language": row.language,
        "status": Status.QUEUED,
        "tags": row.tags,
        "parent_id": None,
    }


def _write_copy(client: Organisation, fresh: list[_Fresh], actor: Principal | None) -> None:
    """The rows of `_write_orm`, by PostgreSQL COPY: ids are reserved first so the
    events can name their items and the outbox rows their events. Rows are made as
    COPY reads them, so a call holds no second copy of its items."""
    now = timezone.now()
    item_ids, event_ids = pgcopy.ids_reserve(
        (WorkItem, len(fresh)), (WorkItemEvent, len(fresh) * NEW_ITEM_EVENTS)
    )
    for f, pk in zip(fresh, item_ids, strict=True):
        f.pk = pk
    endpoints = webhooks.active_endpoints([client.pk])
    # In reference order: a writer waits for another only on a reference above all it
    # has written, so no two writers wait for each other (no deadlock).
    in_order = sorted(fresh, key=lambda f: f.row.reference)
    client_id = client.id
    pgcopy.rows_copy(WorkItem, (_item_row(client_id, f, now) for f in in_order), now=now)
    outbox: list[dict[str, Any]] = []

    def events() -> Iterator[dict[str, Any]]:
        of_items = (
            {
                "id": f.pk,
                "client_id": client_id,
                "provider_id": f.row.process.provider_id,
                "reference": f.row.reference,
                "priority": f.row.priority,
                "queue_id": f.queue.id,
            }
            for f in fresh
        )
        rows = history.new_item_event_rows(of_items, actor=actor, at=now)
        for event, pk in zip(rows, event_ids, strict=True):
            event["id"] = pk
            if endpoints:
                outbox.extend(webhooks.delivery_rows(event, endpoints, now))
            yield event

    pgcopy.rows_copy(WorkItemEvent, events(), now=now)
    if outbox:
        pgcopy.rows_copy(WebhookDelivery, outbox, now=now, with_pk=False)
    started = [
        clocks.ItemFacts(
            f.pk,
            client_id,
            f.row.process.provider_id,
            f.row.process.sla_policy_id,
            f.row.priority,
            Status.QUEUED,
        )
        for f in fresh
        if f.pk is not None
    ]
    clocks.clocks_start(started, at=now)


def _insert(
    client: Organisation, actor: Principal | None, chunk: list[_Fresh]
) -> tuple[list[_Fresh], dict[str, int]]:
    """Insert one chunk with its events and outbox rows (COPY on PostgreSQL, the ORM
    elsewhere); on a race, the references others took meanwhile become duplicates and
    the rest is retried. Returns (inserted, taken)."""
    write = _write_copy if pgcopy.available() else _write_orm
    taken: dict[str, int] = {}
    while chunk:
        try:
            with transaction.atomic():
                write(client, chunk, actor)
            return chunk, taken
        except IntegrityError:
            now_known = _known(client, [f.row.reference for f in chunk])
            if not now_known:
                raise
            taken.update(now_known)
            chunk = [f for f in chunk if f.row.reference not in now_known]
            for f in chunk:
                f.pk = None
    return chunk, taken


def _processes_named(
    actor: Principal | None, client: Organisation, rows: Sequence[Any]
) -> dict[str, Process]:
    """The client's processes (that the actor may see) named by the rows, by slug."""
    slugs = {
        r["process"] for r in rows if isinstance(r, dict) and isinstance(r.get("process"), str)
    }
    process_qs = Process.objects.filter(client=client, slug__in=list(slugs))
    if actor is not None:
        process_qs = visibility.visible(actor, process_qs)
    return {p.slug: p for p in process_qs}


def work_items_validate(
    *, actor: Principal | None, client: Organisation, rows: Sequence[Any]
) -> list[dict[str, Any]]:
    """The errors work_items_bulk_create would report for `rows` ({index, field,
    message}), found by the same checks and without writing: a preview."""
    _check_actor(actor, client)
    if len(rows) > MAX_BULK_ROWS:
        raise errors.ValidationFailed.single("items", TOO_MANY_ROWS)
    processes = _processes_named(actor, client, rows)
    found: list[dict[str, Any]] = []
    for index, raw in enumerate(rows):
        _, problems = _row_problems(raw, processes)
        found += [{"index": index, "field": p.field, "message": p.message} for p in problems]
    return found


@transaction.atomic
def work_items_bulk_create(
    *, actor: Principal | None, client: Organisation, rows: Sequence[Any]
) -> BulkResult:
    """Validate every row, report each bad one, and create the good ones in bulk
    statements: all of the accepted rows are durable, or none."""
    _check_actor(actor, client)
    if len(rows) > MAX_BULK_ROWS:
        raise errors.ValidationFailed.single("items", TOO_MANY_ROWS)
    result = BulkResult()
    processes = _processes_named(actor, client, rows)
    queues = _queues_by_process(processes.values())

    valid: list[tuple[int, _Row]] = []
    for index, raw in enumerate(rows):
        row, problems = _row_problems(raw, processes)
        if row is None:
            result.errors += [
                {"index": index, "field": p.field, "message": p.message} for p in problems
            ]
        else:
            valid.append((index, row))

    known = _known(client, [row.reference for _, row in valid])
    first_index: dict[str, int] = {}  # reference -> index of the row that creates it
    fresh: list[_Fresh] = []
    repeats: list[tuple[int, str]] = []
    for index, row in valid:
        if row.reference in known:
            result.duplicates.append(
                {"index": index, "id": known[row.reference], "reference": row.reference}
            )
        elif row.reference in first_index:
            repeats.append((index, row.reference))
        else:
            first_index[row.reference] = index
            queue = _route(row.process, queues[row.process.pk], row.language)
            fresh.append(_Fresh(index, row, queue))

    ids: dict[str, int] = {}
    # COPY writes the whole call at once, so its items go in one reference order.
    size = MAX_BULK_ROWS if pgcopy.available() else CHUNK_ROWS
    for start in range(0, len(fresh), size):
        inserted, taken = _insert(client, actor, fresh[start : start + size])
        for f in inserted:
            assert f.pk is not None
            ids[f.row.reference] = f.pk
            result.accepted.append({"index": f.index, "id": f.pk, "reference": f.row.reference})
        for reference, pk in taken.items():
            ids[reference] = pk
            result.duplicates.append(
                {"index": first_index[reference], "id": pk, "reference": reference}
            )
    for index, reference in repeats:
        result.duplicates.append({"index": index, "id": ids[reference], "reference": reference})
    result.accepted.sort(key=lambda r: r["index"])
    result.duplicates.sort(key=lambda r: r["index"])
    return result
