"""The web shell: pages render for members, 404 across clients, htmx fragments, nav by role."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from offload.contracts import services
from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    SlaPolicy,
)
from offload.contracts.tests.factories import (
    WARSAW_OFFICE,
    make_calendar,
    make_document,
    make_engagement,
    make_policy,
    make_process,
    target,
)
from offload.tenancy.models import Organisation, User
from offload.tenancy.tests.factories import make_client, make_provider, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@dataclass
class Tenant:
    organisation: Organisation
    engagement: Engagement
    process: Process
    document: ContractDocument
    calendar: BusinessCalendar
    policy: SlaPolicy
    user: User


def make_tenant(provider: Organisation, name: str, *, sop: str = "# Steps") -> Tenant:
    organisation = make_client(f"{name} Corp")
    engagement = make_engagement(organisation, provider, name=f"{name} support")
    calendar = make_calendar(engagement, spec=WARSAW_OFFICE, name=f"{name} office hours")
    return Tenant(
        organisation=organisation,
        engagement=engagement,
        process=make_process(engagement, name=f"{name} email", sop=sop),
        document=make_document(engagement, title=f"Master services agreement for {name} support"),
        calendar=calendar,
        policy=make_policy(engagement, calendar=calendar, name=f"{name} SLA"),
        user=make_user(organisation, "client_admin"),
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_urls(tenant: Tenant) -> dict[str, str]:
    return {
        "organisation": reverse("organisation_detail", args=[tenant.organisation.slug]),
        "engagement": reverse("engagement_detail", args=[tenant.engagement.pk]),
        "process": reverse("process_detail", args=[tenant.process.pk]),
        "document": reverse("document_detail", args=[tenant.document.pk]),
        "calendar": reverse("calendar_detail", args=[tenant.calendar.pk]),
        "policy": reverse("sla_policy_detail", args=[tenant.policy.pk]),
    }


# ------------------------------------------------------------------ pages render


def test_organisation_detail_lists_the_clients_engagements():
    # given
    provider = make_provider("Northwind")
    acme = make_tenant(provider, "Acme")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["organisation"])
    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert "Acme support" in body
    assert 'data-testid="engagements"' in body


@pytest.mark.parametrize(
    ("tab", "expected"),
    [("processes", "Acme email"), ("documents", "Master services agreement for Acme support")],
)
def test_organisation_detail_shows_the_chosen_tab(tab, expected):
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["organisation"], {"tab": tab})
    # then
    assert response.status_code == 200
    assert expected in response.content.decode()
    assert f'data-testid="{tab}"' in response.content.decode()


def test_organisation_detail_falls_back_to_engagements_for_an_unknown_tab():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["organisation"], {"tab": "nope"})
    # then
    assert response.status_code == 200
    assert 'data-testid="engagements"' in response.content.decode()


def test_engagement_detail_shows_processes_documents_and_policies():
    # given
    acme = make_tenant(make_provider(), "Acme")
    make_policy(acme.engagement)
    # when
    response = signed_in(acme.user).get(page_urls(acme)["engagement"])
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "Acme support" in body
    assert "Acme email" in body
    assert "Master services agreement for Acme support" in body
    assert "First response" in body


def test_process_detail_renders_the_sop_markdown():
    # given
    acme = make_tenant(make_provider(), "Acme", sop="# Triage\n\n1. Read the **ticket**")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["process"])
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Triage</h1>" in body
    assert "<strong>ticket</strong>" in body


def test_process_detail_sanitises_the_sop():
    # given
    sop = (
        "# Steps\n\n<script>alert('sop')</script>\n\n"
        '<a href="javascript:alert(1)" onclick="steal()">link</a>'
    )
    acme = make_tenant(make_provider(), "Acme", sop=sop)
    # when
    response = signed_in(acme.user).get(page_urls(acme)["process"])
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Steps</h1>" in body
    assert "<script>alert" not in body
    assert "alert('sop')" not in body
    assert "javascript:" not in body
    assert "onclick" not in body


def test_document_detail_shows_the_body_and_a_superseding_version():
    # given
    acme = make_tenant(make_provider(), "Acme")
    newer = make_document(acme.engagement, title="MSA amended", body="Amended.")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["document"])
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "The parties agree." in body
    assert "superseded" in body
    assert reverse("document_detail", args=[newer.pk]) in body


def test_home_redirects_a_client_user_to_its_organisation():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(reverse("home"))
    # then
    assert response.status_code == 302
    assert response["Location"] == page_urls(acme)["organisation"]


def test_home_lists_a_providers_clients_and_engagements():
    # given
    provider = make_provider("Northwind")
    make_tenant(provider, "Acme")
    make_tenant(provider, "Globex")
    make_tenant(make_provider(), "Initech")
    admin = make_user(provider, "admin")
    # when
    response = signed_in(admin).get(reverse("home"))
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "Acme Corp" in body
    assert "Globex support" in body
    assert "Initech" not in body


# ------------------------------------------------------------------ isolation


@pytest.mark.parametrize(
    "page", ["organisation", "engagement", "process", "document", "calendar", "policy"]
)
def test_another_clients_page_is_not_found(page):
    # given
    provider = make_provider()
    acme, globex = make_tenant(provider, "Acme"), make_tenant(provider, "Globex")
    # when
    response = signed_in(acme.user).get(page_urls(globex)[page])
    # then
    assert response.status_code == 404
    assert "Globex" not in response.content.decode()


def test_a_missing_object_looks_the_same_as_another_clients():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(reverse("engagement_detail", args=[999_999]))
    # then
    assert response.status_code == 404


@pytest.mark.parametrize(
    "page", ["organisation", "engagement", "process", "document", "calendar", "policy"]
)
def test_another_providers_client_is_not_found_for_a_provider(page):
    # given
    ours, theirs = make_provider(), make_provider()
    globex = make_tenant(theirs, "Globex")
    agent = make_user(ours, "agent")
    # when
    response = signed_in(agent).get(page_urls(globex)[page])
    # then
    assert response.status_code == 404


def test_the_provider_sees_its_clients_pages():
    # given
    provider = make_provider()
    acme = make_tenant(provider, "Acme")
    lead = make_user(provider, "team_lead")
    client = signed_in(lead)
    # when
    statuses = {page: client.get(url).status_code for page, url in page_urls(acme).items()}
    # then
    assert statuses == dict.fromkeys(statuses, 200)


@pytest.mark.parametrize("page", ["home", "organisation", "engagement", "process", "document"])
def test_anonymous_is_sent_to_sign_in(page):
    # given
    acme = make_tenant(make_provider(), "Acme")
    url = reverse("home") if page == "home" else page_urls(acme)[page]
    # when
    response = Client().get(url)
    # then
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_a_user_without_membership_gets_a_clear_page():
    # given
    loner = User.objects.create_user(username="loner", password="x-secret-x")
    # when
    response = signed_in(loner).get(reverse("home"))
    # then
    assert response.status_code == 403
    assert 'data-testid="no-organisation"' in response.content.decode()
    assert "not a member of any organisation" in response.content.decode()


# ------------------------------------------------------------------ htmx


def test_an_htmx_tab_request_returns_only_the_fragment():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(
        page_urls(acme)["organisation"], {"tab": "processes"}, headers=HTMX
    )
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="org-tabs"')
    assert "<html" not in body
    assert 'class="topbar"' not in body
    assert 'id="org-tabs"' in body
    assert "Acme email" in body
    assert 'aria-selected="true"' in body.split('data-tab="processes"')[1].split(">")[0]
    assert "HX-Request" in response["Vary"]


def test_an_htmx_history_restore_gets_the_full_page():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(
        page_urls(acme)["organisation"], headers={**HTMX, "HX-History-Restore-Request": "true"}
    )
    # then
    assert "<html" in response.content.decode()


def test_an_htmx_request_for_another_clients_tab_is_not_found():
    # given
    provider = make_provider()
    acme, globex = make_tenant(provider, "Acme"), make_tenant(provider, "Globex")
    # when
    response = signed_in(acme.user).get(
        page_urls(globex)["organisation"], {"tab": "documents"}, headers=HTMX
    )
    # then
    assert response.status_code == 404


def test_tabs_are_wired_for_htmx_with_url_push():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    body = signed_in(acme.user).get(page_urls(acme)["organisation"]).content.decode()
    # then
    assert 'hx-get="?tab=processes"' in body
    assert 'hx-push-url="true"' in body
    assert 'hx-target="#org-tabs"' in body


# ------------------------------------------------------------------ query counts


def test_organisation_tabs_take_a_bounded_number_of_queries(django_assert_max_num_queries):
    # given
    provider = make_provider()
    acme = make_tenant(provider, "Acme")
    for n in range(8):
        engagement = make_engagement(acme.organisation, provider, name=f"Extra {n}")
        make_process(engagement, name=f"Extra process {n}", sop="x")
        make_document(engagement)
    client = signed_in(acme.user)
    url = page_urls(acme)["organisation"]
    for tab in ("engagements", "processes", "documents"):
        # when / then: session, user, membership, organisation, rows (+ current SOPs),
        # and the header's unread-notification count
        with django_assert_max_num_queries(7):
            response = client.get(url, {"tab": tab})
        assert response.status_code == 200


def test_home_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    # given
    provider = make_provider()
    for n in range(6):
        make_tenant(provider, f"Client{n}")
    admin = make_user(provider, "admin")
    client = signed_in(admin)
    # when / then: session, user, membership, engagements, organisations, and the
    # navigation's "is this user a worker" (one indexed lookup) and unread count
    with django_assert_max_num_queries(7):
        response = client.get(reverse("home"))
    assert response.status_code == 200


def test_engagement_detail_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    # given
    provider = make_provider()
    acme = make_tenant(provider, "Acme")
    for n in range(5):
        make_process(acme.engagement, name=f"More {n}")
        make_policy(acme.engagement)
    client = signed_in(acme.user)
    # when / then: one query per section, however many rows (SLA targets prefetched),
    # and the header's unread-notification count
    with django_assert_max_num_queries(13):
        response = client.get(page_urls(acme)["engagement"])
    assert response.status_code == 200


# ------------------------------------------------------------------ navigation and sign-in


def nav_of(user: User) -> str:
    body = signed_in(user).get(reverse("home"), follow=True).content.decode()
    return body.split('<nav class="nav"')[1].split("</nav>")[0]


@pytest.mark.parametrize("role", ["admin", "ops_manager"])
def test_provider_staff_admins_see_the_configuration_link(role):
    # given
    user = make_user(make_provider(), role)
    user.is_staff = True
    user.save()
    # when
    nav = nav_of(user)
    # then
    assert reverse("admin:index") in nav


@pytest.mark.parametrize(("role", "staff"), [("admin", False), ("agent", True), ("finance", True)])
def test_other_provider_users_do_not_see_the_configuration_link(role, staff):
    # given
    user = make_user(make_provider(), role)
    user.is_staff = staff
    user.save()
    # when
    nav = nav_of(user)
    # then
    assert reverse("admin:index") not in nav


def test_client_users_never_see_the_configuration_link():
    # given: even a (mistakenly) staff client admin
    acme = make_tenant(make_provider(), "Acme")
    acme.user.is_staff = True
    acme.user.save()
    # when
    nav = nav_of(acme.user)
    # then
    assert reverse("admin:index") not in nav
    assert acme.organisation.name in nav


def test_the_login_form_shows_an_error_for_a_wrong_password():
    # given
    acme = make_tenant(make_provider(), "Acme")
    acme.user.set_password("right-password")
    acme.user.save()
    # when
    response = Client().post(
        reverse("login"), {"username": acme.user.username, "password": "wrong-password"}
    )
    # then
    assert response.status_code == 200
    assert 'data-testid="login-error"' in response.content.decode()
    assert "correct username and password" in response.content.decode()


def test_signing_in_lands_a_client_user_on_its_organisation():
    # given
    acme = make_tenant(make_provider(), "Acme")
    acme.user.set_password("right-password")
    acme.user.save()
    # when
    response = Client().post(
        reverse("login"),
        {"username": acme.user.username, "password": "right-password"},
        follow=True,
    )
    # then
    assert response.redirect_chain[-1][0] == page_urls(acme)["organisation"]
    assert "Acme support" in response.content.decode()


def test_signing_out_ends_the_session():
    # given
    acme = make_tenant(make_provider(), "Acme")
    client = signed_in(acme.user)
    # when
    client.post(reverse("logout"))
    # then
    assert client.get(page_urls(acme)["organisation"]).status_code == 302


# ------------------------------------------------------------------ front-end assets


@pytest.mark.parametrize(
    "path", ["offload/offload.css", "vendor/htmx/htmx.min.js", "vendor/chart.js/chart.umd.min.js"]
)
def test_front_end_assets_are_found(path):
    # then: the paths the templates use exist in node_modules / static
    assert finders.find(path) is not None


def test_pages_without_charts_do_not_load_chart_js():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    body = signed_in(acme.user).get(page_urls(acme)["organisation"]).content.decode()
    # then
    assert "htmx.min.js" in body
    assert "chart.umd" not in body


# ------------------------------------------------------------------ calendars


def preview_rows(body: str) -> list[str]:
    return re.findall(r'<tr data-date="([0-9-]+)"', body)


def test_calendar_detail_shows_a_fortnight_of_days_with_why_each_is_closed():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["calendar"], {"start": "2026-03-23"})
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    rows = preview_rows(body)
    assert (len(rows), rows[0], rows[-1]) == (14, "2026-03-23", "2026-04-05")
    assert "09:00\N{EN DASH}17:00" in body
    assert "01:00\N{EN DASH}05:00" in body
    assert "Easter Sunday" in body
    assert "Weekend" in body
    assert "Partial day" in body
    assert 'hx-get="?start=2026-03-09"' in body
    assert 'hx-get="?start=2026-04-06"' in body
    assert "HX-Request" in response.get("Vary", "")


def test_calendar_detail_swaps_only_the_fortnight_for_htmx():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(
        page_urls(acme)["calendar"], {"start": "2026-04-06"}, headers=HTMX
    )
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'id="calendar-preview"' in body
    assert preview_rows(body)[0] == "2026-04-06"
    assert "Easter Monday" in body


@pytest.mark.parametrize("start", ["yesterday", "2026-02-30", "0001-01-01"])
def test_calendar_detail_with_a_bad_start_shows_today_instead(start):
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["calendar"], {"start": start})
    # then
    assert response.status_code == 200
    assert len(preview_rows(response.content.decode())) == 14


def test_calendar_detail_says_when_its_stored_spec_no_longer_parses():
    # given
    acme = make_tenant(make_provider(), "Acme")
    BusinessCalendar.objects.filter(pk=acme.calendar.pk).update(spec={"timezone": "Mars/Base"})
    # when
    response = signed_in(acme.user).get(page_urls(acme)["calendar"])
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "Mars/Base" in body
    assert preview_rows(body) == []


# ------------------------------------------------------------------ SLA policies


def test_sla_policy_detail_shows_its_settings_and_every_version_with_target_changes():
    # given
    acme = make_tenant(make_provider(), "Acme")
    v2 = services.sla_policy_revise(
        actor=None,
        policy=acme.policy,
        targets=[target("first_response", "P1", "2"), target("accuracy", "", "99")],
        warning_percents=[60, 85],
    )
    # when
    response = signed_in(acme.user).get(reverse("sla_policy_detail", args=[v2.pk]))
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "60 %, 85 %" in body
    assert "waiting_on_client" in body
    assert re.findall(r'<tr data-version="([0-9]+)"', body) == ["2", "1"]
    assert "First response P1: within 1 business hours → within 2 business hours" in body
    assert "Accuracy all: added, at least 99 percent" in body
    assert reverse("calendar_detail", args=[acme.calendar.pk]) in body


def test_a_superseded_sla_policy_links_to_the_current_version():
    # given
    acme = make_tenant(make_provider(), "Acme")
    v2 = services.sla_policy_revise(actor=None, policy=acme.policy, name="Acme SLA 2026")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["policy"])
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "superseded" in body
    assert reverse("sla_policy_detail", args=[v2.pk]) in body


def test_sla_policy_detail_query_count_does_not_grow_with_versions():
    # given
    acme = make_tenant(make_provider(), "Acme")
    client = signed_in(acme.user)
    url = page_urls(acme)["policy"]

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    current = services.sla_policy_revise(actor=None, policy=acme.policy, name="v2")
    with_two = queries()
    for n in range(4):
        current = services.sla_policy_revise(
            actor=None, policy=current, targets=[target("first_response", "P1", str(n + 2))]
        )
    # when
    with_six = queries()
    # then
    assert with_two == with_six


def test_engagement_detail_links_its_calendars_and_policies():
    # given
    acme = make_tenant(make_provider(), "Acme")
    # when
    response = signed_in(acme.user).get(page_urls(acme)["engagement"])
    # then
    body = response.content.decode()
    assert page_urls(acme)["calendar"] in body
    assert page_urls(acme)["policy"] in body
