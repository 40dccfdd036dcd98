import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from offload.contracts.tests.factories import make_engagement
from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import ApiKey, AuditEvent, Membership, Organisation, Role, Site, User
from offload.tenancy.tests.factories import (
    make_api_key,
    make_client,
    make_key_principal,
    make_principal,
    make_provider,
    make_site,
    make_user,
)

pytestmark = pytest.mark.django_db


def visible_ids(principal: visibility.Principal, model: type[Model]) -> set[int]:
    rows = visibility.visible(principal, model._default_manager.all())
    return set(rows.values_list("pk", flat=True))


def test_client_sees_only_its_own_organisations_rows():
    # given two clients of one provider
    provider = make_provider()
    acme, globex = make_client(), make_client()
    make_engagement(acme, provider)
    make_engagement(globex, provider)
    acme_admin = make_principal(acme, Role.CLIENT_ADMIN)
    globex_user = make_user(globex)
    acme_key, _ = make_api_key(acme)
    make_api_key(globex)
    # when
    orgs = visible_ids(acme_admin, Organisation)
    users = visible_ids(acme_admin, User)
    keys = visible_ids(acme_admin, ApiKey)
    events = visibility.visible(acme_admin, AuditEvent.objects.all())
    memberships = visibility.visible(acme_admin, Membership.objects.all())
    # then: itself and its provider, never the other client
    assert orgs == {acme.pk, provider.pk}
    assert globex_user.pk not in users
    assert users == {acme_admin.user.pk}  # type: ignore[union-attr]
    assert keys == {acme_key.pk}
    assert {e.organisation_id for e in events} == {acme.pk}
    assert {m.organisation_id for m in memberships} == {acme.pk}


def test_provider_sees_the_clients_of_its_engagements_and_not_a_strangers():
    # given
    provider, rival = make_provider(), make_provider()
    ours, theirs = make_client(), make_client()
    make_engagement(ours, provider)
    make_engagement(theirs, rival)
    admin = make_principal(provider, Role.ADMIN)
    # when
    orgs = visible_ids(admin, Organisation)
    # then
    assert orgs == {provider.pk, ours.pk}


def test_provider_sees_a_client_it_onboarded_before_any_engagement():
    # given
    provider = make_provider()
    client = make_client()
    Organisation.objects.filter(pk=client.pk).update(onboarded_by=provider)
    admin = make_principal(provider, Role.ADMIN)
    # when / then
    assert visible_ids(admin, Organisation) == {provider.pk, client.pk}


def test_provider_does_not_see_its_clients_users_keys_or_trail():
    # given
    provider, client = make_provider(), make_client()
    make_engagement(client, provider)
    client_user = make_user(client)
    client_key, _ = make_api_key(client)
    admin = make_principal(provider, Role.ADMIN)
    # when / then
    assert client_user.pk not in visible_ids(admin, User)
    assert client_key.pk not in visible_ids(admin, ApiKey)
    assert not visibility.visible(admin, AuditEvent.objects.filter(organisation=client)).exists()


def test_sites_are_seen_by_their_provider_and_its_clients_only():
    # given
    provider = make_provider()
    site = make_site(provider)
    client, stranger = make_client(), make_client()
    make_engagement(client, provider)
    # when / then
    assert visible_ids(make_principal(provider, Role.AGENT), Site) == {site.pk}
    assert visible_ids(make_principal(client), Site) == {site.pk}
    assert visible_ids(make_principal(stranger), Site) == set()
    assert visible_ids(make_principal(make_provider()), Site) == set()


def test_get_visible_answers_not_found_for_another_clients_row():
    # given
    acme, globex = make_client(), make_client()
    principal = make_principal(acme)
    foreign_key, _ = make_api_key(globex)
    # when / then: indistinguishable from a row that does not exist
    with pytest.raises(errors.NotFound) as foreign:
        visibility.get_visible(principal, ApiKey.objects.all(), pk=foreign_key.pk)
    with pytest.raises(errors.NotFound) as missing:
        visibility.get_visible(principal, ApiKey.objects.all(), pk=10**9)
    with pytest.raises(errors.NotFound):
        visibility.get_visible(principal, Organisation.objects.all(), pk=globex.pk)
    assert foreign.value.detail == missing.value.detail


def test_get_visible_returns_the_own_row():
    # given
    acme = make_client()
    principal = make_principal(acme)
    # when
    found = visibility.get_visible(principal, Organisation.objects.all(), pk=acme.pk)
    # then
    assert found == acme


def test_get_visible_turns_a_malformed_lookup_into_not_found():
    # given
    principal = make_principal(make_client())
    # when / then
    with pytest.raises(errors.NotFound):
        visibility.get_visible(principal, Organisation.objects.all(), pk="not-a-number")


def test_visible_refuses_a_model_without_a_rule():
    # given a model no app registered
    principal = make_principal(make_client())
    # when / then
    with pytest.raises(ImproperlyConfigured, match="Group has no visibility rule"):
        visibility.visible(principal, Group.objects.all())


def test_can_see_follows_the_rules():
    # given
    acme, globex = make_client(), make_client()
    principal = make_principal(acme)
    # when / then
    assert visibility.can_see(principal, acme)
    assert not visibility.can_see(principal, globex)


def test_tenancy_models_are_registered():
    # given / when
    registered = set(visibility.registered_models())
    # then
    assert {Organisation, Site, User, Membership, ApiKey, AuditEvent} <= registered


def test_require_names_the_missing_role():
    # given
    lead = make_principal(make_provider(), Role.TEAM_LEAD)
    # when
    with pytest.raises(errors.PermissionDenied) as caught:
        visibility.require(lead, "site.manage")
    # then
    assert caught.value.detail == visibility.ROLE_REQUIRED.format(roles="admin")


def test_a_read_only_key_may_read_but_not_act():
    # given
    read_only = make_key_principal(make_client(), scopes=("read",))
    # when
    visibility.require_read(read_only)
    visibility.require(read_only, "audit.read")
    with pytest.raises(errors.PermissionDenied) as caught:
        visibility.require(read_only, "user.manage")
    # then
    assert caught.value.detail == visibility.SCOPE_REQUIRED.format(scope="write")
    assert not visibility.allowed(read_only, "user.manage")


def test_a_write_only_key_may_not_read():
    # given
    write_only = make_key_principal(make_client(), scopes=("write",))
    # when / then
    with pytest.raises(errors.PermissionDenied) as caught:
        visibility.require_read(write_only)
    assert caught.value.detail == visibility.SCOPE_REQUIRED.format(scope="read")


def test_principal_for_user_uses_the_named_or_first_membership():
    # given a user in two organisations
    first, second = make_provider(), make_provider()
    user = make_user(first, "agent", "team_lead")
    Membership.objects.create(user=user, organisation=second, role=Role.QA_ANALYST)
    # when
    default = visibility.principal_for_user(user)
    named = visibility.principal_for_user(user, second)
    # then
    assert default is not None
    assert named is not None
    assert (default.organisation, default.roles) == (first, frozenset({"agent", "team_lead"}))
    assert (named.organisation, named.roles) == (second, frozenset({"qa_analyst"}))
    assert default.label == user.username


def test_principal_for_user_without_membership_is_none():
    # given
    user = User.objects.create(username="loner")
    # when / then
    assert visibility.principal_for_user(user) is None
    assert visibility.principal_for_user(make_user(make_client()), make_client()) is None


def test_client_and_provider_sides():
    # given / when
    client = make_principal(make_client())
    provider = make_principal(make_provider())
    # then
    assert client.is_client
    assert not client.is_provider
    assert provider.is_provider
    assert not provider.is_client
    with pytest.raises(errors.PermissionDenied):
        visibility.require_side(client, "provider")
