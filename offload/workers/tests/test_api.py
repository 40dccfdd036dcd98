"""Workers through HTTP: `/api/v1/workers`, `/workers/me`, `/workers/{id}`, presence
and the presence log."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import (
    api_client,
    key_for,
    make_api_key,
    make_provider,
    make_site,
    make_user,
)
from offload.workers import api as workers_api
from offload.workers import services
from offload.workers.models import PresenceChange, Worker
from offload.workers.tests.factories import make_agent, make_bot, make_process

pytestmark = pytest.mark.django_db

WORKERS = "/api/v1/workers"
PROBLEM = "application/problem+json"


def send(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def errors_of(response: Any) -> list[tuple[str, str]]:
    assert response["Content-Type"] == PROBLEM, response.content
    return [(e["field"], e["message"]) for e in response.json()["errors"]]


def as_worker(worker: Worker, scopes: tuple[str, ...] = ("read", "write")) -> Client:
    """A client with a key acting as the worker's user: the worker's own API key."""
    return api_client(make_api_key(worker.provider, user=worker.user, scopes=scopes)[1])


@pytest.fixture
def provider():
    return make_provider("Northwind")


@pytest.fixture
def ops(provider) -> Client:
    return api_client(key_for(provider, "ops_manager"))


# ------------------------------------------------------------------ create


def test_worker_create_answers_201_with_channels_processes_and_presence(provider, ops):
    # given
    user = make_user(provider, "agent", username="maria")
    user.first_name, user.last_name = "Maria", "Santos"
    user.save()
    site = make_site(provider)
    process = make_process(provider, channel="chat")
    # when
    response = send(
        ops,
        "POST",
        WORKERS,
        {
            "user_id": user.pk,
            "kind": "agent",
            "site_id": site.pk,
            "skills": {"live_chat": 4},
            "languages": ["en", "tl"],
            "process_ids": [process.pk],
            "channels": [{"channel": "chat", "capacity": 3}, {"channel": "voice", "capacity": 1}],
        },
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["username"], body["name"], body["kind"]) == ("maria", "Maria Santos", "agent")
    assert (body["site_id"], body["provider_id"]) == (site.pk, provider.pk)
    assert body["skills"] == {"live_chat": 4}
    assert body["processes"] == [
        {
            "id": process.pk,
            "slug": process.slug,
            "name": process.name,
            "client_id": process.client_id,
            "channel": "chat",
        }
    ]
    assert body["channels"] == [
        {"channel": "chat", "capacity": 3, "load": 0},
        {"channel": "voice", "capacity": 1, "load": 0},
    ]
    assert (body["presence"], body["presence_changed_at"], body["idle_since"]) == (
        "offline",
        None,
        None,
    )
    assert (body["bot_mode"], body["concurrency"], body["is_active"]) == (None, None, True)


def test_worker_create_makes_a_bot_from_its_bot_user(provider, ops):
    # given
    bot_user = make_user(provider, "bot", username="bot.invoices")
    process = make_process(provider, channel="back_office")
    # when
    response = send(
        ops,
        "POST",
        WORKERS,
        {
            "user_id": bot_user.pk,
            "kind": "bot",
            "process_ids": [process.pk],
            "bot_mode": "unattended",
            "concurrency": 3,
        },
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["bot_mode"], body["concurrency"]) == ("bot", "unattended", 3)
    assert body["channels"] == [{"channel": "back_office", "capacity": 3, "load": 0}]


def test_worker_create_names_every_bad_field(provider, ops):
    # given
    user = make_user(provider, "agent")
    # when
    response = send(
        ops,
        "POST",
        WORKERS,
        {
            "user_id": user.pk,
            "kind": "agent",
            "skills": {"billing": 7},
            "concurrency": 2,
            "channels": [{"channel": "chat", "capacity": 1}],
        },
    )
    # then
    assert response.status_code == 422
    assert errors_of(response) == [
        ("site_id", "an agent needs a site"),
        ("concurrency", "applies to bots only"),
        ("skills.billing", "skill 'billing' needs a level from 1 to 5"),
    ]
    assert not Worker.objects.exists()


def test_worker_create_refuses_a_channel_twice(provider, ops):
    # given
    user = make_user(provider, "agent")
    # when
    response = send(
        ops,
        "POST",
        WORKERS,
        {
            "user_id": user.pk,
            "kind": "agent",
            "site_id": make_site(provider).pk,
            "channels": [{"channel": "chat", "capacity": 1}, {"channel": "chat", "capacity": 2}],
        },
    )
    # then
    assert response.status_code == 422
    assert errors_of(response) == [
        ("channels[1].channel", workers_api.DUPLICATE_CHANNEL.format(channel="chat"))
    ]


def test_worker_create_refuses_processes_the_caller_cannot_see(provider, ops):
    # given: a process of a client of another provider
    foreign = make_process(make_provider("Initech"))
    mine = make_process(provider)
    user = make_user(provider, "agent")
    # when
    response = send(
        ops,
        "POST",
        WORKERS,
        {
            "user_id": user.pk,
            "kind": "agent",
            "site_id": make_site(provider).pk,
            "process_ids": [mine.pk, foreign.pk],
        },
    )
    # then
    assert response.status_code == 422
    [(field, message)] = errors_of(response)
    assert field == "process_ids"
    assert message.endswith(f": {foreign.pk}")


def test_worker_create_refuses_a_user_of_another_organisation_as_not_found(provider, ops):
    # given
    stranger = make_user(make_provider("Initech"), "agent")
    # when
    response = send(
        ops,
        "POST",
        WORKERS,
        {"user_id": stranger.pk, "kind": "agent", "site_id": make_site(provider).pk},
    )
    # then
    assert response.status_code == 422
    assert [f for f, _ in errors_of(response)] == ["user_id"]


@pytest.mark.parametrize("role", ["agent", "team_lead", "wfm_planner"])
def test_worker_create_is_for_admins_and_ops_managers(provider, role):
    # given
    client = api_client(key_for(provider, role))
    user = make_user(provider, "agent")
    # when
    response = send(
        client,
        "POST",
        WORKERS,
        {"user_id": user.pk, "kind": "agent", "site_id": make_site(provider).pk},
    )
    # then
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM


# ------------------------------------------------------------------ read


def test_worker_list_filters_and_pages(provider, ops):
    # given
    manila = make_site(provider)
    a = make_agent(provider, site=manila, skills={"billing": 4})
    b = make_agent(provider, skills={"billing": 2})
    bot = make_bot(provider)
    # when
    everyone = ops.get(WORKERS).json()
    bots = ops.get(WORKERS, {"kind": "bot"}).json()
    at_manila = ops.get(WORKERS, {"site_id": manila.pk}).json()
    senior = ops.get(WORKERS, {"skill": "billing", "skill_level": 3}).json()
    first = ops.get(WORKERS, {"limit": 2}).json()
    second = ops.get(WORKERS, {"limit": 2, "cursor": first["next_cursor"]}).json()
    # then
    assert [w["id"] for w in everyone["items"]] == [a.pk, b.pk, bot.pk]
    assert [w["id"] for w in bots["items"]] == [bot.pk]
    assert [w["id"] for w in at_manila["items"]] == [a.pk]
    assert [w["id"] for w in senior["items"]] == [a.pk]
    assert [w["id"] for w in first["items"] + second["items"]] == [a.pk, b.pk, bot.pk]
    assert second["next_cursor"] is None


def test_worker_list_refuses_a_bad_filter_by_name(ops):
    # when
    response = ops.get(WORKERS, {"presence": "lunch", "skill_level": 9})
    # then
    assert response.status_code == 422
    assert sorted(f for f, _ in errors_of(response)) == ["presence", "skill_level"]


def test_worker_list_query_count_does_not_grow_with_the_page(provider, ops):
    # given
    process = make_process(provider)
    make_agent(provider, processes=[process])
    ops.get(WORKERS)  # records the key's use
    with CaptureQueriesContext(connection) as few:
        ops.get(WORKERS)
    for _ in range(10):
        make_agent(provider, processes=[process], channels={"email": 2, "chat": 2})
    # when
    with CaptureQueriesContext(connection) as many:
        response = ops.get(WORKERS)
    # then
    assert len(response.json()["items"]) == 11
    assert len(many.captured_queries) == len(few.captured_queries)


def test_workers_me_is_the_calling_worker(provider):
    # given
    agent = make_agent(provider)
    bot = make_bot(provider)
    # when
    as_agent = as_worker(agent).get(f"{WORKERS}/me")
    as_bot = as_worker(bot).get(f"{WORKERS}/me")
    # then
    assert (as_agent.status_code, as_agent.json()["id"]) == (200, agent.pk)
    assert (as_bot.status_code, as_bot.json()["id"]) == (200, bot.pk)


def test_workers_me_is_a_404_problem_for_someone_who_is_not_a_worker(provider, ops):
    # when
    response = ops.get(f"{WORKERS}/me")
    # then
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == workers_api.NOT_A_WORKER


def test_a_signed_in_agent_reads_itself_at_me(provider):
    # given
    agent = make_agent(provider)
    browser = Client()
    browser.force_login(agent.user)
    # when
    response = browser.get(f"{WORKERS}/me")
    # then
    assert response.json()["id"] == agent.pk


def test_worker_get_of_an_id_beyond_any_column_is_a_404(ops):
    # when
    response = ops.get(f"{WORKERS}/{2**64}")
    # then
    assert response.status_code == 404


# ------------------------------------------------------------------ update


def test_worker_update_patches_skills_and_replaces_channels(provider, ops):
    # given
    worker = make_agent(provider, skills={"billing": 2}, channels={"email": 3})
    # when
    response = send(
        ops,
        "PATCH",
        f"{WORKERS}/{worker.pk}",
        {"skills": {"billing": 3}, "channels": [{"channel": "chat", "capacity": 2}]},
    )
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["skills"] == {"billing": 3}
    assert body["channels"] == [{"channel": "chat", "capacity": 2, "load": 0}]
    assert body["site_id"] == worker.site_id


def test_worker_update_null_site_is_a_422_for_an_agent_and_clears_a_bots(provider, ops):
    # given
    agent = make_agent(provider)
    bot = make_bot(provider)
    site = make_site(provider)
    send(ops, "PATCH", f"{WORKERS}/{bot.pk}", {"site_id": site.pk})
    # when
    on_agent = send(ops, "PATCH", f"{WORKERS}/{agent.pk}", {"site_id": None})
    on_bot = send(ops, "PATCH", f"{WORKERS}/{bot.pk}", {"site_id": None})
    # then
    assert errors_of(on_agent) == [("site_id", "an agent needs a site")]
    assert (on_bot.status_code, on_bot.json()["site_id"]) == (200, None)


def test_worker_update_is_active_false_deactivates(provider, ops):
    # given
    worker = make_agent(provider)
    services.worker_set_presence(actor=None, worker=worker, presence="available")
    # when
    response = send(ops, "PATCH", f"{WORKERS}/{worker.pk}", {"is_active": False})
    # then
    assert (response.json()["is_active"], response.json()["presence"]) == (False, "offline")
    assert AuditEvent.objects.filter(action="worker.deactivate").count() == 1


# ------------------------------------------------------------------ presence


def test_a_worker_sets_its_own_presence_with_its_key(provider):
    # given
    agent = make_agent(provider)
    # when
    response = send(
        as_worker(agent), "POST", f"{WORKERS}/{agent.pk}/presence", {"presence": "away"}
    )
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["presence"] == "away"
    assert body["presence_changed_at"] is not None


def test_an_agent_cannot_set_another_workers_presence(provider):
    # given
    me, other = make_agent(provider), make_agent(provider)
    # when
    response = send(as_worker(me), "POST", f"{WORKERS}/{other.pk}/presence", {"presence": "away"})
    # then
    assert response.status_code == 403
    assert response.json()["detail"] == services.OWN_PRESENCE_ONLY
    assert not PresenceChange.objects.exists()


def test_a_read_only_key_cannot_change_presence(provider):
    # given
    agent = make_agent(provider)
    # when
    response = send(
        as_worker(agent, scopes=("read",)),
        "POST",
        f"{WORKERS}/{agent.pk}/presence",
        {"presence": "available"},
    )
    # then
    assert response.status_code == 403


def test_presence_changes_list_the_log_oldest_first(provider, ops):
    # given
    agent = make_agent(provider)
    for presence in ("available", "busy", "available", "offline"):
        send(ops, "POST", f"{WORKERS}/{agent.pk}/presence", {"presence": presence})
    # when
    first = ops.get(f"{WORKERS}/{agent.pk}/presence-changes", {"limit": 3}).json()
    rest = ops.get(
        f"{WORKERS}/{agent.pk}/presence-changes", {"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    # then
    moves = [(c["previous"], c["presence"]) for c in first["items"] + rest["items"]]
    assert moves == [
        ("offline", "available"),
        ("available", "busy"),
        ("busy", "available"),
        ("available", "offline"),
    ]
    assert {c["worker_id"] for c in first["items"]} == {agent.pk}
