"""offload.workers.services: create, edit, presence and deactivation of workers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from offload.core import errors
from offload.tenancy import services as tenancy_services
from offload.tenancy.models import AuditEvent, Site
from offload.tenancy.tests.factories import (
    make_client,
    make_principal,
    make_provider,
    make_site,
    make_user,
)
from offload.tenancy.visibility import principal_for_user
from offload.workers import services
from offload.workers.models import PresenceChange, Worker, WorkerChannel
from offload.workers.tests.factories import make_agent, make_bot, make_process

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def fields_of(exc: pytest.ExceptionInfo[errors.ValidationFailed]) -> list[str]:
    return [e.field for e in exc.value.errors]


@pytest.fixture
def provider():
    return make_provider("Northwind")


# ------------------------------------------------------------------ create


def test_worker_create_makes_an_agent_with_channels_and_audits_it(provider):
    # given
    actor = make_principal(provider, "ops_manager")
    user = make_user(provider, "agent", username="maria")
    site = make_site(provider)
    process = make_process(provider)
    # when
    worker = services.worker_create(
        actor=actor,
        provider=provider,
        user=user,
        kind="agent",
        site=site,
        skills={"billing": 3, "live_chat": 5},
        languages=["en", "tl", "en"],
        processes=[process],
        channels={"email": 3, "chat": 2, "voice": 0},
    )
    # then
    worker.refresh_from_db()
    assert (worker.kind, worker.site, worker.presence) == ("agent", site, "offline")
    assert worker.languages == ["en", "tl"]
    assert list(worker.processes.all()) == [process]
    assert dict(worker.channels.values_list("channel", "capacity")) == {
        "email": 3,
        "chat": 2,
        "voice": 0,
    }
    event = AuditEvent.objects.get(organisation=provider, action="worker.create")
    assert event.object_id == str(worker.pk)
    assert event.changes["process_ids"] == [None, [process.pk]]
    assert event.changes["channels"] == [None, {"chat": 2, "email": 3, "voice": 0}]
    assert actor.user is not None
    assert event.actor_user_id == actor.user.pk


def test_worker_create_makes_a_bot_with_a_channel_per_process_channel(provider):
    # given
    claims = make_process(provider, channel="back_office")
    invoices = make_process(provider, channel="back_office")
    mail = make_process(provider, channel="email")
    # when
    bot = make_bot(provider, processes=[claims, invoices, mail], concurrency=4)
    # then
    assert (bot.kind, bot.bot_mode, bot.concurrency) == ("bot", "unattended", 4)
    assert bot.site is None
    assert dict(bot.channels.values_list("channel", "capacity")) == {"back_office": 4, "email": 4}


@pytest.mark.parametrize(
    ("skills", "field"),
    [
        ({"billing": 0}, "skills.billing"),
        ({"billing": 6}, "skills.billing"),
        ({"billing": "3"}, "skills.billing"),
        ({"billing": True}, "skills.billing"),
        ({"Billing!": 3}, "skills.Billing!"),
    ],
)
def test_worker_create_refuses_a_skill_level_outside_1_to_5(provider, skills, field):
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_agent(provider, skills=skills)
    # then
    assert fields_of(exc) == [field]
    assert not Worker.objects.exists()


def test_worker_create_refuses_a_process_of_a_client_the_provider_does_not_serve(provider):
    # given: a process of another provider's client
    foreign = make_process(make_provider("Initech"))
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_agent(provider, processes=[foreign])
    # then
    assert fields_of(exc) == ["process_ids"]
    assert foreign.slug in exc.value.errors[0].message


def test_worker_create_refuses_an_agent_without_a_site_and_bot_fields_on_an_agent(provider):
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.worker_create(
            actor=None,
            provider=provider,
            user=make_user(provider, "agent"),
            kind="agent",
            bot_mode="unattended",
            concurrency=2,
        )
    # then
    assert fields_of(exc) == ["site_id", "bot_mode", "concurrency"]


def test_worker_create_refuses_agent_fields_on_a_bot_and_needs_its_mode(provider):
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.worker_create(
            actor=None,
            provider=provider,
            user=make_user(provider, "bot"),
            kind="bot",
            skills={"billing": 3},
            languages=["en"],
            channels={"email": 2},
        )
    # then
    assert fields_of(exc) == ["bot_mode", "concurrency", "skills", "languages", "channels"]


def test_worker_create_refuses_a_user_of_another_organisation(provider):
    # given
    outsider = make_user(make_client(), "client_admin")
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_agent(provider, user=outsider)
    # then
    assert exc.value.errors[0] == errors.FieldError("user_id", services.USER_NOT_MEMBER)


def test_worker_create_refuses_a_person_as_a_bot_and_a_bot_as_an_agent(provider):
    # when
    with pytest.raises(errors.ValidationFailed) as person:
        services.worker_create(
            actor=None,
            provider=provider,
            user=make_user(provider, "agent"),
            kind="bot",
            bot_mode="unattended",
            concurrency=1,
        )
    with pytest.raises(errors.ValidationFailed) as bot:
        make_agent(provider, user=make_user(provider, "bot"))
    # then
    assert person.value.errors == [errors.FieldError("user_id", services.NOT_A_BOT_USER)]
    assert bot.value.errors == [errors.FieldError("user_id", services.BOT_USER_AS_AGENT)]


def test_worker_create_refuses_a_second_worker_for_one_user(provider):
    # given
    first = make_agent(provider)
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_agent(provider, user=first.user)
    # then
    assert exc.value.errors == [errors.FieldError("user_id", services.ALREADY_A_WORKER)]


def test_worker_create_refuses_another_providers_site_and_a_bad_language(provider):
    # given
    elsewhere = make_site(make_provider("Initech"))
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_agent(provider, site=elsewhere, languages=["en", "xx"])
    # then
    assert fields_of(exc) == ["site_id", "languages"]


def test_worker_create_refuses_a_capacity_beyond_the_maximum(provider):
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_agent(provider, channels={"chat": services.CAPACITY_MAX + 1, "fax": 1})
    # then
    assert fields_of(exc) == ["channels", "channels"]


@pytest.mark.parametrize("role", ["agent", "team_lead", "qa_analyst"])
def test_worker_create_needs_worker_manage(provider, role):
    # given
    actor = make_principal(provider, role)
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.worker_create(
            actor=actor,
            provider=provider,
            user=make_user(provider, "agent"),
            kind="agent",
            site=make_site(provider),
        )


def test_a_client_cannot_create_workers():
    # given
    client = make_client()
    actor = make_principal(client, "client_admin")
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.worker_create(
            actor=actor, provider=client, user=make_user(client), kind="agent", site=None
        )


def test_the_database_refuses_an_agent_without_a_site(provider):
    # given
    worker = make_agent(provider)
    # when / then: the check constraint holds even past the services
    with pytest.raises(IntegrityError), transaction.atomic():
        Worker.objects.filter(pk=worker.pk).update(site=None)


def test_the_database_refuses_a_negative_load(provider):
    # given
    row = make_agent(provider).channels.get()
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkerChannel.objects.filter(pk=row.pk).update(load=-1)


# ------------------------------------------------------------------ update


def test_worker_update_replaces_skills_processes_and_channels_in_one_audit_event(provider):
    # given
    old, new = make_process(provider), make_process(provider, channel="chat")
    worker = make_agent(provider, processes=[old], channels={"email": 3})
    actor = make_principal(provider, "admin")
    # when
    services.worker_update(
        actor=actor,
        worker=worker,
        data={"skills": {"billing": 4}},
        processes=[new],
        channels={"chat": 2},
    )
    # then
    worker.refresh_from_db()
    assert worker.skills == {"billing": 4}
    assert list(worker.processes.all()) == [new]
    assert dict(worker.channels.values_list("channel", "capacity")) == {"chat": 2}
    event = AuditEvent.objects.get(organisation=provider, action="worker.update")
    assert event.changes == {
        "channels": [{"email": 3}, {"chat": 2}],
        "process_ids": [[old.pk], [new.pk]],
        "skills": [{"billing": 3}, {"billing": 4}],
    }


def test_worker_update_keeps_a_dropped_channel_that_still_holds_work_at_capacity_0(provider):
    # given: two chats on the worker when the admin takes chat away
    worker = make_agent(provider, channels={"email": 3, "chat": 3})
    WorkerChannel.objects.filter(worker=worker, channel="chat").update(load=2)
    # when
    services.worker_update(actor=None, worker=worker, data={}, channels={"email": 3})
    # then: no new chats, and the two it holds still count
    rows = {c.channel: (c.capacity, c.load) for c in worker.channels.all()}
    assert rows == {"email": (3, 0), "chat": (0, 2)}


def test_a_capacity_may_drop_below_the_current_load(provider):
    # given
    worker = make_agent(provider, channels={"chat": 3})
    WorkerChannel.objects.filter(worker=worker).update(load=3)
    # when
    services.worker_update(actor=None, worker=worker, data={}, channels={"chat": 1})
    # then
    row = worker.channels.get()
    assert (row.capacity, row.load, row.free) == (1, 3, 0)


def test_a_bots_channels_follow_its_processes_and_concurrency(provider):
    # given
    claims = make_process(provider, channel="back_office")
    mail = make_process(provider, channel="email")
    bot = make_bot(provider, processes=[claims], concurrency=2)
    # when
    services.worker_update(actor=None, worker=bot, data={"concurrency": 5}, processes=[mail])
    # then
    assert dict(bot.channels.values_list("channel", "capacity")) == {"email": 5}


def test_worker_update_refuses_bot_fields_on_an_agent_and_skills_on_a_bot(provider):
    # given
    agent, bot = make_agent(provider), make_bot(provider)
    # when
    with pytest.raises(errors.ValidationFailed) as on_agent:
        services.worker_update(actor=None, worker=agent, data={"bot_mode": "attended"})
    with pytest.raises(errors.ValidationFailed) as on_bot:
        services.worker_update(actor=None, worker=bot, data={"skills": {"billing": 2}})
    with pytest.raises(errors.ValidationFailed) as no_site:
        services.worker_update(actor=None, worker=agent, data={"site": None})
    # then
    assert fields_of(on_agent) == ["bot_mode"]
    assert fields_of(on_bot) == ["skills"]
    assert fields_of(no_site) == ["site_id"]


def test_worker_update_without_a_change_writes_nothing(provider):
    # given
    worker = make_agent(provider, skills={"billing": 3})
    before = AuditEvent.objects.count()
    # when
    services.worker_update(
        actor=None, worker=worker, data={"skills": {"billing": 3}}, channels={"email": 3}
    )
    # then
    assert AuditEvent.objects.count() == before


def test_worker_update_of_another_providers_worker_is_not_found(provider):
    # given
    worker = make_agent(make_provider("Initech"))
    # when / then
    with pytest.raises(errors.NotFound):
        services.worker_update(
            actor=make_principal(provider, "admin"), worker=worker, data={"skills": {}}
        )


# ------------------------------------------------------------------ presence


def test_worker_set_presence_logs_the_change_and_the_time(provider):
    # given
    worker = make_agent(provider)
    actor = principal_for_user(worker.user)
    # when
    services.worker_set_presence(actor=actor, worker=worker, presence="available", now=T0)
    # then
    worker.refresh_from_db()
    assert (worker.presence, worker.presence_changed_at, worker.idle_since) == (
        "available",
        T0,
        T0,
    )
    change = PresenceChange.objects.get(worker=worker)
    assert (change.previous, change.presence, change.at) == ("offline", "available", T0)
    assert (change.provider_id, change.actor_user_id) == (provider.pk, worker.user_id)
    assert change.actor_label == worker.user.username
    assert not AuditEvent.objects.filter(action__startswith="worker.presence").exists()


def test_the_same_presence_again_logs_nothing(provider):
    # given
    worker = make_agent(provider)
    services.worker_set_presence(actor=None, worker=worker, presence="away", now=T0)
    # when
    services.worker_set_presence(actor=None, worker=worker, presence="away", now=T1)
    # then
    worker.refresh_from_db()
    assert worker.presence_changed_at == T0
    assert PresenceChange.objects.filter(worker=worker).count() == 1


def test_becoming_available_while_holding_work_is_not_idle(provider):
    # given
    worker = make_agent(provider)
    WorkerChannel.objects.filter(worker=worker).update(load=1)
    # when
    services.worker_set_presence(actor=None, worker=worker, presence="available", now=T0)
    # then
    worker.refresh_from_db()
    assert worker.idle_since is None


def test_leaving_available_clears_idle_since(provider):
    # given
    worker = make_agent(provider)
    services.worker_set_presence(actor=None, worker=worker, presence="available", now=T0)
    # when
    services.worker_set_presence(actor=None, worker=worker, presence="busy", now=T1)
    # then
    worker.refresh_from_db()
    assert (worker.presence, worker.idle_since) == ("busy", None)


@pytest.mark.parametrize("role", ["agent", "team_lead", "qa_analyst"])
def test_a_worker_without_worker_manage_sets_only_its_own_presence(provider, role):
    # given
    me = make_agent(provider, user=make_user(provider, role))
    other = make_agent(provider)
    actor = principal_for_user(me.user)
    # when
    services.worker_set_presence(actor=actor, worker=me, presence="available")
    with pytest.raises(errors.PermissionDenied) as exc:
        services.worker_set_presence(actor=actor, worker=other, presence="available")
    # then
    assert exc.value.detail == services.OWN_PRESENCE_ONLY
    other.refresh_from_db()
    assert other.presence == "offline"


def test_an_ops_manager_sets_anyones_presence(provider):
    # given
    worker = make_agent(provider)
    actor = make_principal(provider, "ops_manager")
    # when
    services.worker_set_presence(actor=actor, worker=worker, presence="away")
    # then
    change = PresenceChange.objects.get(worker=worker)
    assert actor.user is not None
    assert change.actor_user_id == actor.user.pk


def test_a_bot_sets_its_own_presence(provider):
    # given
    bot = make_bot(provider)
    actor = principal_for_user(bot.user)
    # when
    worker = services.worker_set_presence(actor=actor, worker=bot, presence="available")
    # then
    assert worker.presence == "available"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)
def test_the_presence_log_refuses_edits_and_deletes_at_the_database(provider):
    # given
    worker = make_agent(provider)
    services.worker_set_presence(actor=None, worker=worker, presence="available", now=T0)
    changes = PresenceChange.objects.filter(worker=worker)
    # when / then
    with pytest.raises(DatabaseError), transaction.atomic():
        changes.update(presence="away")
    with pytest.raises(DatabaseError), transaction.atomic():
        changes.delete()


def test_a_bad_presence_is_a_422_naming_presence(provider):
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.worker_set_presence(actor=None, worker=make_agent(provider), presence="lunch")
    # then
    assert fields_of(exc) == ["presence"]


# ------------------------------------------------------------------ deactivate


def test_worker_deactivate_takes_the_worker_offline_and_audits_it(provider):
    # given
    worker = make_agent(provider)
    services.worker_set_presence(actor=None, worker=worker, presence="available", now=T0)
    actor = make_principal(provider, "admin")
    # when
    services.worker_deactivate(actor=actor, worker=worker)
    # then
    worker.refresh_from_db()
    assert (worker.is_active, worker.presence, worker.idle_since) == (False, "offline", None)
    log = list(PresenceChange.objects.filter(worker=worker).values_list("presence", flat=True))
    assert log == ["available", "offline"]
    event = AuditEvent.objects.get(organisation=provider, action="worker.deactivate")
    assert event.changes == {"is_active": [True, False], "presence": ["available", "offline"]}


def test_a_deactivated_worker_stays_offline_until_reactivated(provider):
    # given
    worker = make_agent(provider)
    services.worker_deactivate(actor=None, worker=worker)
    # when
    with pytest.raises(errors.Conflict):
        services.worker_set_presence(actor=None, worker=worker, presence="available")
    services.worker_update(actor=None, worker=worker, data={"is_active": True})
    again = services.worker_set_presence(actor=None, worker=worker, presence="available")
    # then
    assert (again.is_active, again.presence) == (True, "available")


def test_a_site_with_workers_cannot_be_deleted(provider):
    # given
    site = make_site(provider)
    make_agent(provider, site=site)
    admin = make_principal(provider, "admin")
    before = AuditEvent.objects.count()
    # when
    with pytest.raises(errors.Conflict) as exc:
        tenancy_services.site_delete(actor=admin, site=site)
    # then: nothing deleted, nothing audited
    assert exc.value.detail == tenancy_services.SITE_IN_USE
    assert Site.objects.filter(pk=site.pk).exists()
    assert AuditEvent.objects.count() == before
