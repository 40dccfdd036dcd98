from __future__ import annotations

import math
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model

from offload.contracts.models import Process
from offload.core import errors
from offload.tenancy.tests.factories import make_principal
from offload.work import intake
from offload.work.models import Queue, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process, make_queue

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "required": ["account"],
    "properties": {
        "account": {"type": "string", "pattern": "^AC-[0-9]{4}$"},
        "lines": {"type": "array", "items": {"type": "integer"}},
    },
}


def _create(process: Process, **fields: Any) -> tuple[WorkItem, bool]:
    fields.setdefault("reference", "R-1")
    return intake.work_item_create(actor=None, client=process.client, process=process, **fields)


# ------------------------------------------------------------------ one item


def test_an_accepted_item_is_queued_with_created_then_queued_events():
    # given
    process = make_process()
    # when
    item, created = _create(process, subject="Bill too high", tags=["billing"])
    # then
    assert created is True
    item.refresh_from_db()
    assert item.status == "queued"
    assert item.channel == "email"
    assert item.tags == ["billing"]
    events = list(WorkItemEvent.objects.filter(item=item).values_list("seq", "type", "actor_label"))
    assert events == [(1, "created", "system"), (2, "queued", "system")]


def test_a_process_without_queues_gets_its_default_queue():
    # given
    process = make_process(name="Claims")
    # when
    item, _ = _create(process)
    # then
    queue = Queue.objects.get(process=process)
    assert (queue.slug, queue.name, queue.languages, queue.is_review) == (
        process.slug,
        "Claims",
        [],
        False,
    )
    assert item.queue_id == queue.pk


def test_a_known_reference_answers_the_known_item_and_writes_nothing():
    # given
    process = make_process()
    first, _ = _create(process, reference="R-7")
    # when
    again, created = _create(process, reference="R-7", subject="different")
    # then
    assert (again.pk, created) == (first.pk, False)
    assert WorkItem.objects.count() == 1
    assert WorkItemEvent.objects.count() == 2


def test_a_reference_taken_between_the_check_and_the_insert_answers_that_item(monkeypatch):
    # given: another writer takes the reference right after intake looked for it
    process = make_process()
    real_route = intake._route
    competitor: list[WorkItem] = []

    def route_after_a_competitor(*args: Any) -> Any:
        monkeypatch.setattr(intake, "_route", real_route)  # the competitor routes normally
        competitor.append(make_item(process, reference="R-race"))
        return real_route(*args)

    monkeypatch.setattr(intake, "_route", route_after_a_competitor)
    # when
    item, created = _create(process, reference="R-race")
    # then
    assert (item.pk, created) == (competitor[0].pk, False)
    assert WorkItem.objects.count() == 1
    assert WorkItemEvent.objects.count() == 2


def test_the_language_picks_the_queue_of_that_language():
    # given
    process = make_process(languages=["en", "es"])
    default = make_queue(process, slug="support")
    spanish = make_queue(process, slug="support-es", languages=["es"])
    make_queue(process, slug="review-es", languages=["es"], is_review=True)
    # when
    es, _ = _create(process, reference="R-es", language="es")
    en, _ = _create(process, reference="R-en", language="en")
    unknown, _ = _create(process, reference="R-none")
    # then
    assert (es.queue_id, en.queue_id, unknown.queue_id) == (spanish.pk, default.pk, default.pk)


def test_queue_choice_skips_review_queues_and_takes_the_lowest_id():
    # given
    process = make_process()
    review = make_queue(process, is_review=True)
    first = make_queue(process)
    make_queue(process)
    # when
    chosen = intake.queue_choose(list(Queue.objects.filter(process=process)), "fr")
    # then
    assert chosen == first
    assert chosen != review


def test_a_payload_against_the_schema_names_the_path_and_the_reason():
    # given
    process = make_process(item_schema=SCHEMA)
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        _create(process, payload={"account": "AC-0001", "lines": [1, "two"]})
    # then
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("payload.lines[1]", "must be integer")
    ]
    assert WorkItem.objects.count() == 0


def test_a_missing_required_property_names_the_payload():
    # given
    process = make_process(item_schema=SCHEMA)
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        _create(process, payload={})
    # then
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("payload", "must contain ['account'] properties")
    ]


def test_the_validator_is_compiled_once_per_process_version():
    # given
    process = make_process(item_schema=SCHEMA)
    # when
    first = intake.payload_validator(process)
    again = intake.payload_validator(process)
    process.item_schema = {"type": "object"}
    process.save()
    changed = intake.payload_validator(process)
    # then
    assert first is again
    assert changed is not first
    changed({"anything": 1})


def test_a_payload_over_the_limit_names_the_limit(settings):
    # given
    settings.OFFLOAD_MAX_ITEM_PAYLOAD_BYTES = 100
    process = make_process()
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        _create(process, payload={"text": "x" * 200})
    # then
    assert [e.field for e in caught.value.errors] == ["payload"]
    assert "the limit is 100 bytes" in caught.value.errors[0].message


def test_language_must_be_iso_and_one_the_process_serves():
    # given
    process = make_process(languages=["en"])
    # when
    with pytest.raises(errors.ValidationFailed) as bad:
        _create(process, language="english")
    with pytest.raises(errors.ValidationFailed) as unserved:
        _create(process, language="es")
    # then
    assert [(e.field, e.message) for e in bad.value.errors] == [
        ("language", "'english' is not an ISO 639-1 language code")
    ]
    assert [(e.field, e.message) for e in unserved.value.errors] == [
        ("language", intake.LANGUAGE_NOT_SERVED.format(languages="en"))
    ]


def test_every_bad_field_is_reported_at_once():
    # given
    process = make_process()
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        _create(process, reference=" ", priority="P9", subject="s" * 501, tags=[""])
    # then
    assert [e.field for e in caught.value.errors] == ["reference", "priority", "subject", "tags"]


def test_a_client_viewer_may_not_create():
    # given
    process = make_process()
    viewer = make_principal(process.client, "client_viewer")
    # when / then
    with pytest.raises(errors.PermissionDenied):
        intake.work_item_create(
            actor=viewer, client=process.client, process=process, reference="R-1"
        )
    assert WorkItem.objects.count() == 0


def test_a_provider_agent_creates_for_a_client_it_serves():
    # given
    process = make_process()
    agent = make_principal(process.provider, "agent")
    # when
    item, created = intake.work_item_create(
        actor=agent, client=process.client, process=process, reference="R-1"
    )
    # then
    assert created
    assert [e.actor_user for e in WorkItemEvent.objects.filter(item=item)] == [agent.user] * 2


def test_an_item_may_name_a_parent_of_the_same_client_only():
    # given
    process = make_process()
    parent = make_item(process)
    foreign = make_item()
    # when
    child, _ = _create(process, reference="R-child", parent=parent)
    with pytest.raises(errors.ValidationFailed) as caught:
        _create(process, reference="R-orphan", parent=foreign)
    # then
    assert child.parent_id == parent.pk
    assert [e.field for e in caught.value.errors] == ["parent_id"]


# ------------------------------------------------------------------ bulk


def _bulk(process: Process, rows: list[Any]) -> intake.BulkResult:
    return intake.work_items_bulk_create(actor=None, client=process.client, rows=rows)


def test_bulk_reports_accepted_duplicates_and_errors_by_index():
    # given
    process = make_process(item_schema=SCHEMA)
    known = make_item(process, reference="KNOWN", payload={"account": "AC-0001"})
    ok = {"account": "AC-0002"}
    rows = [
        {"reference": "A", "process": process.slug, "payload": ok},
        {"reference": "B", "process": process.slug, "payload": {"account": "nope"}},
        {"reference": "KNOWN", "process": process.slug, "payload": ok},
        {"reference": "A", "process": process.slug, "payload": ok},
        {"reference": "C", "process": "no-such-process"},
        "not an object",
        {"reference": "D", "process": process.slug, "payload": ok, "colour": "red"},
        {"reference": "E", "process": process.slug, "payload": ok, "priority": "P1"},
    ]
    # when
    result = _bulk(process, rows)
    # then
    a = WorkItem.objects.get(reference="A")
    e = WorkItem.objects.get(reference="E")
    assert result.accepted == [
        {"index": 0, "id": a.pk, "reference": "A"},
        {"index": 7, "id": e.pk, "reference": "E"},
    ]
    assert result.duplicates == [
        {"index": 2, "id": known.pk, "reference": "KNOWN"},
        {"index": 3, "id": a.pk, "reference": "A"},
    ]
    assert result.errors == [
        {
            "index": 1,
            "field": "payload.account",
            "message": "must match pattern ^AC-[0-9]{4}$",
        },
        {"index": 4, "field": "process", "message": intake.NO_PROCESS},
        {"index": 5, "field": "item", "message": intake.NOT_OBJECT},
        {"index": 6, "field": "colour", "message": intake.UNKNOWN_FIELD},
    ]
    assert e.priority == "P1"
    assert WorkItemEvent.objects.filter(item__in=[a, e]).count() == 4


def test_bulk_writes_events_numbered_per_item():
    # given
    process = make_process()
    # when
    _bulk(process, [{"reference": f"R-{i}", "process": process.slug} for i in range(3)])
    # then
    for item in WorkItem.objects.all():
        assert list(item.events.values_list("seq", "type")) == [(1, "created"), (2, "queued")]


def test_bulk_of_more_than_the_limit_names_items():
    # given
    process = make_process()
    rows = [{"reference": "x", "process": process.slug}] * (intake.MAX_BULK_ROWS + 1)
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        _bulk(process, rows)
    # then
    assert [(e.field, e.message) for e in caught.value.errors] == [("items", intake.TOO_MANY_ROWS)]


def _insert_statements(model: type[Model], rows: int) -> int:
    """How many INSERTs the backend needs for `rows` rows of `model` (SQLite caps a
    statement at 999 parameters; PostgreSQL takes a chunk in one)."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    batch = connection.ops.bulk_batch_size(fields, [None] * rows) or rows
    return math.ceil(rows / batch)


def test_bulk_writes_a_bounded_number_of_statements(django_assert_max_num_queries):
    # given: a savepoint each for the call and the chunk, three reads (processes,
    # queues, known references) and the chunk's webhook endpoints, whatever the
    # number of rows
    process = make_process(item_schema=SCHEMA)
    make_queue(process)
    rows = [
        {"reference": f"R-{i}", "process": process.slug, "payload": {"account": "AC-0001"}}
        for i in range(500)
    ]
    fixed = 2 * 2 + 3 + 1
    inserts = _insert_statements(WorkItem, 500) + _insert_statements(WorkItemEvent, 1000)
    # when
    with django_assert_max_num_queries(fixed + inserts):
        result = _bulk(process, rows)
    # then
    assert len(result.accepted) == 500
    assert WorkItemEvent.objects.count() == 1000


def test_bulk_retries_the_rest_when_a_reference_is_taken_meanwhile(monkeypatch):
    # given: another writer takes "B" between the duplicate check and the insert
    process = make_process()
    rows = [{"reference": r, "process": process.slug} for r in ("A", "B", "C")]
    real_known = intake._known
    calls = []

    def known_then_raced(client, references):
        calls.append(list(references))
        if len(calls) == 1:
            answer = real_known(client, references)
            make_item(process, reference="B")
            return answer
        return real_known(client, references)

    monkeypatch.setattr(intake, "_known", known_then_raced)
    # when
    result = _bulk(process, rows)
    # then
    b = WorkItem.objects.get(reference="B")
    assert [r["reference"] for r in result.accepted] == ["A", "C"]
    assert result.duplicates == [{"index": 1, "id": b.pk, "reference": "B"}]
    assert WorkItem.objects.count() == 3
