import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from offload.core import request_context
from offload.tenancy import audit, services
from offload.tenancy.models import AuditChainHead, AuditEvent, Organisation, Role
from offload.tenancy.tests.factories import (
    api_client,
    key_for,
    make_api_key,
    make_client,
    make_principal,
    make_provider,
    make_site,
    make_user,
)

pytestmark = pytest.mark.django_db

TRIGGER = "tenancy_auditevent_append_only"
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


@contextmanager
def tampering() -> Iterator[None]:
    """Switch off PostgreSQL's append-only trigger, as an attacker with DDL rights could."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE tenancy_auditevent DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE tenancy_auditevent ENABLE TRIGGER {TRIGGER}")


def raw(sql: str, params: list[str | int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def trail(org: Organisation) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organisation=org).order_by("seq"))


def busy_organisation(writes: int = 4) -> Organisation:
    """A provider whose trail holds `writes` + 1 events (its creation, then sites)."""
    provider = make_provider()
    for _ in range(writes):
        make_site(provider)
    return provider


def test_service_writes_build_one_chain_per_organisation():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    # when
    site = make_site(provider)
    services.site_update(actor=admin, site=site, data={"name": "Renamed"})
    key, _ = make_api_key(provider)
    services.api_key_revoke(actor=admin, key=key)
    services.site_delete(actor=admin, site=site)
    # then: seq 1..n with each row linked to the one before
    events = trail(provider)
    assert [e.action for e in events] == [
        "organisation.create",
        "user.create",
        "site.create",
        "site.update",
        "api_key.create",
        "api_key.revoke",
        "site.delete",
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert all(audit.content_hash(e) == e.hash for e in events)
    head = AuditChainHead.objects.get(organisation=provider)
    assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)
    assert events[3].actor_label == admin.user.username  # type: ignore[union-attr]
    assert events[3].changes["name"][1] == "Renamed"
    assert audit.verify() == []


def test_chains_of_two_organisations_are_independent():
    # given
    acme, globex = make_client(), make_client()
    acme_head = AuditChainHead.objects.get(organisation=acme)
    # when
    for _ in range(3):
        make_user(globex)
    # then
    assert AuditChainHead.objects.get(organisation=acme) == acme_head
    refreshed = AuditChainHead.objects.get(organisation=acme)
    assert (refreshed.seq, refreshed.hash) == (acme_head.seq, acme_head.hash)
    assert [e.seq for e in trail(globex)] == [1, 2, 3, 4]
    assert [e.seq for e in trail(acme)] == [1]
    assert audit.verify() == []


def test_record_carries_the_request_context():
    # given a request from an address
    org = make_client()
    token = request_context.begin(ip="198.51.100.4", request_id="req-42")
    # when
    try:
        make_user(org)
    finally:
        request_context.end(token)
    # then
    event = trail(org)[-1]
    assert (event.request_id, event.ip) == ("req-42", "198.51.100.4")
    assert audit.verify() == []


@pytest.mark.parametrize(
    ("ip", "stored"),
    [
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("", None),
        ("not-an-address", None),
    ],
)
def test_record_stores_the_address_as_the_database_will_return_it(ip, stored):
    # given an address in a form the database would rewrite (or refuse)
    org = make_client()
    token = request_context.begin(ip=ip, request_id="r1")
    # when
    try:
        make_user(org)
    finally:
        request_context.end(token)
    # then: the hash was computed over what is stored, so the chain verifies
    assert AuditEvent.objects.filter(organisation=org).latest("seq").ip == stored
    assert audit.verify() == []


def test_api_writes_record_request_id_and_ip():
    # given
    provider = make_provider()
    client = api_client(key_for(provider, "admin"))
    payload = {
        "name": "Monterrey",
        "country": "MX",
        "timezone": "America/Monterrey",
        "languages": ["es", "en"],
        "hourly_cost": "15.00",
    }
    # when
    response = client.post("/api/v1/sites", payload, content_type="application/json")
    # then
    assert response.status_code == 201
    event = trail(provider)[-1]
    assert event.action == "site.create"
    assert event.object_id == str(response.json()["id"])
    assert event.request_id == response["X-Request-ID"]
    assert len(event.request_id) == 32
    assert event.ip == "127.0.0.1"
    assert event.actor_api_key is not None
    assert event.actor_label.startswith(f"key:{event.actor_api_key.prefix} as ")


def test_api_writes_keep_the_callers_request_id():
    # given
    org = make_client()
    client = api_client(key_for(org))
    # when
    response = client.patch(
        f"/api/v1/organisations/{org.pk}",
        {"name": "Renamed"},
        content_type="application/json",
        headers={"X-Request-ID": "trace-7"},
    )
    # then
    assert response.status_code == 200
    assert response["X-Request-ID"] == "trace-7"
    assert trail(org)[-1].request_id == "trace-7"


def test_verify_finds_an_intact_trail():
    # given
    busy_organisation()
    busy_organisation()
    # when / then
    assert audit.verify() == []


def test_an_edited_row_is_reported_as_edited():
    # given
    org = busy_organisation()
    victim = trail(org)[2]
    # when
    with tampering():
        raw(
            "UPDATE tenancy_auditevent SET changes = %s WHERE id = %s",
            ['{"hourly_cost": [null, "0.01"]}', victim.pk],
        )
    problems = audit.verify()
    # then
    assert [(p.organisation_id, p.seq, p.event_id, p.reason) for p in problems] == [
        (org.pk, victim.seq, victim.pk, audit.EDITED)
    ]


def test_an_edited_actor_is_reported_as_edited():
    # given
    org = busy_organisation()
    victim = trail(org)[1]
    # when
    with tampering():
        raw("UPDATE tenancy_auditevent SET actor_label = %s WHERE id = %s", ["nobody", victim.pk])
    # then
    assert [(p.seq, p.reason) for p in audit.verify()] == [(victim.seq, audit.EDITED)]


def test_a_deleted_middle_row_is_reported_as_a_gap():
    # given
    org = busy_organisation()
    victim = trail(org)[2]
    # when
    with tampering():
        raw("DELETE FROM tenancy_auditevent WHERE id = %s", [victim.pk])
    problems = audit.verify()
    # then
    assert [(p.seq, p.reason) for p in problems] == [
        (victim.seq + 1, audit.GAP.format(prev=victim.seq - 1, seq=victim.seq + 1))
    ]


def test_a_deleted_last_row_is_reported_as_a_missing_tail():
    # given
    org = busy_organisation()
    last = trail(org)[-1]
    # when
    with tampering():
        raw("DELETE FROM tenancy_auditevent WHERE id = %s", [last.pk])
    problems = audit.verify()
    # then
    assert [(p.seq, p.event_id, p.reason) for p in problems] == [
        (last.seq, None, audit.TAIL_MISSING.format(head=last.seq, seq=last.seq - 1))
    ]


def test_a_renumbered_trail_is_caught():
    # given rows deleted and the ones after renumbered to hide the gap
    org = busy_organisation()
    events = trail(org)
    # when
    with tampering():
        raw("DELETE FROM tenancy_auditevent WHERE id = %s", [events[1].pk])
        for event in events[2:]:
            raw(
                "UPDATE tenancy_auditevent SET seq = %s WHERE id = %s",
                [event.seq - 1, event.pk],
            )
    problems = audit.verify()
    # then: the link from the renumbered row to its new predecessor is broken
    assert [(p.seq, p.event_id, p.reason) for p in problems] == [
        (2, events[2].pk, audit.BROKEN_LINK)
    ]


def test_a_forged_row_with_a_made_up_hash_is_caught():
    # given
    org = busy_organisation()
    last = trail(org)[-1]
    forged = AuditEvent(
        organisation=org,
        seq=last.seq + 1,
        created_at=last.created_at,
        actor_label="admin",
        action="site.delete",
        object_type="tenancy.site",
        object_id="1",
        changes={},
        prev_hash=last.hash,
        hash="f" * 64,
    )
    # when
    forged.save(force_insert=True)
    problems = audit.verify()
    # then
    assert [(p.seq, p.event_id, p.reason) for p in problems] == [
        (forged.seq, forged.pk, audit.EDITED)
    ]


def test_a_forged_row_with_a_correct_hash_is_caught_by_the_head():
    # given an attacker who knows the hashing and appends a well-formed row
    org = busy_organisation()
    last = trail(org)[-1]
    forged = AuditEvent(
        organisation=org,
        seq=last.seq + 1,
        created_at=last.created_at,
        actor_label="admin",
        action="user.create",
        object_type="tenancy.user",
        object_id="999",
        changes={"roles": [[], ["admin"]]},
        prev_hash=last.hash,
    )
    forged.hash = audit.content_hash(forged)
    # when
    forged.save(force_insert=True)
    problems = audit.verify()
    # then: named as inserted, at the forged row
    assert [(p.seq, p.event_id, p.reason) for p in problems] == [
        (forged.seq, forged.pk, audit.BEYOND_HEAD.format(head=last.seq))
    ]


def test_a_trail_without_its_head_is_caught():
    # given
    org = busy_organisation()
    # when
    AuditChainHead.objects.filter(organisation=org).delete()
    problems = audit.verify()
    # then
    assert [(p.organisation_id, p.reason) for p in problems] == [(org.pk, audit.HEAD_MISSING)]


def test_one_broken_chain_does_not_hide_another_organisations_intact_one():
    # given
    broken, intact = busy_organisation(), busy_organisation()
    # when
    with tampering():
        raw(
            "UPDATE tenancy_auditevent SET action = %s WHERE organisation_id = %s AND seq = 2",
            ["site.view", broken.pk],
        )
    problems = audit.verify()
    # then
    assert [p.organisation_id for p in problems] == [broken.pk]
    assert intact.pk not in {p.organisation_id for p in problems}


def test_the_command_says_intact():
    # given
    busy_organisation()
    out = StringIO()
    # when
    call_command("audit", "verify", stdout=out)
    # then
    assert "audit trail intact" in out.getvalue()
    assert f"{AuditEvent.objects.count()} events verified" in out.getvalue()


def test_the_command_names_the_tampered_row():
    # given
    org = busy_organisation()
    victim = trail(org)[1]
    with tampering():
        raw("UPDATE tenancy_auditevent SET object_id = %s WHERE id = %s", ["666", victim.pk])
    err = StringIO()
    # when
    with pytest.raises(CommandError) as caught:
        call_command("audit", "verify", stdout=StringIO(), stderr=err)
    # then
    assert str(caught.value).startswith("1 audit chain(s) broken: ")
    assert f"organisation {org.pk}: row seq=2 (id={victim.pk})" in str(caught.value)
    assert f"organisation {org.pk}: row seq=2 (id={victim.pk})" in err.getvalue()
    assert audit.EDITED in err.getvalue()


def test_diff_lists_only_changed_fields_as_json_values():
    # given / when
    changes = audit.diff(
        {"name": "A", "cost": Decimal("1.50"), "same": 1},
        {"name": "B", "cost": Decimal("1.50"), "same": 1, "new": ["x"]},
    )
    # then
    assert changes == {"name": ["A", "B"], "new": [None, ["x"]]}


@on_postgresql
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tenancy_auditevent SET action = 'x' WHERE organisation_id = %s",
        "DELETE FROM tenancy_auditevent WHERE organisation_id = %s",
    ],
)
def test_postgresql_refuses_to_change_the_trail(statement):
    # given
    org = busy_organisation(1)
    before = [(e.pk, e.action) for e in trail(org)]
    # when
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw(statement, [org.pk])
    # then
    assert [(e.pk, e.action) for e in trail(org)] == before


@on_postgresql
def test_postgresql_refuses_an_orm_update_of_the_trail():
    # given
    org = busy_organisation(1)
    # when / then
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(organisation=org).update(changes={})
