import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client

from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
)
from offload.demo import seed
from offload.tenancy import audit
from offload.tenancy.models import ApiKey, Membership, Organisation, Site, User
from offload.tenancy.tests.factories import api_client
from offload.work.models import Mailbox, Queue

pytestmark = pytest.mark.django_db

ACME_SLUGS = {"email-support", "chat-support", "tech-helpdesk"}
GLOBEX_SLUGS = {"claims-entry", "ap-invoices"}


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def _process_slugs(secret: str) -> set[str]:
    response = api_client(secret).get("/api/v1/processes")
    assert response.status_code == 200, response.content
    return {p["slug"] for p in response.json()["items"]}


def _roles(org_slug: str) -> set[str]:
    return set(
        Membership.objects.filter(organisation__slug=org_slug).values_list("role", flat=True)
    )


def test_demo_load_creates_the_named_organisations_and_catalog(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    # when
    seed.load(credentials_path=path)
    # then
    orgs = {o.slug: o for o in Organisation.objects.all()}
    assert {slug: o.name for slug, o in orgs.items()} == {
        "northwind": "Northwind Services",
        "acme": "Acme Telecom",
        "globex": "Globex Insurance",
    }
    assert orgs["globex"].currency == "GBP"
    assert set(Site.objects.values_list("slug", "country")) == {
        ("manila", "PH"),
        ("krakow", "PL"),
        ("monterrey", "MX"),
        ("austin", "US"),
    }
    assert set(Process.objects.filter(client__slug="acme").values_list("slug", flat=True)) == (
        ACME_SLUGS
    )
    assert set(Process.objects.filter(client__slug="globex").values_list("slug", flat=True)) == (
        GLOBEX_SLUGS
    )
    assert not Process.objects.filter(sla_policy__isnull=True).exists()
    assert dict(Engagement.objects.values_list("client__slug", "status")) == {
        "acme": "live",
        "globex": "pilot",
    }
    for engagement in Engagement.objects.all():
        kinds = set(engagement.documents.values_list("kind", flat=True))
        assert kinds == {"msa", "sow", "sla", "dpa"}
    assert BusinessCalendar.objects.filter(client__slug="acme").count() == 2
    assert SlaPolicy.objects.count() == 2
    globex_cards = RateCard.objects.filter(client__slug="globex")
    assert set(globex_cards.values_list("currency", flat=True)) == {"GBP"}


def test_demo_load_gives_each_process_its_queues(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    # when
    seed.load(credentials_path=path)
    # then: a default and a review queue each, and Spanish queues for Acme's email and chat
    queues = {
        (q.client.slug, q.slug): (q.process.slug, q.languages, q.is_review)
        for q in Queue.objects.select_related("client", "process")
    }
    expected: dict[tuple[str, str], tuple[str, list[str], bool]] = {}
    for client, slugs in (("acme", ACME_SLUGS), ("globex", GLOBEX_SLUGS)):
        for slug in slugs:
            expected[(client, slug)] = (slug, [], False)
            expected[(client, f"{slug}-review")] = (slug, [], True)
    for slug in ("email-support", "chat-support"):
        expected[("acme", f"{slug}-es")] = (slug, ["es"], False)
    assert queues == expected


def test_demo_load_gives_acme_email_support_a_mailbox(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    # when
    seed.load(credentials_path=path)
    # then
    mailboxes = {
        (m.client.slug, m.process.slug, m.address)
        for m in Mailbox.objects.select_related("client", "process")
    }
    assert mailboxes == {("acme", "email-support", "support@acme.offload.localhost")}


def test_demo_load_creates_agents_role_logins_bots_and_superuser(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    # when
    seed.load(credentials_path=path)
    # then
    agents = User.objects.filter(
        memberships__role="agent", memberships__organisation__slug="northwind"
    )
    assert agents.count() == 40
    assert {u.username[len("agent.") : -2] for u in agents} == {"mnl", "krk", "mty", "aus"}
    assert _roles("northwind") == {
        "admin",
        "ops_manager",
        "team_lead",
        "agent",
        "qa_analyst",
        "wfm_planner",
        "finance",
        "bot",
    }
    assert _roles("acme") == _roles("globex") == {"client_admin", "client_viewer"}
    bots = User.objects.filter(memberships__role="bot")
    assert {b.username: b.is_bot for b in bots} == {
        "bot.invoice-check": True,
        "bot.claims-intake": True,
    }
    superuser = User.objects.get(username="superadmin")
    assert superuser.is_superuser
    assert superuser.is_staff


def test_demo_load_twice_changes_nothing(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    seed.load(credentials_path=path)
    counts = _row_counts()
    keys = list(ApiKey.objects.values_list("id", "revoked_at", "last_used_at", "updated_at"))
    first_file = path.read_text()
    # when
    again = seed.load(credentials_path=path)
    # then
    assert _row_counts() == counts
    assert list(ApiKey.objects.values_list("id", "revoked_at", "last_used_at", "updated_at")) == (
        keys
    )
    assert again.audit_events_written == 0
    assert again.keys_replaced == []
    assert path.read_text() == first_file


def test_demo_keys_open_the_api_to_their_own_organisation(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    seed.load(credentials_path=path)
    seed.load(credentials_path=path)
    # when
    data = json.loads(path.read_text())
    # then
    assert set(data["api_keys"]) == {"northwind", "acme", "globex"}
    assert set(data["bot_keys"]) == {"bot.invoice-check", "bot.claims-intake"}
    assert _process_slugs(data["api_keys"]["acme"]) == ACME_SLUGS
    assert _process_slugs(data["api_keys"]["globex"]) == GLOBEX_SLUGS
    assert _process_slugs(data["api_keys"]["northwind"]) == ACME_SLUGS | GLOBEX_SLUGS
    for secret in data["bot_keys"].values():
        assert _process_slugs(secret) == ACME_SLUGS | GLOBEX_SLUGS


def test_demo_logins_in_the_credentials_file_sign_in(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    seed.load(credentials_path=path)
    logins = json.loads(path.read_text())["logins"]
    # when
    by_role = {login["role"]: login for login in logins}
    # then
    assert len([login for login in logins if login["role"] == "agent"]) == 40
    assert by_role["superuser"]["username"] == "superadmin"
    assert {(login["role"], login["org"]) for login in logins} >= {
        ("client_admin", "acme"),
        ("client_viewer", "acme"),
        ("client_admin", "globex"),
        ("client_viewer", "globex"),
        ("admin", "northwind"),
        ("finance", "northwind"),
    }
    for role in ("superuser", "admin", "client_admin", "agent"):
        login = by_role[role]
        assert Client().login(username=login["username"], password=login["password"]), role


def test_demo_load_replaces_keys_when_the_credentials_file_is_lost(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    old = seed.load(credentials_path=path)
    path.unlink()
    # when
    new = seed.load(credentials_path=path)
    # then
    assert set(new.keys_replaced) == {*old.api_keys, *old.bot_keys}
    assert _process_slugs(new.api_keys["acme"]) == ACME_SLUGS
    assert api_client(old.api_keys["acme"]).get("/api/v1/processes").status_code == 401
    live = ApiKey.objects.filter(revoked_at__isnull=True, name__startswith="demo: ")
    assert live.count() == 5


def test_demo_load_replaces_only_a_key_that_stopped_working(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    old = seed.load(credentials_path=path)
    ApiKey.objects.filter(name=seed.key_name("acme")).update(revoked_at="2026-01-01T00:00:00Z")
    # when
    new = seed.load(credentials_path=path)
    # then
    assert new.keys_replaced == ["acme"]
    assert new.api_keys["acme"] != old.api_keys["acme"]
    assert new.api_keys["globex"] == old.api_keys["globex"]
    assert _process_slugs(new.api_keys["acme"]) == ACME_SLUGS
    assert json.loads(path.read_text())["api_keys"]["acme"] == new.api_keys["acme"]


def test_demo_load_keeps_the_audit_chain_intact(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    # when
    seed.load(credentials_path=path)
    path.unlink()
    seed.load(credentials_path=path)
    # then
    assert audit.verify() == []


def test_demo_command_prints_logins_and_a_curl_call(tmp_path, settings):
    # given
    settings.VAR_DIR = tmp_path
    out = StringIO()
    # when
    call_command("demo", stdout=out)
    # then
    text = out.getvalue()
    acme_key = json.loads((tmp_path / "demo-credentials.json").read_text())["api_keys"]["acme"]
    assert "northwind.admin" in text
    assert "acme.viewer" in text
    assert "and 40 agents agent.mnl01..agent.aus06 with password northwind-demo-2026" in text
    assert "agent.mnl02" not in text
    assert (
        f'curl -H "Authorization: Bearer {acme_key}" http://127.0.0.1:8000/api/v1/processes' in text
    )


def test_demo_command_says_when_nothing_changed(tmp_path, settings):
    # given
    settings.VAR_DIR = tmp_path
    call_command("demo", stdout=StringIO())
    out = StringIO()
    # when
    call_command("demo", stdout=out)
    # then
    assert "nothing changed" in out.getvalue()
    assert ContractDocument.objects.count() == 8
