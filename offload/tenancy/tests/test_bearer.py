"""The kept principal of a bearer key: reused while its rows are unchanged, never stale."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from offload.tenancy import bearer, services
from offload.tenancy.models import ApiKey, Membership, Organisation, Role, User
from offload.tenancy.tests.factories import (
    make_api_key,
    make_client,
    make_principal,
    make_provider,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _nothing_kept():
    bearer.forget()
    yield
    bearer.forget()


def test_a_kept_principal_is_not_looked_up_again(monkeypatch):
    # given
    org = make_provider()
    user = make_user(org, Role.AGENT)
    key, secret = make_api_key(org, user=user)
    first = bearer.principal_for_secret(secret)

    def looked_up(*args: object, **kwargs: object) -> None:
        raise AssertionError("the key was looked up again")

    monkeypatch.setattr(services, "api_key_find", looked_up)
    # when
    with CaptureQueriesContext(connection) as queries:
        again = bearer.principal_for_secret(secret)
    # then: one read of its rows at most (a prepared one, on PostgreSQL, is not logged)
    assert first is not None
    assert again is not None
    assert len(queries) <= 1
    assert again == first
    assert again.roles == frozenset({Role.AGENT})
    assert again.api_key == key


def test_each_request_gets_its_own_instances():
    # given
    org = make_client()
    _, secret = make_api_key(org)
    first = bearer.principal_for_secret(secret)
    assert first is not None
    # when one request changes what it was given
    first.organisation.name = "changed in one request"
    # then the next is given the organisation as stored
    again = bearer.principal_for_secret(secret)
    assert again is not None
    assert again.organisation.name == org.name
    assert again.organisation is not first.organisation
    # and: each copy is the stored row, loaded (a save is an update), with a
    # related-rows cache of its own
    assert again.api_key is not None
    assert first.api_key is not None
    assert again.api_key is not first.api_key
    assert again.api_key._state.fields_cache is not first.api_key._state.fields_cache
    stored = type(again.api_key).objects.get(pk=again.api_key.pk)
    fields = [f.attname for f in stored._meta.concrete_fields if f.name != "last_used_at"]
    assert [getattr(again.api_key, f) for f in fields] == [getattr(stored, f) for f in fields]
    assert not again.api_key._state.adding


def test_a_revocation_is_seen_on_the_next_request():
    # given
    org = make_client()
    key, secret = make_api_key(org)
    assert bearer.principal_for_secret(secret) is not None
    # when
    services.api_key_revoke(actor=make_principal(org), key=key)
    # then
    assert bearer.principal_for_secret(secret) is None


def test_the_sweeps_expiry_mark_is_seen_on_the_next_request():
    # given
    key, secret = make_api_key(make_client())
    assert bearer.principal_for_secret(secret) is not None
    # when
    ApiKey.objects.filter(pk=key.pk).update(expired_at=timezone.now())
    # then
    assert bearer.principal_for_secret(secret) is None


def test_a_kept_key_past_its_expiry_is_refused():
    # given
    expires = timezone.now() + timedelta(hours=1)
    _, secret = make_api_key(make_client(), expires_at=expires)
    assert bearer.principal_for_secret(secret, now=expires - timedelta(seconds=1)) is not None
    # when / then: the rows are unchanged, the time is not
    assert bearer.principal_for_secret(secret, now=expires) is None


def test_a_changed_role_is_seen_on_the_next_request():
    # given
    org = make_provider()
    user = make_user(org, Role.AGENT)
    _, secret = make_api_key(org, user=user)
    assert bearer.principal_for_secret(secret).roles == frozenset({Role.AGENT})  # type: ignore[union-attr]
    # when
    Membership.objects.filter(user=user, organisation=org).update(role=Role.TEAM_LEAD)
    # then
    assert bearer.principal_for_secret(secret).roles == frozenset({Role.TEAM_LEAD})  # type: ignore[union-attr]


def test_a_user_who_left_or_was_deactivated_is_refused_at_once():
    # given
    org = make_provider()
    left, deactivated = make_user(org, Role.AGENT), make_user(org, Role.AGENT)
    _, left_secret = make_api_key(org, user=left)
    _, deactivated_secret = make_api_key(org, user=deactivated)
    assert bearer.principal_for_secret(left_secret) is not None
    assert bearer.principal_for_secret(deactivated_secret) is not None
    # when
    services.user_remove(actor=make_principal(org, Role.ADMIN), user=left)
    User.objects.filter(pk=deactivated.pk).update(is_active=False)
    # then
    assert bearer.principal_for_secret(left_secret) is None
    assert bearer.principal_for_secret(deactivated_secret) is None


def test_an_organisation_change_makes_the_principal_again():
    # given
    org = make_client()
    _, secret = make_api_key(org)
    assert bearer.principal_for_secret(secret) is not None
    # when
    Organisation.objects.filter(pk=org.pk).update(name="Renamed Ltd")
    # then
    principal = bearer.principal_for_secret(secret)
    assert principal is not None
    assert principal.organisation.name == "Renamed Ltd"


def test_a_kept_key_still_notes_its_use_once_a_minute():
    # given
    key, secret = make_api_key(make_client())
    t0 = timezone.now()
    bearer.principal_for_secret(secret, now=t0)
    # when
    bearer.principal_for_secret(secret, now=t0 + timedelta(seconds=61))
    # then
    key.refresh_from_db()
    assert key.last_used_at == t0 + timedelta(seconds=61)


def test_an_unknown_secret_is_refused():
    # given
    make_api_key(make_client())
    # when / then
    assert bearer.principal_for_secret("not-a-key") is None
    assert bearer.principal_for_secret("") is None
