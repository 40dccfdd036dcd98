"""The roster page `/workers/`, and the workers in the admin."""

from __future__ import annotations

import pytest
from django.test import Client

from offload.contracts.tests.factories import make_engagement
from offload.tenancy import audit
from offload.tenancy.models import AuditEvent, Organisation, User
from offload.tenancy.tests.factories import make_client, make_provider, make_site, make_user
from offload.workers import services
from offload.workers.models import Worker, WorkerChannel
from offload.workers.tests.factories import make_agent, make_bot, make_process

pytestmark = pytest.mark.django_db

ROSTER = "/workers/"


def signed_in(org: Organisation, *roles: str) -> Client:
    client = Client()
    client.force_login(make_user(org, *roles))
    return client


@pytest.fixture
def floor():
    provider = make_provider("Northwind")
    manila = make_site(provider, name="Manila")
    krakow = make_site(provider, name="Krakow", country="PL", timezone="Europe/Warsaw")
    process = make_process(provider, channel="chat", name="Chat support")
    maria = make_agent(
        provider,
        user=make_user(provider, "agent", username="maria.santos"),
        site=manila,
        skills={"live_chat": 4, "billing": 2},
        processes=[process],
        channels={"chat": 3},
    )
    anna = make_agent(
        provider, user=make_user(provider, "agent", username="anna.nowak"), site=krakow
    )
    bot = make_bot(provider, username="bot.claims", processes=[process], concurrency=2)
    services.worker_set_presence(actor=None, worker=maria, presence="available")
    WorkerChannel.objects.filter(worker=maria).update(load=1)
    return {"provider": provider, "manila": manila, "maria": maria, "anna": anna, "bot": bot}


def test_the_roster_shows_agents_and_bots_with_presence_skills_and_load(floor):
    # when
    response = signed_in(floor["provider"], "team_lead").get(ROSTER)
    # then
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("maria.santos", "anna.nowak", "bot.claims", "Manila", "Krakow"):
        assert text in body
    assert "live_chat&nbsp;4" in body
    assert "Chat&nbsp;1/3" in body
    assert 'class="badge available"' in body
    assert "unattended, 2 at once" in body
    assert 'data-testid="nav-workers"' in body


def test_htmx_filters_by_site_and_presence_return_only_the_rows(floor):
    # given
    browser = signed_in(floor["provider"], "ops_manager")
    # when
    by_site = browser.get(ROSTER, {"site": floor["manila"].pk}, headers={"HX-Request": "true"})
    by_presence = browser.get(ROSTER, {"presence": "offline"}, headers={"HX-Request": "true"})
    # then
    site_body = by_site.content.decode()
    assert "<h1>" not in site_body
    assert "maria.santos" in site_body
    assert "anna.nowak" not in site_body
    presence_body = by_presence.content.decode()
    assert "maria.santos" not in presence_body
    assert "anna.nowak" in presence_body
    assert "bot.claims" in presence_body
    assert "HX-Request" in by_site["Vary"]


def test_nonsense_filters_filter_nothing(floor):
    # when
    response = signed_in(floor["provider"], "admin").get(
        ROSTER, {"site": "9" * 40, "presence": "lunch", "cursor": "junk"}
    )
    # then: no 500; the bad cursor is said, not thrown
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_a_client_never_sees_the_roster_nor_its_link(floor):
    # given: a client whose process Maria works
    client = floor["maria"].processes.get().client
    browser = signed_in(client, "client_admin")
    # when
    response = browser.get(ROSTER, follow=True)
    # then
    body = response.content.decode()
    assert response.redirect_chain[0][0] == "/"
    assert "maria.santos" not in body
    assert 'data-testid="nav-workers"' not in body


def test_another_provider_sees_its_own_roster_only(floor):
    # given
    other = make_provider("Initech")
    make_engagement(client=make_client(), provider=other)
    # when
    body = signed_in(other, "admin").get(ROSTER).content.decode()
    # then
    assert "maria.santos" not in body
    assert "No workers match." in body


# ------------------------------------------------------------------ admin


@pytest.fixture
def admin_site_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    return client


def _form(worker_fields: dict[str, object]) -> dict[str, object]:
    return {
        "skills": "{}",
        "languages": "[]",
        "bot_mode": "",
        "concurrency": "",
        "is_active": "on",
        "channels-TOTAL_FORMS": "0",
        "channels-INITIAL_FORMS": "0",
        **worker_fields,
    }


def test_adding_a_worker_in_the_admin_is_audited(admin_site_client):
    # given
    provider = make_provider("Northwind")
    user = make_user(provider, "agent", username="new.agent")
    site = make_site(provider)
    process = make_process(provider)
    form = _form(
        {
            "provider": provider.pk,
            "user": user.pk,
            "kind": "agent",
            "site": site.pk,
            "skills": '{"billing": 3}',
            "processes": [process.pk],
        }
    )
    # when
    response = admin_site_client.post("/admin/workers/worker/add/", form)
    # then
    assert response.status_code == 302, response.content
    worker = Worker.objects.get(user=user)
    assert list(worker.processes.all()) == [process]
    event = AuditEvent.objects.filter(organisation=provider).latest("seq")
    assert (event.action, event.object_id) == ("admin.worker.create", str(worker.pk))
    assert audit.verify() == []


def test_the_admin_refuses_another_providers_process_and_an_agent_without_a_site(
    admin_site_client,
):
    # given
    provider = make_provider("Northwind")
    foreign = make_process(make_provider("Initech"))
    form = _form(
        {
            "provider": provider.pk,
            "user": make_user(provider, "agent").pk,
            "kind": "agent",
            "processes": [foreign.pk],
        }
    )
    # when
    response = admin_site_client.post("/admin/workers/worker/add/", form)
    # then
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"processes", "site"}
    assert not Worker.objects.exists()
