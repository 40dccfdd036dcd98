"""The notification pages: the inbox, marking read (htmx and plain), the header's badge
and the e-mail preference."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from offload.tenancy import notifications
from offload.tenancy.models import Notification, User
from offload.tenancy.tests.factories import make_client, make_provider, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
BADGE = re.compile(r'<span id="notification-badge"[^>]*>(.*?)</span>\s*</a>', re.S)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def notify(user: User, title: str = "ACME-7 breached its SLA") -> Notification:
    (notification,) = notifications.notification_send(
        recipients=[user], kind="sla_breach", title=title, body="Still open.", link="/items/7/"
    )
    return notification


def badge(html: str) -> str:
    found = BADGE.search(html)
    assert found is not None, "no badge in the header"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_inbox_shows_the_users_own_unread_marked():
    # given
    org = make_provider()
    lead, other = make_user(org, "team_lead"), make_user(org, "team_lead")
    unread = notify(lead, "Clock warning on ACME-7")
    read = notify(lead, "Breach on ACME-8")
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)
    notify(other, "Somebody else's")
    # when
    response = signed_in(lead).get("/notifications/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Clock warning on ACME-7" in html
    assert "Breach on ACME-8" in html
    assert "Somebody else&#x27;s" not in html
    assert f'data-testid="notification-{unread.pk}" data-unread="true"' in html
    assert f'data-testid="notification-{read.pk}">' in html
    assert html.index("Breach on ACME-8") < html.index("Clock warning on ACME-7")
    assert 'href="/items/7/"' in html


def test_the_unread_filter_shows_only_the_unread():
    # given
    lead = make_user(make_provider(), "team_lead")
    notify(lead, "Unread one")
    read = notify(lead, "Read one")
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)
    # when
    response = signed_in(lead).get("/notifications/", {"unread": "1"})
    # then
    html = response.content.decode()
    assert "Unread one" in html
    assert "Read one" not in html


def test_a_bad_cursor_is_said_on_the_page():
    # given
    lead = make_user(make_provider(), "team_lead")
    # when
    response = signed_in(lead).get("/notifications/", {"cursor": "bogus"})
    # then
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_the_header_badge_counts_the_unread_on_every_page():
    # given
    lead = make_user(make_client(), "client_admin")
    for _ in range(3):
        notify(lead)
    browser = signed_in(lead)
    # when
    items = browser.get("/items/")
    inbox = browser.get("/notifications/")
    # then
    assert badge(items.content.decode()) == "3"
    assert badge(inbox.content.decode()) == "3"


def test_no_badge_number_when_all_is_read():
    # given
    lead = make_user(make_client(), "client_admin")
    # when
    response = signed_in(lead).get("/items/")
    # then
    assert badge(response.content.decode()) == ""


def test_the_badge_costs_one_count_query():
    # given
    lead = make_user(make_client(), "client_admin")
    notify(lead)
    browser = signed_in(lead)
    browser.get("/notifications/")
    # when
    with CaptureQueriesContext(connection) as captured:
        browser.get("/items/")
    # then
    counts = [q["sql"] for q in captured.captured_queries if "tenancy_notification" in q["sql"]]
    assert len(counts) == 1
    assert counts[0].startswith("SELECT COUNT(*)")


def test_htmx_mark_read_swaps_the_row_and_the_badge():
    # given
    lead = make_user(make_provider(), "team_lead")
    notice = notify(lead)
    notify(lead)
    # when
    response = signed_in(lead).post(f"/notifications/{notice.pk}/read/", headers=HTMX)
    # then: the row without its button, and the badge out of band
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="notification-{notice.pk}"')
    assert "data-unread" not in html
    assert "Mark read" not in html
    assert 'id="notification-badge" data-testid="notification-badge" hx-swap-oob="true"' in html
    assert '<span class="badge">1</span>' in html
    assert "<html" not in html
    assert Notification.objects.get(pk=notice.pk).read_at is not None


def test_a_plain_mark_read_returns_to_the_inbox():
    # given
    lead = make_user(make_provider(), "team_lead")
    notice = notify(lead)
    # when
    response = signed_in(lead).post(f"/notifications/{notice.pk}/read/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    assert Notification.objects.get(pk=notice.pk).read_at is not None


def test_get_on_mark_read_changes_nothing():
    # given
    lead = make_user(make_provider(), "team_lead")
    notice = notify(lead)
    # when
    response = signed_in(lead).get(f"/notifications/{notice.pk}/read/")
    # then
    assert response.status_code == 302
    assert Notification.objects.get(pk=notice.pk).read_at is None


def test_a_colleagues_notification_is_a_404():
    # given
    org = make_provider()
    lead, colleague = make_user(org, "team_lead"), make_user(org, "admin")
    notice = notify(lead)
    # when
    response = signed_in(colleague).post(f"/notifications/{notice.pk}/read/", headers=HTMX)
    # then
    assert response.status_code == 404
    assert Notification.objects.get(pk=notice.pk).read_at is None


def test_mark_all_read_clears_the_inbox_and_says_how_many():
    # given
    org = make_provider()
    lead, other = make_user(org, "team_lead"), make_user(org, "team_lead")
    notify(lead)
    notify(lead)
    theirs = notify(other)
    # when
    response = signed_in(lead).post("/notifications/read-all/", follow=True)
    # then
    html = response.content.decode()
    assert "Marked 2 notification(s) read." in html
    assert badge(html) == ""
    assert not Notification.objects.filter(recipient=lead, read_at=None).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_the_email_preference_is_toggled_on_the_inbox_page():
    # given
    lead = make_user(make_provider(), "team_lead")
    User.objects.filter(pk=lead.pk).update(email="lead@example.com")
    browser = signed_in(lead)
    # when
    on = browser.post("/notifications/preferences/", {"notify_by_email": "on"}, follow=True)
    on_state = User.objects.get(pk=lead.pk).notify_by_email
    off = browser.post("/notifications/preferences/", {}, follow=True)
    # then
    assert on_state is True
    assert "Notifications will also be e-mailed to you." in on.content.decode()
    assert 'name="notify_by_email" checked' in on.content.decode()
    assert "no longer be e-mailed" in off.content.decode()
    assert User.objects.get(pk=lead.pk).notify_by_email is False


def test_email_on_without_an_address_warns():
    # given
    lead = make_user(make_provider(), "team_lead")
    # when
    response = signed_in(lead).post(
        "/notifications/preferences/", {"notify_by_email": "on"}, follow=True
    )
    # then
    assert "has no e-mail address yet" in response.content.decode()
