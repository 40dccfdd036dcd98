"""Notification services: sending in bulk, dedupe, e-mail after commit, marking read."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction

from offload.core import errors
from offload.tenancy import notifications
from offload.tenancy.models import Notification, User
from offload.tenancy.tests.factories import (
    make_client,
    make_key_principal,
    make_principal,
    make_provider,
    make_user,
)

pytestmark = pytest.mark.django_db


def lead(org, *, email: str = "", by_email: bool = False, username: str = "") -> User:
    user = make_user(org, "team_lead", username=username)
    User.objects.filter(pk=user.pk).update(email=email, notify_by_email=by_email)
    user.refresh_from_db()
    return user


def send(recipients, **overrides: Any) -> list[Notification]:
    fields: dict[str, Any] = {
        "kind": "sla_breach",
        "title": "ACME-7 breached its SLA",
        "body": "Due 09:00, still open.",
        "link": "/items/7/",
        **overrides,
    }
    return notifications.notification_send(recipients=recipients, **fields)


# ------------------------------------------------------------------ sending


def test_send_puts_one_row_in_each_inbox_in_one_insert(django_assert_max_num_queries):
    # given three team leads of a provider
    provider = make_provider()
    leads = [lead(provider) for _ in range(3)]
    # when: the memberships, one INSERT (and the savepoint of the atomic block)
    with django_assert_max_num_queries(4):
        sent = send(leads)
    # then
    assert sorted(n.recipient_id for n in sent) == sorted(u.pk for u in leads)
    assert all(n.pk is not None for n in sent)
    rows = Notification.objects.filter(recipient__in=leads)
    assert rows.count() == 3
    assert {(n.organisation_id, n.kind, n.title, n.link) for n in rows} == {
        (provider.pk, "sla_breach", "ACME-7 breached its SLA", "/items/7/")
    }
    assert all(n.read_at is None and n.emailed_at is None for n in rows)


def test_send_skips_the_inactive_and_those_of_no_organisation():
    # given
    provider = make_provider()
    active, inactive = lead(provider), lead(provider)
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    inactive.refresh_from_db()
    nobody = User.objects.create(username="drifter")
    # when
    sent = send([active, inactive, nobody])
    # then
    assert [n.recipient_id for n in sent] == [active.pk]


def test_send_to_a_user_twice_in_the_list_notifies_once():
    # given
    user = lead(make_provider())
    # when
    sent = send([user, user])
    # then
    assert len(sent) == 1


def test_a_dedupe_key_makes_a_retried_send_notify_nobody_twice():
    # given: a sweep notified two leads, then ran again after a third joined
    provider = make_provider()
    first, second, third = lead(provider), lead(provider), lead(provider)
    send([first, second], dedupe_key="clock:42:breach")
    # when
    again = send([first, second, third], dedupe_key="clock:42:breach")
    # then: only the newcomer got one
    assert [n.recipient_id for n in again] == [third.pk]
    assert all(n.pk is not None for n in again)
    assert Notification.objects.filter(dedupe_key="clock:42:breach").count() == 3
    assert Notification.objects.filter(recipient=first).count() == 1


def test_the_dedupe_constraint_ignores_a_twin_the_check_did_not_see():
    # given: a concurrent sender's row, committed after our check ran (simulated by
    # inserting it straight away with the same key)
    user = lead(make_provider())
    twin = send([user], dedupe_key="clock:9:warning")[0]
    # when: the insert itself meets the constraint
    Notification.objects.bulk_create(
        [
            Notification(
                recipient=user,
                organisation_id=twin.organisation_id,
                kind="sla_warning",
                title="twin",
                dedupe_key="clock:9:warning",
                created_at=twin.created_at,
            )
        ],
        ignore_conflicts=True,
    )
    # then
    assert Notification.objects.filter(recipient=user).count() == 1


def test_different_dedupe_keys_and_no_key_notify_again():
    # given
    user = lead(make_provider())
    # when
    send([user], dedupe_key="clock:1:warning")
    send([user], dedupe_key="clock:1:breach")
    send([user])
    send([user])
    # then
    assert Notification.objects.filter(recipient=user).count() == 4


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "SLA breach"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"link": "https://evil.example.com/"}, "link"),
        ({"link": "//evil.example.com/"}, "link"),
        ({"link": "items/7/"}, "link"),
        ({"dedupe_key": ""}, "dedupe_key"),
    ],
)
def test_send_refuses_bad_fields_by_name(overrides, field):
    # given
    user = lead(make_provider())
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        send([user], **overrides)
    # then
    assert [e.field for e in caught.value.errors] == [field]
    assert not Notification.objects.exists()


# ------------------------------------------------------------------ e-mail


def test_email_goes_after_commit_to_opted_in_recipients_only(django_capture_on_commit_callbacks):
    # given
    provider = make_provider()
    wants = lead(provider, email="ana@example.com", by_email=True)
    quiet = lead(provider, email="ben@example.com")
    no_address = lead(provider, by_email=True)
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        sent = send([wants, quiet, no_address])
        # then: nothing leaves before the commit
        assert mail.outbox == []
    assert len(callbacks) == 1
    for callback in callbacks:
        callback()
    assert [m.to for m in mail.outbox] == [["ana@example.com"]]
    message = mail.outbox[0]
    assert message.subject == "ACME-7 breached its SLA"
    assert message.body == "Due 09:00, still open.\n\n/items/7/"
    emailed = {
        n.recipient_id: n.emailed_at
        for n in Notification.objects.filter(pk__in=[n.pk for n in sent])
    }
    assert emailed[wants.pk] is not None
    assert emailed[quiet.pk] is None
    assert emailed[no_address.pk] is None


def test_no_callback_when_nobody_wants_email(django_capture_on_commit_callbacks):
    # given
    user = lead(make_provider(), email="ana@example.com")
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        send([user])
    # then
    assert callbacks == []


def test_a_rolled_back_send_emails_nobody(django_capture_on_commit_callbacks):
    # given
    user = lead(make_provider(), email="ana@example.com", by_email=True)

    @transaction.atomic
    def failing_sweep() -> None:
        send([user])
        raise RuntimeError("sweep failed")

    # when: the sender's transaction fails after sending
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_sweep()
    # then
    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_the_site_url_makes_the_emailed_link_absolute(settings, django_capture_on_commit_callbacks):
    # given
    settings.OFFLOAD_SITE_URL = "https://offload.example.com/"
    user = lead(make_provider(), email="ana@example.com", by_email=True)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        send([user])
    # then
    assert mail.outbox[0].body.endswith("\n\nhttps://offload.example.com/items/7/")


def test_a_dedupe_retry_emails_nobody_again(django_capture_on_commit_callbacks):
    # given
    user = lead(make_provider(), email="ana@example.com", by_email=True)
    with django_capture_on_commit_callbacks(execute=True):
        send([user], dedupe_key="clock:5:breach")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        send([user], dedupe_key="clock:5:breach")
    # then
    assert len(mail.outbox) == 1


def test_emailing_twice_sends_once():
    # given: a notification already e-mailed
    user = lead(make_provider(), email="ana@example.com", by_email=True)
    notification = send([user])[0]
    assert notifications.notifications_email([notification.pk]) == 1
    # when
    again = notifications.notifications_email([notification.pk])
    # then
    assert again == 0
    assert len(mail.outbox) == 1


def test_a_preference_turned_off_before_the_commit_is_respected(
    django_capture_on_commit_callbacks,
):
    # given
    user = lead(make_provider(), email="ana@example.com", by_email=True)
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        send([user])
        User.objects.filter(pk=user.pk).update(notify_by_email=False)
    for callback in callbacks:
        callback()
    # then
    assert mail.outbox == []


class FailingBackend(LocmemBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


def test_a_failed_email_keeps_the_notification_and_is_logged(
    settings, caplog, django_capture_on_commit_callbacks
):
    # given
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    user = lead(make_provider(), email="ana@example.com", by_email=True)
    # when
    with (
        caplog.at_level(logging.ERROR, logger="offload.tenancy.notifications"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sent = send([user])
    # then: in the inbox, not marked e-mailed, and the failure logged
    notification = Notification.objects.get(pk=sent[0].pk)
    assert notification.emailed_at is None
    assert notification.read_at is None
    assert "e-mail to user" in caplog.text
    assert "smtp down" in caplog.text


# ------------------------------------------------------------------ the recipient's own


def test_mark_read_is_idempotent_and_keeps_the_first_time():
    # given
    principal = make_principal(make_client(), "client_admin")
    assert principal.user is not None
    notification = send([principal.user])[0]
    # when
    first = notifications.notification_mark_read(actor=principal, notification=notification)
    read_at = first.read_at
    again = notifications.notification_mark_read(actor=principal, notification=first)
    # then
    assert read_at is not None
    assert again.read_at == read_at
    assert Notification.objects.get(pk=notification.pk).read_at == read_at


def test_mark_read_refuses_someone_elses_notification():
    # given
    org = make_client()
    principal = make_principal(org, "client_admin")
    other = make_user(org, "client_viewer")
    notification = send([other])[0]
    # when / then
    with pytest.raises(errors.NotFound):
        notifications.notification_mark_read(actor=principal, notification=notification)
    assert Notification.objects.get(pk=notification.pk).read_at is None


def test_mark_all_read_marks_only_the_actors_unread():
    # given
    org = make_client()
    principal = make_principal(org, "client_admin")
    assert principal.user is not None
    mine = send([principal.user, principal.user]) + send([principal.user])
    notifications.notification_mark_read(actor=principal, notification=mine[0])
    theirs = send([make_user(org, "client_viewer")])[0]
    # when
    marked = notifications.notification_mark_all_read(actor=principal)
    # then
    assert marked == 1
    assert not Notification.objects.filter(recipient=principal.user, read_at=None).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_an_organisation_key_has_no_inbox():
    # given
    org = make_client()
    send([make_user(org, "client_admin")])
    principal = make_key_principal(org)
    # when / then
    assert notifications.notification_mark_all_read(actor=principal) == 0
    with pytest.raises(errors.NotFound):
        notifications.notification_preferences_update(actor=principal, notify_by_email=True)


def test_a_read_only_key_cannot_mark_read():
    # given
    org = make_client()
    user = make_user(org, "client_admin")
    notification = send([user])[0]
    principal = make_key_principal(org, user=user, scopes=("read",))
    # when / then
    with pytest.raises(errors.PermissionDenied):
        notifications.notification_mark_read(actor=principal, notification=notification)


def test_preferences_update_changes_the_actors_own_user_only():
    # given
    org = make_provider()
    principal = make_principal(org, "team_lead")
    other = make_user(org, "team_lead")
    # when
    user = notifications.notification_preferences_update(actor=principal, notify_by_email=True)
    kept = notifications.notification_preferences_update(actor=principal, notify_by_email=None)
    # then
    assert user.pk == principal.user.pk  # type: ignore[union-attr]
    assert User.objects.get(pk=user.pk).notify_by_email is True
    assert kept.notify_by_email is True
    assert User.objects.get(pk=other.pk).notify_by_email is False
