"""The notification inbox through HTTP: `/api/v1/notifications` and its actions."""

from __future__ import annotations

import pytest

from offload.tenancy import notifications
from offload.tenancy.models import Membership, Notification, User
from offload.tenancy.tests.factories import (
    api_client,
    make_api_key,
    make_client,
    make_provider,
    make_user,
)

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/api/v1/notifications"
PROBLEM = "application/problem+json"


def notify(user: User, title: str = "ACME-7 breached its SLA", **fields) -> Notification:
    (notification,) = notifications.notification_send(
        recipients=[user], kind="sla_breach", title=title, body="Still open.", **fields
    )
    return notification


def as_user(user: User, scopes: tuple[str, ...] = ("read", "write")):
    organisation = user.memberships.get().organisation
    return api_client(make_api_key(organisation, user=user, scopes=scopes)[1])


def assert_not_found(response) -> None:
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 404


# ------------------------------------------------------------------ reading


def test_the_inbox_lists_the_callers_own_newest_first():
    # given
    org = make_provider()
    lead, other = make_user(org, "team_lead"), make_user(org, "team_lead")
    older = notify(lead, "First", link="/items/1/")
    newer = notify(lead, "Second")
    notify(other, "Not yours")
    # when
    response = as_user(lead).get(NOTIFICATIONS)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert [n["id"] for n in body["items"]] == [newer.pk, older.pk]
    item = body["items"][1]
    assert item.pop("created_at").startswith(older.created_at.strftime("%Y-%m-%dT%H:%M:%S."))
    assert item == {
        "id": older.pk,
        "kind": "sla_breach",
        "title": "First",
        "body": "Still open.",
        "link": "/items/1/",
        "read_at": None,
        "emailed_at": None,
    }


def test_unread_true_lists_only_the_unread():
    # given
    lead = make_user(make_provider(), "team_lead")
    read, unread = notify(lead), notify(lead)
    client = as_user(lead)
    client.post(f"{NOTIFICATIONS}/{read.pk}/read")
    # when
    only_unread = client.get(NOTIFICATIONS, {"unread": "true"})
    everything = client.get(NOTIFICATIONS)
    # then
    assert [n["id"] for n in only_unread.json()["items"]] == [unread.pk]
    assert [n["id"] for n in everything.json()["items"]] == [unread.pk, read.pk]


def test_the_cursor_walks_the_inbox_newest_first_each_once():
    # given
    lead = make_user(make_provider(), "team_lead")
    sent = [notify(lead, f"N{i}").pk for i in range(5)]
    client = as_user(lead)
    # when
    ids, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(NOTIFICATIONS, params).json()
        ids += [n["id"] for n in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    # then
    assert ids == sorted(sent, reverse=True)
    assert pages == 3


@pytest.mark.parametrize(
    ("params", "field"), [({"cursor": "bogus"}, "cursor"), ({"limit": 0}, "limit")]
)
def test_a_bad_cursor_or_limit_is_a_422_naming_it(params, field):
    # given
    lead = make_user(make_provider(), "team_lead")
    # when
    response = as_user(lead).get(NOTIFICATIONS, params)
    # then
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_the_list_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    # given
    lead = make_user(make_provider(), "team_lead")
    for i in range(20):
        notify(lead, f"N{i}")
    client = as_user(lead)
    client.get(NOTIFICATIONS)  # the first call stamps the key's last use
    # when / then: the key, the roles, the page
    with django_assert_max_num_queries(3):
        response = client.get(NOTIFICATIONS)
    assert len(response.json()["items"]) == 20


def test_one_notification_and_the_unread_count():
    # given
    lead = make_user(make_provider(), "team_lead")
    first, _ = notify(lead), notify(lead)
    client = as_user(lead)
    # when
    one = client.get(f"{NOTIFICATIONS}/{first.pk}")
    count = client.get(f"{NOTIFICATIONS}/unread-count")
    # then
    assert one.status_code == 200
    assert one.json()["id"] == first.pk
    assert count.status_code == 200
    assert count.json() == {"unread": 2}


def test_another_users_notification_is_a_404_like_a_missing_one():
    # given: a colleague in the same organisation
    org = make_provider()
    lead, colleague = make_user(org, "team_lead"), make_user(org, "admin")
    theirs = notify(lead)
    client = as_user(colleague)
    # when
    read = client.get(f"{NOTIFICATIONS}/{theirs.pk}")
    mark = client.post(f"{NOTIFICATIONS}/{theirs.pk}/read")
    missing = client.get(f"{NOTIFICATIONS}/{theirs.pk + 1000}")
    # then
    assert_not_found(read)
    assert_not_found(mark)
    assert_not_found(missing)
    assert read.json()["detail"] == missing.json()["detail"]
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_a_key_of_another_organisation_of_the_same_user_sees_none_of_it():
    # given: a user in two organisations, notified as a member of the first
    first, second = make_provider(), make_client()
    user = make_user(first, "team_lead")
    notice = notify(user)
    Membership.objects.create(user=user, organisation=second, role="client_viewer")
    client = api_client(make_api_key(second, user=user)[1])
    # when
    listed = client.get(NOTIFICATIONS)
    one = client.get(f"{NOTIFICATIONS}/{notice.pk}")
    # then: the second organisation's key is no window on the first's business
    assert notice.organisation_id == first.pk
    assert listed.json()["items"] == []
    assert_not_found(one)


def test_an_organisation_key_has_an_empty_inbox_and_no_preferences():
    # given
    org = make_client()
    notice = notify(make_user(org, "client_admin"))
    client = api_client(make_api_key(org)[1])
    # when
    listed = client.get(NOTIFICATIONS)
    count = client.get(f"{NOTIFICATIONS}/unread-count")
    one = client.get(f"{NOTIFICATIONS}/{notice.pk}")
    marked = client.post(f"{NOTIFICATIONS}/read-all")
    preferences = client.get(f"{NOTIFICATIONS}/preferences")
    # then
    assert listed.json() == {"items": [], "next_cursor": None}
    assert count.json() == {"unread": 0}
    assert_not_found(one)
    assert marked.json() == {"marked": 0}
    assert_not_found(preferences)
    assert "no inbox" in preferences.json()["detail"]


# ------------------------------------------------------------------ writing


def test_mark_read_answers_the_notification_and_is_idempotent():
    # given
    lead = make_user(make_provider(), "team_lead")
    notice = notify(lead)
    client = as_user(lead)
    # when
    first = client.post(f"{NOTIFICATIONS}/{notice.pk}/read")
    again = client.post(f"{NOTIFICATIONS}/{notice.pk}/read")
    # then
    assert first.status_code == 200
    assert first.json()["read_at"] is not None
    assert again.status_code == 200
    assert again.json()["read_at"] == first.json()["read_at"]
    assert client.get(f"{NOTIFICATIONS}/unread-count").json() == {"unread": 0}


def test_read_all_answers_how_many_it_marked():
    # given
    lead = make_user(make_provider(), "team_lead")
    for _ in range(3):
        notify(lead)
    client = as_user(lead)
    # when
    first = client.post(f"{NOTIFICATIONS}/read-all")
    again = client.post(f"{NOTIFICATIONS}/read-all")
    # then
    assert first.status_code == 200
    assert first.json() == {"marked": 3}
    assert again.json() == {"marked": 0}


def test_a_read_only_key_reads_but_cannot_mark():
    # given
    lead = make_user(make_provider(), "team_lead")
    notice = notify(lead)
    client = as_user(lead, scopes=("read",))
    # when
    listed = client.get(NOTIFICATIONS)
    mark = client.post(f"{NOTIFICATIONS}/{notice.pk}/read")
    read_all = client.post(f"{NOTIFICATIONS}/read-all")
    patch = client.patch(
        f"{NOTIFICATIONS}/preferences", {"notify_by_email": True}, content_type="application/json"
    )
    # then
    assert listed.status_code == 200
    assert [r.status_code for r in (mark, read_all, patch)] == [403, 403, 403]
    assert Notification.objects.get(pk=notice.pk).read_at is None


def test_preferences_are_read_and_changed_by_the_user_themself():
    # given
    org = make_provider()
    lead, other = make_user(org, "team_lead"), make_user(org, "team_lead")
    User.objects.filter(pk=lead.pk).update(email="lead@example.com")
    client = as_user(lead)
    # when
    before = client.get(f"{NOTIFICATIONS}/preferences")
    changed = client.patch(
        f"{NOTIFICATIONS}/preferences", {"notify_by_email": True}, content_type="application/json"
    )
    kept = client.patch(f"{NOTIFICATIONS}/preferences", {}, content_type="application/json")
    # then
    assert before.json() == {"notify_by_email": False, "email": "lead@example.com"}
    assert changed.status_code == 200
    assert changed.json() == {"notify_by_email": True, "email": "lead@example.com"}
    assert kept.json()["notify_by_email"] is True
    assert User.objects.get(pk=lead.pk).notify_by_email is True
    assert User.objects.get(pk=other.pk).notify_by_email is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"notify_by_email": None}, "notify_by_email"),
        ({"notify_by_email": "sometimes"}, "notify_by_email"),
        ({"email": "x@example.com"}, "email"),
    ],
)
def test_bad_preferences_are_a_422_naming_the_field(body, field):
    # given
    lead = make_user(make_provider(), "team_lead")
    # when
    response = as_user(lead).patch(
        f"{NOTIFICATIONS}/preferences", body, content_type="application/json"
    )
    # then
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert User.objects.get(pk=lead.pk).notify_by_email is False
