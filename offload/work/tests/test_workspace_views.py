"""The agent's workspace `/workspace/`: presence, next item, the item with its SOP and
timeline, every action through the page, errors shown, offers, isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from offload.contracts.tests.factories import make_engagement
from offload.tenancy import visibility
from offload.tenancy.models import Organisation, User
from offload.tenancy.tests.factories import make_client, make_provider, make_user
from offload.work import dispatch, leases, workspace_views
from offload.work.models import Assignment, Offer, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process, make_queue
from offload.workers import services as worker_services
from offload.workers.models import Worker, WorkerChannel
from offload.workers.tests.factories import make_agent

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
SOP = "# Refunds\n\nCheck the account first.\n\n<script>alert('x')</script>"


@pytest.fixture
def shop() -> dict[str, Any]:
    provider = make_provider("Northwind")
    acme = make_client("Acme")
    process = make_process(engagement=make_engagement(acme, provider), name="Acme email", sop=SOP)
    item = make_item(
        process, reference="ACME-1", subject="Refund please", payload={"account": "AC-1"}
    )
    tier2 = make_queue(process, name="Tier 2", slug="tier-2")
    maria = make_agent(
        provider,
        user=make_user(provider, "agent", username="maria"),
        skills={},
        processes=[process],
        channels={"email": 2},
    )
    return {
        "provider": provider,
        "acme": acme,
        "process": process,
        "item": item,
        "tier2": tier2,
        "maria": maria,
    }


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def signed_in(org: Organisation, *roles: str) -> Client:
    return browser(make_user(org, *roles))


def available(worker: Worker) -> Worker:
    return worker_services.worker_set_presence(actor=None, worker=worker, presence="available")


def take(worker: Worker) -> WorkItem:
    principal = visibility.principal_for_user(worker.user)
    assert principal is not None
    claim = leases.work_item_claim(actor=principal)
    assert claim is not None
    return claim.item


def types(item: WorkItem) -> list[str]:
    return list(
        WorkItemEvent.objects.filter(item=item).order_by("seq").values_list("type", flat=True)
    )


def act(client: Client, item: WorkItem, **form: str) -> Any:
    return client.post(f"/workspace/items/{item.pk}/act/", form, headers=HTMX)


# ------------------------------------------------------------------ who gets the page


def test_a_provider_user_who_is_not_a_worker_gets_a_page_that_says_so(shop):
    # when
    response = signed_in(shop["provider"], "team_lead").get("/workspace/")
    # then
    assert response.status_code == 200
    assert 'data-testid="not-a-worker"' in response.content.decode()


def test_a_client_is_sent_home(shop):
    # when
    response = signed_in(shop["acme"], "client_admin").get("/workspace/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_the_nav_links_the_workspace_for_workers_and_the_floor_for_team_leads(shop):
    # when
    agent_page = browser(shop["maria"].user).get("/items/").content.decode()
    lead_page = signed_in(shop["provider"], "team_lead").get("/items/").content.decode()
    # then
    assert 'data-testid="nav-workspace"' in agent_page
    assert 'data-testid="nav-floor"' not in agent_page
    assert 'data-testid="nav-floor"' in lead_page
    assert 'data-testid="nav-workspace"' not in lead_page


def test_the_empty_workspace_documents_its_shortcuts(shop):
    # when
    body = browser(shop["maria"].user).get("/workspace/").content.decode()
    # then
    assert 'data-testid="no-item"' in body
    assert "Keyboard shortcuts" in body
    for key, _ in workspace_views.SHORTCUTS:
        assert f"<kbd>{key}</kbd>" in body


# ------------------------------------------------------------------ presence and next item


def test_the_presence_toggle_sets_the_workers_presence(shop):
    # given
    client = browser(shop["maria"].user)
    # when
    response = client.post("/workspace/presence/", {"presence": "available"}, headers=HTMX)
    # then
    shop["maria"].refresh_from_db()
    assert shop["maria"].presence == "available"
    body = response.content.decode()
    assert "<html" not in body
    assert 'class="badge available"' in body
    assert "You are available." in body


def test_a_bad_presence_is_shown_as_an_error(shop):
    # when
    response = browser(shop["maria"].user).post("/workspace/presence/", {"presence": "asleep"})
    # then
    assert response.status_code == 422
    assert "&#x27;asleep&#x27; is not a presence" in response.content.decode()


def test_next_item_while_offline_says_to_become_available(shop):
    # when
    response = browser(shop["maria"].user).post("/workspace/next/", headers=HTMX)
    # then
    assert response.status_code == 200
    assert "set your presence to available to take work (it is offline)" in (
        response.content.decode()
    )
    assert not Assignment.objects.exists()


def test_next_item_with_nothing_waiting_says_so(shop):
    # given
    available(shop["maria"])
    WorkItem.objects.filter(pk=shop["item"].pk).update(status="cancelled")
    # when
    response = browser(shop["maria"].user).post("/workspace/next/", headers=HTMX)
    # then
    assert workspace_views.NOTHING_NOW in response.content.decode()


def test_next_item_shows_the_item_its_payload_sop_timeline_lease_and_handle_time(shop):
    # given
    available(shop["maria"])
    # when
    response = browser(shop["maria"].user).post("/workspace/next/", headers=HTMX)
    # then
    item = shop["item"]
    assert response["HX-Push-Url"] == f"/workspace/items/{item.pk}/"
    body = response.content.decode()
    assert "You have ACME-1." in body
    assert '<th scope="row">account</th><td>AC-1</td>' in body  # the payload
    assert "Email 1/2" in body  # the capacity, as the claim left it
    assert "<h1>Refunds</h1>" in body  # the SOP, rendered
    assert "<script>alert" not in body  # and sanitised
    assert "<strong>assigned</strong>" in body  # the timeline
    assert 'data-testid="lease"' in body
    assert f'hx-post="/workspace/items/{item.pk}/heartbeat/"' in body
    assert 'hx-trigger="every 60s"' in body
    assert 'data-testid="handle-time"' in body
    assert Assignment.objects.get(item=item, ended_at__isnull=True).worker == shop["maria"]


def test_a_plain_post_redirects_back_with_the_message(shop):
    # given
    available(shop["maria"])
    client = browser(shop["maria"].user)
    # when
    response = client.post("/workspace/next/", follow=True)
    # then
    assert response.redirect_chain == [(f"/workspace/items/{shop['item'].pk}/", 302)]
    assert "You have ACME-1." in response.content.decode()


def test_a_get_on_an_action_address_goes_back_to_the_workspace(shop):
    # when
    response = browser(shop["maria"].user).get("/workspace/next/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/workspace/"


# ------------------------------------------------------------------ actions


@pytest.fixture
def held(shop: dict[str, Any]) -> dict[str, Any]:
    available(shop["maria"])
    item = take(shop["maria"])
    return {**shop, "item": item, "client": browser(shop["maria"].user)}


def test_reply_sends_a_public_message(held):
    # when
    response = act(held["client"], held["item"], action="reply", text="We refunded you.")
    # then
    assert "Reply sent." in response.content.decode()
    assert types(held["item"])[-1] == "replied"
    assert "We refunded you." in response.content.decode()  # in the timeline


def test_an_empty_reply_is_a_field_error_beside_the_form(held):
    # when
    response = act(held["client"], held["item"], action="reply", text="  ")
    # then
    body = response.content.decode()
    assert 'data-testid="reply-error"' in body
    assert "must not be empty" in body
    assert "replied" not in types(held["item"])


def test_wait_keeps_the_item_and_frees_capacity(held):
    # when
    response = act(held["client"], held["item"], action="wait", note="asked for the invoice")
    # then
    held["item"].refresh_from_db()
    assert held["item"].status == "waiting_on_client"
    assert "is waiting on the client" in response.content.decode()
    assert WorkerChannel.objects.get(worker=held["maria"]).load == 0
    assert 'id="wait-form"' not in response.content.decode()


def test_escalate_needs_a_reason(held):
    # when
    empty = act(held["client"], held["item"], action="escalate", reason="")
    given = act(held["client"], held["item"], action="escalate", reason="angry customer")
    # then
    assert 'data-testid="escalate-error"' in empty.content.decode()
    held["item"].refresh_from_db()
    assert held["item"].status == "escalated"
    assert "is escalated" in given.content.decode()
    assert given["HX-Push-Url"] == "/workspace/"


def test_transfer_moves_the_item_to_another_queue_of_its_process(held):
    # given
    page = held["client"].get(f"/workspace/items/{held['item'].pk}/").content.decode()
    # when
    response = act(held["client"], held["item"], action="transfer", queue="tier-2")
    # then
    assert '<option value="tier-2">Tier 2</option>' in page
    held["item"].refresh_from_db()
    assert held["item"].queue == held["tier2"]
    assert held["item"].status == "queued"
    assert "is transferred to tier-2" in response.content.decode()


def test_transfer_to_an_unknown_queue_is_a_field_error(held):
    # when
    response = act(held["client"], held["item"], action="transfer", queue="nowhere")
    # then
    assert "no queue &#x27;nowhere&#x27;" in response.content.decode()


def test_complete_then_wrap_up_done(held):
    # when
    done = act(held["client"], held["item"], action="complete", outcome="resolved")
    # then: completed, and the wrap-up block with its remaining seconds
    held["item"].refresh_from_db()
    assert held["item"].status == "completed"
    assert held["item"].outcome == "resolved"
    body = done.content.decode()
    assert "is completed (resolved)" in body
    assert 'data-testid="wrap-up"' in body
    assert "data-remaining=" in body
    # when: the agent presses Done
    response = held["client"].post("/workspace/wrap-up/", headers=HTMX)
    # then
    assert workspace_views.WRAP_UP_DONE in response.content.decode()
    assert 'data-testid="wrap-up"' not in response.content.decode()
    assert types(held["item"])[-1] == "wrap_up_ended"
    assert WorkerChannel.objects.get(worker=held["maria"]).load == 0


def test_next_item_during_wrap_up_says_to_finish_it(held):
    # given: capacity 1, the item completed and in wrap-up, another item waiting
    WorkerChannel.objects.filter(worker=held["maria"]).update(capacity=1)
    act(held["client"], held["item"], action="complete", outcome="resolved")
    make_item(held["process"], reference="ACME-2")
    # when
    response = held["client"].post("/workspace/next/", headers=HTMX)
    # then
    assert workspace_views.FINISH_WRAP_UP in response.content.decode()


def test_a_bad_outcome_is_a_field_error(held):
    # when
    response = held["client"].post(
        f"/workspace/items/{held['item'].pk}/act/", {"action": "complete", "outcome": "meh"}
    )
    # then
    assert response.status_code == 422
    assert "&#x27;meh&#x27; is not one of" in response.content.decode()


def test_release_gives_the_item_back(held):
    # when
    act(held["client"], held["item"], action="release")
    # then
    held["item"].refresh_from_db()
    assert held["item"].status == "queued"
    assert types(held["item"])[-1] == "released"


def test_an_unknown_action_is_an_error(held):
    # when
    response = act(held["client"], held["item"], action="teleport")
    # then
    assert "&#x27;teleport&#x27; is not an action" in response.content.decode()


def test_another_agent_cannot_act_on_a_held_item(held):
    # given
    other = make_agent(held["provider"], skills={}, processes=[held["process"]])
    # when
    response = act(browser(other.user), held["item"], action="complete", outcome="resolved")
    # then
    assert "held by worker" in response.content.decode()
    held["item"].refresh_from_db()
    assert held["item"].status == "assigned"


def test_an_item_the_worker_does_not_hold_shows_without_actions(held):
    # given
    other = make_agent(held["provider"], skills={}, processes=[held["process"]])
    # when
    body = browser(other.user).get(f"/workspace/items/{held['item'].pk}/").content.decode()
    # then
    assert 'data-testid="not-held"' in body
    assert 'id="complete-form"' not in body


def test_the_heartbeat_extends_the_lease(held):
    # given
    lease = Assignment.objects.get(item=held["item"], ended_at__isnull=True)
    soon = timezone.now() + timedelta(seconds=5)
    Assignment.objects.filter(pk=lease.pk).update(lease_expires_at=soon)
    # when
    response = held["client"].post(f"/workspace/items/{held['item'].pk}/heartbeat/", headers=HTMX)
    # then
    lease.refresh_from_db()
    assert lease.lease_expires_at > soon + timedelta(seconds=60)
    assert 'hx-trigger="every 60s"' in response.content.decode()


def test_a_heartbeat_on_a_lost_item_says_so_and_stops(held):
    # given
    act(held["client"], held["item"], action="release")
    # when
    response = held["client"].post(f"/workspace/items/{held['item'].pk}/heartbeat/", headers=HTMX)
    # then
    body = response.content.decode()
    assert "You no longer hold this item" in body
    assert "hx-trigger" not in body


# ------------------------------------------------------------------ offers


@pytest.fixture
def offered(shop: dict[str, Any]) -> dict[str, Any]:
    now = timezone.now()
    item = shop["item"]
    Offer.objects.create(
        item=item,
        worker=shop["maria"],
        client_id=item.client_id,
        provider_id=item.provider_id,
        offered_at=now,
        expires_at=now + timedelta(seconds=30),
    )
    return shop


def test_open_offers_are_listed_without_buttons_until_push_routing_answers(offered, monkeypatch):
    # given: no offer services anywhere
    monkeypatch.delattr(dispatch, "offer_accept", raising=False)
    # when
    body = browser(offered["maria"].user).get("/workspace/").content.decode()
    # then: listed, without buttons that could not work
    assert "Offered to you" in body
    assert f'data-testid="offer-{offered["item"].pk}"' in body
    assert 'value="accept"' not in body


def test_accepting_an_offer_assigns_the_item(offered):
    # given
    client = browser(offered["maria"].user)
    # when
    page = client.get("/workspace/").content.decode()
    response = client.post(
        f"/workspace/items/{offered['item'].pk}/offer/", {"answer": "accept"}, headers=HTMX
    )
    # then
    assert 'value="accept"' in page
    assert "You accepted ACME-1." in response.content.decode()
    assert response["HX-Push-Url"] == f"/workspace/items/{offered['item'].pk}/"
    lease = Assignment.objects.get(item=offered["item"], ended_at__isnull=True)
    assert (lease.worker, lease.how) == (offered["maria"], "push")
    assert Offer.objects.get().status == "accepted"


def test_declining_an_offer_says_so(offered):
    # when
    response = browser(offered["maria"].user).post(
        f"/workspace/items/{offered['item'].pk}/offer/", {"answer": "decline"}, headers=HTMX
    )
    # then
    assert "You declined ACME-1." in response.content.decode()
    assert Offer.objects.get().status == "declined"
    assert "offer_declined" in types(offered["item"])


def test_answering_a_closed_offer_is_an_error(offered):
    # given
    Offer.objects.update(status="expired")
    # when
    response = browser(offered["maria"].user).post(
        f"/workspace/items/{offered['item'].pk}/offer/", {"answer": "accept"}, headers=HTMX
    )
    # then
    assert workspace_views.OFFER_GONE in response.content.decode()
    assert not Assignment.objects.exists()


# ------------------------------------------------------------------ isolation


def test_another_providers_worker_gets_a_404_and_changes_nothing(held):
    # given
    initech = make_provider("Initech", slug="initech")
    stranger = make_agent(initech, skills={})
    before = list(types(held["item"]))
    # when
    responses = [
        browser(stranger.user).post(f"/workspace/items/{held['item'].pk}/{path}/", form)
        for path, form in [
            ("act", {"action": "complete", "outcome": "resolved"}),
            ("heartbeat", {}),
            ("offer", {"answer": "accept"}),
        ]
    ]
    page = browser(stranger.user).get(f"/workspace/items/{held['item'].pk}/")
    # then
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert page.status_code == 404
    assert types(held["item"]) == before


def test_the_workspace_lists_only_the_workers_own_items(held):
    # given: another agent of the same provider holds another item
    other = available(make_agent(held["provider"], skills={}, processes=[held["process"]]))
    make_item(held["process"], reference="ACME-OTHER")
    take(other)
    # when
    body = held["client"].get("/workspace/").content.decode()
    # then
    assert "ACME-1" in body
    assert "ACME-OTHER" not in body
