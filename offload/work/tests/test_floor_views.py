"""The team lead's floor `/floor/`: queues, agents, bots; refresh; roles; a fixed
number of queries; isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from offload.contracts.tests.factories import make_engagement
from offload.tenancy import visibility
from offload.tenancy.models import Organisation, User
from offload.tenancy.tests.factories import make_client, make_provider, make_user
from offload.work import floor, leases, services
from offload.work.models import WorkItem
from offload.work.tests.factories import make_item, make_process, make_queue
from offload.workers import services as worker_services
from offload.workers.models import Worker
from offload.workers.tests.factories import make_agent, make_bot

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def signed_in(org: Organisation, *roles: str, username: str = "") -> Client:
    return browser(make_user(org, *roles, username=username or f"{roles[0]}-{org.pk}"))


def available(worker: Worker) -> Worker:
    return worker_services.worker_set_presence(actor=None, worker=worker, presence="available")


def principal(worker: Worker) -> visibility.Principal:
    found = visibility.principal_for_user(worker.user)
    assert found is not None
    return found


def take(worker: Worker) -> WorkItem:
    claim = leases.work_item_claim(actor=principal(worker))
    assert claim is not None
    return claim.item


def complete(worker: Worker, item: WorkItem) -> None:
    services.work_item_complete(actor=principal(worker), item=item, outcome="resolved")


@pytest.fixture
def shop() -> dict[str, Any]:
    provider = make_provider("Northwind")
    acme = make_client("Acme")
    process = make_process(engagement=make_engagement(acme, provider), name="Acme email")
    first = make_item(process, reference="ACME-1")
    queue = first.queue
    make_item(process, reference="ACME-2")
    make_item(process, reference="ACME-3")
    vip = make_queue(process, name="Acme VIP", slug="acme-vip")
    maria = available(
        make_agent(
            provider,
            user=make_user(provider, "agent", username="maria"),
            skills={},
            processes=[process],
            channels={"email": 2},
        )
    )
    bot = available(make_bot(provider, username="bot.refunds", processes=[process]))
    return {
        "provider": provider,
        "acme": acme,
        "process": process,
        "queue": queue,
        "vip": vip,
        "maria": maria,
        "bot": bot,
    }


def test_a_team_lead_sees_backlog_oldest_held_and_completed_per_queue(shop):
    # given: maria holds one item, the bot completed another
    held = take(shop["maria"])
    done = take(shop["bot"])
    complete(shop["bot"], done)
    # when
    response = signed_in(shop["provider"], "team_lead").get("/floor/")
    # then
    assert response.status_code == 200
    rows = {row.queue.pk: row for row in response.context["floor"].queues}
    row = rows[shop["queue"].pk]
    assert (row.backlog, row.held, row.completed, row.at_risk) == (1, 1, 1, 0)
    assert row.oldest_at is not None
    assert rows[shop["vip"].pk].backlog == 0
    body = response.content.decode()
    assert "Acme VIP" in body
    assert held.reference in body  # maria's current item


def test_items_due_within_the_hour_or_past_due_are_due_soon(shop):
    # given
    now = timezone.now()
    WorkItem.objects.filter(reference="ACME-1").update(due_at=now - timedelta(minutes=5))
    WorkItem.objects.filter(reference="ACME-2").update(due_at=now + timedelta(minutes=30))
    WorkItem.objects.filter(reference="ACME-3").update(due_at=now + timedelta(hours=3))
    # when
    snapshot = floor.floor_get(principal=principal(shop["maria"]), now=now)
    # then
    row = next(r for r in snapshot.queues if r.queue.pk == shop["queue"].pk)
    assert row.due_soon == 2
    assert snapshot.totals is not None
    assert snapshot.totals.due_soon == 2
    assert snapshot.totals.at_risk == 0  # no SLA clocks: nothing warned (test_sla_pages.py)


def test_a_team_leads_own_queues_come_first(shop):
    # given
    lead = make_user(shop["provider"], "team_lead", username="lead")
    shop["vip"].team_leads.add(lead)
    # when
    queues = browser(lead).get("/floor/").context["floor"].queues
    # then
    assert [row.queue.pk for row in queues][:1] == [shop["vip"].pk]
    assert queues[0].led


def test_agents_by_presence_with_load_and_bots_with_throughput(shop):
    # given
    make_agent(shop["provider"], user=make_user(shop["provider"], "agent", username="anna"))
    take(shop["maria"])
    for _ in range(2):
        complete(shop["bot"], take(shop["bot"]))
    # when
    response = signed_in(shop["provider"], "ops_manager").get("/floor/")
    # then
    snapshot = response.context["floor"]
    assert snapshot.presence_counts["available"] == 1
    assert snapshot.presence_counts["offline"] == 1
    assert [row.worker.user.username for row in snapshot.agents] == ["maria", "anna"]
    assert snapshot.agents[0].load == 1
    assert [(row.worker.user.username, row.completed) for row in snapshot.bots] == [
        ("bot.refunds", 2)
    ]
    body = response.content.decode()
    assert "Email&nbsp;1/2" in body
    assert 'data-testid="throughput">2<' in body


def test_an_agent_in_wrap_up_shows_it(shop):
    # given
    complete(shop["maria"], take(shop["maria"]))
    # when
    body = signed_in(shop["provider"], "admin").get("/floor/").content.decode()
    # then
    assert "wrap-up" in body


def test_htmx_refresh_gets_only_the_body_which_polls_again(shop):
    # given
    client = signed_in(shop["provider"], "team_lead")
    # when
    page = client.get("/floor/")
    fragment = client.get("/floor/", headers=HTMX)
    # then
    assert "<h1>Floor</h1>" in page.content.decode()
    body = fragment.content.decode()
    assert "<html" not in body
    assert 'hx-get="/floor/"' in body
    assert 'hx-trigger="every 5s"' in body
    assert 'hx-swap="outerHTML"' in body
    assert "HX-Request" in fragment["Vary"]


def test_an_agent_is_told_the_floor_is_for_team_leads(shop):
    # when
    response = browser(shop["maria"].user).get("/floor/")
    # then
    assert response.status_code == 403
    assert 'data-testid="floor-not-allowed"' in response.content.decode()


def test_a_client_is_sent_home(shop):
    # when
    response = signed_in(shop["acme"], "client_admin").get("/floor/")
    # then
    assert response.status_code == 302


def test_another_provider_sees_none_of_it(shop):
    # given
    initech = make_provider("Initech", slug="initech")
    # when
    body = signed_in(initech, "team_lead").get("/floor/").content.decode()
    # then
    for name in ("Acme", "maria", "bot.refunds"):
        assert name not in body


def _grow(shop: dict[str, Any], n: int) -> None:
    """n more queues with items, agents holding items, and bot completions."""
    for k in range(n):
        queue = make_queue(shop["process"], name=f"Extra {n}-{k}", slug=f"extra-{n}-{k}")
        for m in range(2):
            item = make_item(shop["process"], reference=f"X-{n}-{k}-{m}")
            WorkItem.objects.filter(pk=item.pk).update(queue=queue)
        agent = available(make_agent(shop["provider"], skills={}, processes=[shop["process"]]))
        take(agent)
        complete(shop["bot"], take(shop["bot"]))


def test_the_query_count_stays_fixed_as_the_floor_grows(shop, django_assert_num_queries):
    # given
    client = signed_in(shop["provider"], "team_lead")
    _grow(shop, 1)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/floor/", headers=HTMX).status_code == 200
    # when
    _grow(shop, 6)
    # then
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get("/floor/", headers=HTMX)
    assert len(response.context["floor"].agents) == 8
