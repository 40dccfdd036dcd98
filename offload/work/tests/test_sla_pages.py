"""SLA clocks on the pages: an item's clocks on its page (provider and client portal),
items at risk and breached per queue on the floor and the client portal, isolation,
and the admin of clocks and escalation rules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import dateformat
from django.utils import timezone as django_timezone

from offload.contracts.models import Process
from offload.contracts.tests.factories import make_calendar, make_engagement, make_policy, target
from offload.tenancy import visibility
from offload.tenancy.models import AuditEvent, Organisation, User
from offload.tenancy.tests.factories import make_client, make_provider, make_user
from offload.work import clock_sweep, selectors, services
from offload.work.models import EscalationRule, SlaClock, WorkItem
from offload.work.tests.factories import make_item, make_process, make_queue

pytestmark = pytest.mark.django_db

ALWAYS_OPEN: dict[str, Any] = {
    "timezone": "UTC",
    "hours": "24/7",
    "holidays": None,
    "closed": [],
    "partial": [],
}
NEW_YORK = ZoneInfo("America/New_York")  # the clients' zone (make_client's default)


def sla_process(client: Organisation, provider: Organisation, name: str) -> Process:
    """A process whose policy runs 24/7: first response 1 hour, turnaround 4."""
    engagement = make_engagement(client, provider)
    calendar = make_calendar(engagement, ALWAYS_OPEN)
    policy = make_policy(
        engagement,
        calendar=calendar,
        targets=[
            target("first_response", priority="", value="1", unit="business_hours"),
            target("turnaround", priority="", value="4", unit="business_hours"),
        ],
    )
    return make_process(engagement=engagement, name=name, sla_policy=policy)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def started(item: WorkItem) -> datetime:
    return SlaClock.objects.get(item=item, metric="first_response").started_at


def row_of(body: str, testid: str) -> str:
    found = re.search(rf'<tr data-testid="{testid}">(.*?)</tr>', body, re.S)
    assert found is not None, testid
    return found.group(1)


def cell(row: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</td>', row, re.S)
    assert found is not None, testid
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def page_at(client: Client, url: str, at: datetime, monkeypatch: pytest.MonkeyPatch) -> str:
    """The page as the server renders it at `at`."""
    with monkeypatch.context() as patch:
        patch.setattr(django_timezone, "now", lambda: at)
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.fixture
def shop() -> dict[str, Any]:
    provider = make_provider("Northwind")
    acme, globex = make_client("Acme"), make_client("Globex")
    return {
        "provider": provider,
        "acme": acme,
        "globex": globex,
        "acme_process": sla_process(acme, provider, "Acme email"),
        "globex_process": sla_process(globex, provider, "Globex claims"),
    }


# ------------------------------------------------------------------ the item page


def test_duration_text_reads_in_hours_and_minutes():
    assert selectors.duration_text(timedelta(hours=4)) == "4 h"
    assert selectors.duration_text(timedelta(hours=2, minutes=5, seconds=59)) == "2 h 05 min"
    assert selectors.duration_text(timedelta(minutes=45)) == "45 min"
    assert selectors.duration_text(timedelta(seconds=59)) == "0 min"
    assert selectors.duration_text(-timedelta(minutes=80)) == "1 h 20 min"


def test_the_item_page_shows_each_clock_with_its_target_time_left_and_marks(shop, monkeypatch):
    # given: 50 minutes in, the sweep fired first response's 75 % warning
    item = make_item(shop["acme_process"], reference="ACME-1")
    start = started(item)
    at = start + timedelta(minutes=50)
    assert clock_sweep.clocks_checked(at) == 1
    viewer = signed_in(make_user(shop["acme"], "client_viewer"))
    # when
    body = page_at(viewer, f"/items/{item.pk}/", at, monkeypatch)
    # then
    first = row_of(body, "clock-first_response")
    assert "first response" in first
    assert cell(first, "clock-state") == "running"
    assert cell(first, "clock-target") == "1 h"
    assert cell(first, "clock-left") == "10 min left"
    assert cell(first, "clock-paused") == "0 min"
    assert cell(first, "clock-marks") == "75 %"
    due = dateformat.format(
        django_timezone.localtime(start + timedelta(hours=1), NEW_YORK), "D j M H:i T"
    )
    assert cell(first, "clock-due") == due
    turnaround = row_of(body, "clock-turnaround")
    assert cell(turnaround, "clock-target") == "4 h"
    assert cell(turnaround, "clock-left") == "3 h 10 min left"
    assert cell(turnaround, "clock-marks") == ""


def test_a_breached_clock_reads_overdue_and_a_met_one_stopped(shop, monkeypatch):
    # given: 80 minutes in, first response breached (90 % marked on the way)
    item = make_item(shop["acme_process"])
    at = started(item) + timedelta(minutes=80)
    clock_sweep.clocks_checked(at)
    lead = signed_in(make_user(shop["provider"], "team_lead"))
    # when
    body = page_at(lead, f"/items/{item.pk}/", at, monkeypatch)
    # then
    first = row_of(body, "clock-first_response")
    assert cell(first, "clock-state") == "breached"
    assert cell(first, "clock-left") == "overdue by 20 min"
    assert cell(first, "clock-marks") == "75 % 90 % breached"
    assert cell(row_of(body, "clock-turnaround"), "clock-left") == "2 h 40 min left"
    # when: a reply stops it, breached for good
    services.work_item_reply(actor=None, item=item, text="Sorry for the wait")
    body = page_at(lead, f"/items/{item.pk}/", at + timedelta(minutes=5), monkeypatch)
    # then
    first = row_of(body, "clock-first_response")
    assert cell(first, "clock-state") == "breached"
    assert cell(first, "clock-left").startswith("stopped ")


def test_a_paused_clock_shows_its_paused_time_and_no_due_time(shop, monkeypatch):
    # given: turnaround waits on the client from (about) the start
    item = make_item(shop["acme_process"])
    services.work_item_reply(actor=None, item=item, text="Which invoice?")
    services.work_item_wait(actor=None, item=item)
    paused_at = SlaClock.objects.get(item=item, metric="turnaround").data["paused_since"]
    at = datetime.fromisoformat(paused_at) + timedelta(minutes=30, seconds=1)
    viewer = signed_in(make_user(shop["acme"], "client_viewer"))
    # when
    body = page_at(viewer, f"/items/{item.pk}/", at, monkeypatch)
    # then
    turnaround = row_of(body, "clock-turnaround")
    assert cell(turnaround, "clock-state") == "paused"
    assert cell(turnaround, "clock-paused") == "30 min"
    assert cell(turnaround, "clock-due") == "paused"
    first = row_of(body, "clock-first_response")
    assert cell(first, "clock-state") == "met"


def test_an_item_without_a_policy_says_it_has_no_clocks(shop):
    # given
    item = make_item(make_process(engagement=make_engagement(shop["acme"], shop["provider"])))
    # when
    body = signed_in(make_user(shop["acme"], "client_viewer")).get(f"/items/{item.pk}/")
    # then
    assert "No SLA clocks" in body.content.decode()


def test_another_clients_user_gets_404_on_the_item_page(shop):
    # given
    item = make_item(shop["acme_process"], reference="ACME-1")
    clock_sweep.clocks_checked(started(item) + timedelta(hours=2))
    # when
    response = signed_in(make_user(shop["globex"], "client_admin")).get(f"/items/{item.pk}/")
    # then
    assert response.status_code == 404


# ------------------------------------------------------------------ by queue


def counts(rows: dict[int, selectors.QueueSla]) -> dict[int, tuple[int, int, list[str]]]:
    """queue -> (at risk, breached, the oldest references: breached, then at risk)."""
    return {
        queue: (
            row.at_risk,
            row.breached,
            [i.reference for i in (*row.oldest_breached, *row.oldest_at_risk)],
        )
        for queue, row in rows.items()
    }


@pytest.fixture
def swept(shop: dict[str, Any]) -> dict[str, Any]:
    """Acme's items in two queues, 3 h 10 min after they came in (turnaround's 75 % is
    past, first response's breach too) and Globex's one breached item.

    Replied in time: first response met, turnaround warned: at risk. Never replied:
    breached. Replied late: first response stopped (breached), turnaround warned: at
    risk, the breached clock being no longer live. Completed after the breach, or
    waiting on the client from the start: neither."""
    process = shop["acme_process"]
    items = {
        ref: make_item(process, reference=ref)
        for ref in ("B1", "B2", "R1", "C1", "W1", "R2", "R3", "R4", "L1", "R5", "B3")
    }
    main = items["B1"].queue
    other = make_queue(process, name="Acme VIP", slug="acme-vip")
    WorkItem.objects.filter(
        pk__in=[items[r].pk for r in ("R2", "R3", "R4", "L1", "R5", "B3")]
    ).update(queue=other)
    for ref in ("R1", "W1", "R2", "R3", "R4", "R5"):
        services.work_item_reply(actor=None, item=items[ref], text="On it")
    services.work_item_wait(actor=None, item=items["W1"])
    foreign = make_item(shop["globex_process"], reference="G1")
    at = started(items["B1"]) + timedelta(hours=3, minutes=10)
    clock_sweep.clocks_checked(at)
    services.work_item_reply(actor=None, item=items["L1"], text="Late, sorry")
    services.work_item_complete(actor=None, item=items["C1"], outcome="resolved")
    return {**shop, "items": items, "main": main, "other": other, "foreign": foreign, "at": at}


def test_items_at_risk_and_breached_are_counted_per_queue_with_the_oldest(swept):
    # given
    lead = visibility.principal_for_user(make_user(swept["provider"], "team_lead"))
    assert lead is not None
    # when
    found = counts(selectors.sla_by_queue(principal=lead))
    # then: three listed at most, oldest first
    assert found == {
        swept["main"].pk: (1, 2, ["B1", "B2", "R1"]),
        swept["other"].pk: (5, 1, ["B3", "R2", "R3", "R4"]),
        swept["foreign"].queue_id: (0, 1, ["G1"]),
    }


def test_the_by_queue_figures_are_one_query(swept, django_assert_num_queries):
    # given
    lead = visibility.principal_for_user(make_user(swept["provider"], "team_lead"))
    assert lead is not None
    # when / then
    with django_assert_num_queries(1):
        rows = selectors.sla_by_queue(principal=lead)
        assert sum(r.breached for r in rows.values()) == 4
        assert [i.queue.name for r in rows.values() for i in r.oldest_breached][:1]


def test_the_floor_counts_at_risk_and_breached_per_queue_and_links_the_oldest(swept):
    # given
    client = signed_in(make_user(swept["provider"], "team_lead"))
    # when
    response = client.get("/floor/", headers={"HX-Request": "true"})
    # then
    rows = {row.queue.pk: row for row in response.context["floor"].queues}
    assert (rows[swept["main"].pk].at_risk, rows[swept["main"].pk].breached) == (1, 2)
    assert (rows[swept["other"].pk].at_risk, rows[swept["other"].pk].breached) == (5, 1)
    totals = response.context["floor"].totals
    assert (totals.at_risk, totals.breached) == (6, 4)
    body = response.content.decode()
    assert 'hx-trigger="every 5s"' in body  # still polling
    row = row_of(body, f"queue-{swept['other'].pk}")
    assert (cell(row, "at-risk"), cell(row, "breached")) == ("5", "1")
    items = swept["items"]
    linked = [r for r, i in items.items() if f'href="/items/{i.pk}/"' in row]
    assert linked == ["R2", "R3", "R4", "B3"]  # the oldest three at risk, not L1 or R5
    assert 'data-testid="total-breached">4<' in body


def test_the_floors_queries_stay_fixed_as_sla_items_spread_over_queues(
    shop, django_assert_num_queries
):
    # given: one queue with a breached item
    process = shop["acme_process"]
    first = make_item(process)
    clock_sweep.clocks_checked(started(first) + timedelta(hours=2))
    client = signed_in(make_user(shop["provider"], "team_lead"))
    with CaptureQueriesContext(connection) as small:
        client.get("/floor/", headers={"HX-Request": "true"})
    # when: five more queues, each with items at risk and breached
    for n in range(5):
        queue = make_queue(process, name=f"Extra {n}", slug=f"extra-{n}")
        made = [make_item(process) for _ in range(2)]
        WorkItem.objects.filter(pk__in=[i.pk for i in made]).update(queue=queue)
        services.work_item_reply(actor=None, item=made[0], text="On it")
    clock_sweep.clocks_checked(started(first) + timedelta(hours=3, minutes=30))
    # then
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get("/floor/", headers={"HX-Request": "true"})
    assert response.context["floor"].totals.breached == 6
    assert response.context["floor"].totals.at_risk == 5


def test_the_client_portal_shows_its_own_queues_figures_only(swept):
    # given
    acme = signed_in(make_user(swept["acme"], "client_viewer"))
    globex = signed_in(make_user(swept["globex"], "client_viewer"))
    # when
    mine = acme.get("/items/")
    theirs = globex.get("/items/")
    # then
    rows = {r.queue.pk: (r.at_risk, r.breached) for r in mine.context["sla_queues"]}
    assert rows == {swept["main"].pk: (1, 2), swept["other"].pk: (5, 1)}
    body = mine.content.decode()
    row = row_of(body, f"sla-queue-{swept['other'].pk}")
    assert (cell(row, "at-risk"), cell(row, "breached")) == ("5", "1")
    assert f'href="/items/{swept["foreign"].pk}/"' not in body
    others = {r.queue.pk: (r.at_risk, r.breached) for r in theirs.context["sla_queues"]}
    assert others == {swept["foreign"].queue_id: (0, 1)}
    text = theirs.content.decode()
    assert "Acme VIP" not in text
    assert all(f'href="/items/{i.pk}/"' not in text for i in swept["items"].values())


def test_the_portal_figures_are_one_query_whatever_the_queues(swept, django_assert_num_queries):
    # given
    acme = signed_in(make_user(swept["acme"], "client_viewer"))
    with CaptureQueriesContext(connection) as before:
        acme.get("/items/")
    for n in range(3):
        queue = make_queue(swept["acme_process"], name=f"More {n}", slug=f"more-{n}")
        moved = make_item(swept["acme_process"])
        WorkItem.objects.filter(pk=moved.pk).update(queue=queue)
    clock_sweep.clocks_checked(swept["at"] + timedelta(hours=2))
    # when / then
    with django_assert_num_queries(len(before.captured_queries)):
        response = acme.get("/items/")
    assert len(response.context["sla_queues"]) == 5


def test_a_client_with_nothing_at_risk_is_told_so(shop):
    # given
    make_item(shop["acme_process"])
    # when
    body = signed_in(make_user(shop["acme"], "client_viewer")).get("/items/").content.decode()
    # then
    assert 'data-testid="sla-queues-none"' in body


def test_another_provider_sees_none_of_it_on_its_floor(swept):
    # given
    initech = make_provider("Initech", slug="initech")
    # when
    body = signed_in(make_user(initech, "team_lead")).get("/floor/").content.decode()
    # then
    for name in ("Acme", "Globex", "Northwind"):
        assert name not in body


# ------------------------------------------------------------------ admin


@pytest.fixture
def admin_site() -> Client:
    return signed_in(User.objects.create_superuser("root", "root@example.com", "x" * 12))


def test_clocks_are_read_only_in_the_admin(shop, admin_site):
    # given
    item = make_item(shop["acme_process"])
    row = SlaClock.objects.filter(item=item).first()
    assert row is not None
    # when
    listed = admin_site.get("/admin/work/slaclock/")
    shown = admin_site.get(f"/admin/work/slaclock/{row.pk}/change/")
    added = admin_site.get("/admin/work/slaclock/add/")
    posted = admin_site.post(f"/admin/work/slaclock/{row.pk}/change/", {"state": "met"})
    # then
    assert listed.status_code == 200
    assert shown.status_code == 200
    assert added.status_code == 403
    assert posted.status_code == 403
    row.refresh_from_db()
    assert row.state == "running"


def rule_form(shop: dict[str, Any], **changes: Any) -> dict[str, Any]:
    policy = shop["acme_process"].sla_policy
    return {
        "client": shop["acme"].pk,
        "provider": shop["provider"].pk,
        "policy_slug": policy.slug,
        "metric": "first_response",
        "on_percent": "100",
        "raise_priority": "on",
        "is_active": "on",
        **changes,
    }


def test_an_escalation_rule_added_in_the_admin_is_audited(shop, admin_site):
    # when
    response = admin_site.post("/admin/work/escalationrule/add/", rule_form(shop))
    # then
    assert response.status_code == 302
    rule = EscalationRule.objects.get(client=shop["acme"])
    assert (rule.metric, rule.on_percent, rule.raise_priority) == ("first_response", 100, True)
    assert AuditEvent.objects.filter(action="admin.escalationrule.create").count() == 1


def test_the_admin_checks_a_rule_as_the_service_does(shop, admin_site):
    # when
    response = admin_site.post(
        "/admin/work/escalationrule/add/",
        rule_form(shop, metric="accuracy", policy_slug="nope", raise_priority=""),
    )
    # then
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) >= {"policy_slug", "metric", "raise_priority"}
    assert not EscalationRule.objects.exists()
