"""A dedupe key holds under real concurrency (PostgreSQL): eight sweeps sending the same
notification at once leave one row and one e-mail per recipient."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection, connections

from offload.tenancy import notifications
from offload.tenancy.models import Notification, User
from offload.tenancy.tests.factories import make_provider, make_user

THREADS = 8

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
    ),
]


def test_eight_concurrent_sends_with_one_dedupe_key_notify_each_recipient_once():
    # given: three team leads who want e-mail
    provider = make_provider()
    leads = [make_user(provider, "team_lead") for _ in range(3)]
    for n, lead in enumerate(leads):
        User.objects.filter(pk=lead.pk).update(email=f"lead{n}@example.com", notify_by_email=True)
    leads = list(User.objects.filter(pk__in=[u.pk for u in leads]))
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait()
            notifications.notification_send(
                recipients=leads,
                kind="sla_breach",
                title="ACME-7 breached its SLA",
                body="Still open.",
                dedupe_key="clock:7:breach",
            )
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(THREADS)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert failures == []
    rows = Notification.objects.filter(dedupe_key="clock:7:breach")
    assert sorted(rows.values_list("recipient_id", flat=True)) == sorted(u.pk for u in leads)
    assert all(n.emailed_at is not None for n in rows)
    assert sorted(m.to[0] for m in mail.outbox) == [f"lead{n}@example.com" for n in range(3)]
