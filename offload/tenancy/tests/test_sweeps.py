import signal
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from offload.core import sweeps
from offload.tenancy import services
from offload.tenancy.models import ApiKey, AuditEvent
from offload.tenancy.tests.factories import make_api_key, make_client, make_principal

pytestmark = pytest.mark.django_db


def expire_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="api_key.expire").order_by("pk"))


def test_the_expiry_sweep_is_registered():
    # given / when
    names = [s.name for s in sweeps.registered()]
    # then
    assert "tenancy.api_key_expiry" in names


def test_expiry_sweep_marks_only_due_keys_and_audits_each():
    # given keys due, not yet due, without expiry, and revoked
    org = make_client()
    now = timezone.now() + timedelta(hours=2)
    due_a, _ = make_api_key(org, expires_at=now - timedelta(minutes=90))
    due_b, _ = make_api_key(org, expires_at=now)
    _later, _ = make_api_key(org, expires_at=now + timedelta(seconds=1))
    _forever, _ = make_api_key(org)
    revoked, _ = make_api_key(org, expires_at=now - timedelta(minutes=30))
    services.api_key_revoke(actor=make_principal(org), key=revoked)
    # when
    handled = services.api_keys_expire_due(now)
    # then
    assert handled == 2
    expired = set(ApiKey.objects.filter(expired_at__isnull=False).values_list("pk", flat=True))
    assert expired == {due_a.pk, due_b.pk}
    assert ApiKey.objects.get(pk=due_a.pk).expired_at == now
    events = expire_events()
    assert sorted(int(e.object_id) for e in events) == sorted([due_a.pk, due_b.pk])
    assert {e.actor_label for e in events} == {"system"}
    assert all(e.changes == {"expired_at": [None, now.isoformat()]} for e in events)
    assert all(e.organisation_id == org.pk for e in events)


def test_expiry_sweep_run_twice_does_nothing_the_second_time():
    # given
    org = make_client()
    now = timezone.now() + timedelta(days=2)
    make_api_key(org, expires_at=now - timedelta(days=1))
    services.api_keys_expire_due(now)
    marked = list(ApiKey.objects.values_list("pk", "expired_at"))
    # when
    handled = services.api_keys_expire_due(now + timedelta(minutes=5))
    # then
    assert handled == 0
    assert list(ApiKey.objects.values_list("pk", "expired_at")) == marked
    assert len(expire_events()) == 1


def test_expiry_sweep_handles_a_batch_at_a_time(monkeypatch):
    # given more due keys than one batch
    monkeypatch.setattr(services, "EXPIRY_BATCH", 2)
    org = make_client()
    now = timezone.now() + timedelta(days=1)
    for _ in range(3):
        make_api_key(org, expires_at=now - timedelta(hours=1))
    # when
    first, second = services.api_keys_expire_due(now), services.api_keys_expire_due(now)
    # then
    assert (first, second) == (2, 1)
    assert not ApiKey.objects.filter(expired_at__isnull=True).exists()


def test_worker_once_runs_the_expiry_sweep():
    # given a key whose expiry has passed
    org = make_client()
    key, secret = make_api_key(org, expires_at=timezone.now() + timedelta(hours=1))
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    # when
    call_command("worker", once=True, no_tasks=True, stdout=out)
    # then
    key.refresh_from_db()
    assert key.expired_at is not None
    assert [int(e.object_id) for e in expire_events()] == [key.pk]
    assert "tenancy.api_key_expiry" in out.getvalue()
    assert services.api_key_authenticate(secret) is None


def test_worker_once_leaves_the_signal_handlers_as_it_found_them():
    # given
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    # when
    call_command("worker", once=True, no_tasks=True, stdout=StringIO())
    # then
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
