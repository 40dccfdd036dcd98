import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from offload.core import errors
from offload.tenancy import selectors, services, validators, visibility
from offload.tenancy.models import (
    ApiKey,
    AuditEvent,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    Site,
    User,
)
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


def field_errors(caught: pytest.ExceptionInfo[errors.ValidationFailed]) -> dict[str, str]:
    return {e.field: e.message for e in caught.value.errors}


def last_event(organisation: Organisation) -> AuditEvent:
    return AuditEvent.objects.filter(organisation=organisation).latest("seq")


# ------------------------------------------------------------------ organisations


def test_organisation_create_refuses_bad_codes_naming_each_field():
    # given
    before = Organisation.objects.count()
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.organisation_create(
            actor=None,
            kind=OrganisationKind.CLIENT,
            name="Acme",
            country="XX",
            timezone="Mars/Olympus",
            currency="ABC",
        )
    # then: every bad field is named at once, and nothing was written
    assert field_errors(caught) == {
        "country": validators.UNKNOWN_COUNTRY.format(value="XX"),
        "timezone": validators.UNKNOWN_TIMEZONE.format(value="Mars/Olympus"),
        "currency": validators.UNKNOWN_CURRENCY.format(value="ABC"),
    }
    assert Organisation.objects.count() == before


def test_organisation_create_derives_the_slug_and_audits():
    # given / when
    org = services.organisation_create(
        actor=None,
        kind=OrganisationKind.CLIENT,
        name="Acme Telecom",
        country="US",
        timezone="America/New_York",
        currency="USD",
    )
    # then
    assert org.slug == "acme-telecom"
    event = last_event(org)
    assert (event.seq, event.action, event.actor_label) == (1, "organisation.create", "system")
    assert event.changes["name"] == [None, "Acme Telecom"]
    assert event.changes["currency"] == [None, "USD"]


def test_organisation_create_refuses_a_duplicate_slug():
    # given
    make_client(slug="acme")
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        make_client(slug="acme")
    # then
    assert field_errors(caught) == {"slug": services.SLUG_TAKEN.format(slug="acme")}
    assert Organisation.objects.filter(slug="acme").count() == 1


def test_organisation_create_refuses_a_name_without_a_slug():
    # given a name slugify reduces to nothing, and no slug
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        make_client(name="!!!")
    # then: a slug is asked for instead of storing an empty one
    assert field_errors(caught) == {"slug": services.NO_SLUG}


def test_provider_admin_onboards_a_client_and_sees_it():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    # when
    org = services.organisation_create(
        actor=admin,
        kind=OrganisationKind.CLIENT,
        name="Globex Insurance",
        country="GB",
        timezone="Europe/London",
        currency="GBP",
    )
    # then
    assert org.onboarded_by == provider
    assert org in selectors.organisation_list(principal=admin)
    event = last_event(org)
    assert event.actor_user == admin.user
    assert event.actor_label == admin.user.username  # type: ignore[union-attr]


def test_provider_admin_may_onboard_clients_only():
    # given
    admin = make_principal(make_provider(), Role.ADMIN)
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.organisation_create(
            actor=admin,
            kind=OrganisationKind.PROVIDER,
            name="Rival",
            country="PH",
            timezone="Asia/Manila",
            currency="PHP",
        )
    # then
    assert field_errors(caught) == {"kind": services.CLIENT_ONLY}


@pytest.mark.parametrize("role", [Role.TEAM_LEAD, Role.OPS_MANAGER, Role.AGENT])
def test_only_a_provider_admin_onboards(role):
    # given
    principal = make_principal(make_provider(), role)
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.organisation_create(
            actor=principal,
            kind=OrganisationKind.CLIENT,
            name="Acme",
            country="US",
            timezone="America/New_York",
            currency="USD",
        )
    assert not Organisation.objects.filter(name="Acme").exists()


def test_organisation_update_validates_each_field():
    # given
    client = make_client()
    admin = make_principal(client, Role.CLIENT_ADMIN)
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.organisation_update(
            actor=admin, organisation=client, data={"country": "us", "currency": "EURO"}
        )
    # then
    assert field_errors(caught) == {
        "country": validators.UNKNOWN_COUNTRY.format(value="us"),
        "currency": validators.UNKNOWN_CURRENCY.format(value="EURO"),
    }
    client.refresh_from_db()
    assert client.country == "US"


def test_organisation_update_audits_only_what_changed():
    # given
    client = make_client(timezone="America/New_York")
    admin = make_principal(client, Role.CLIENT_ADMIN)
    # when
    services.organisation_update(
        actor=admin,
        organisation=client,
        data={"timezone": "America/Chicago", "currency": "USD"},
    )
    # then
    client.refresh_from_db()
    assert client.timezone == "America/Chicago"
    event = last_event(client)
    assert event.action == "organisation.update"
    assert event.changes == {"timezone": ["America/New_York", "America/Chicago"]}


def test_organisation_update_without_change_records_nothing():
    # given
    client = make_client()
    admin = make_principal(client, Role.CLIENT_ADMIN)
    seq = last_event(client).seq
    # when
    services.organisation_update(actor=admin, organisation=client, data={"name": client.name})
    # then
    assert last_event(client).seq == seq


def test_organisation_update_refuses_a_taken_slug():
    # given
    make_client(slug="taken")
    client = make_client(slug="mine")
    admin = make_principal(client, Role.CLIENT_ADMIN)
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.organisation_update(actor=admin, organisation=client, data={"slug": "taken"})
    # then
    assert field_errors(caught) == {"slug": services.SLUG_TAKEN.format(slug="taken")}
    client.refresh_from_db()
    assert client.slug == "mine"


def test_onboarding_provider_may_edit_its_client_but_a_stranger_may_not():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    client = services.organisation_create(
        actor=admin,
        kind=OrganisationKind.CLIENT,
        name="Acme",
        country="US",
        timezone="America/New_York",
        currency="USD",
    )
    stranger = make_principal(make_provider(), Role.ADMIN)
    # when
    services.organisation_update(actor=admin, organisation=client, data={"name": "Acme Inc"})
    with pytest.raises(errors.PermissionDenied):
        services.organisation_update(actor=stranger, organisation=client, data={"name": "Pwned"})
    # then
    client.refresh_from_db()
    assert client.name == "Acme Inc"


def test_client_viewer_may_not_edit_its_organisation():
    # given
    client = make_client()
    viewer = make_principal(client, Role.CLIENT_VIEWER)
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.organisation_update(actor=viewer, organisation=client, data={"name": "X"})


# ------------------------------------------------------------------ sites


def test_site_create_belongs_to_the_actors_provider_and_is_audited():
    # given
    provider, other = make_provider(), make_provider()
    admin = make_principal(provider, Role.ADMIN)
    # when: the provider argument is ignored for an actor
    site = services.site_create(
        actor=admin,
        provider=other,
        name="Manila",
        country="PH",
        timezone="Asia/Manila",
        languages=["en", "tl"],
        hourly_cost=Decimal("9.75"),
    )
    # then
    assert site.provider == provider
    assert site.slug == "manila"
    event = last_event(provider)
    assert event.action == "site.create"
    assert event.object_type == "tenancy.site"
    assert event.object_id == str(site.pk)
    assert event.changes["languages"] == [None, ["en", "tl"]]
    assert event.changes["hourly_cost"] == [None, "9.75"]


@pytest.mark.parametrize("role", [Role.TEAM_LEAD, Role.OPS_MANAGER, Role.FINANCE])
def test_site_create_needs_a_provider_admin(role):
    # given
    principal = make_principal(make_provider(), role)
    # when / then
    with pytest.raises(errors.PermissionDenied) as caught:
        services.site_create(
            actor=principal,
            provider=principal.organisation,
            name="Manila",
            country="PH",
            timezone="Asia/Manila",
            languages=[],
            hourly_cost=Decimal(10),
        )
    assert caught.value.detail == visibility.ROLE_REQUIRED.format(roles="admin")
    assert not Site.objects.exists()


def test_client_admin_may_not_create_a_site():
    # given
    client_admin = make_principal(make_client(), Role.CLIENT_ADMIN)
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.site_create(
            actor=client_admin,
            provider=client_admin.organisation,
            name="Sneaky",
            country="US",
            timezone="America/New_York",
            languages=[],
            hourly_cost=Decimal(10),
        )
    assert not Site.objects.exists()


def test_site_create_validates_codes_and_cost():
    # given
    admin = make_principal(make_provider(), Role.ADMIN)
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.site_create(
            actor=admin,
            provider=admin.organisation,
            name="Nowhere",
            country="ZZ",
            timezone="Asia/Nowhere",
            languages=["xx"],
            hourly_cost=Decimal("-1"),
        )
    # then
    assert field_errors(caught) == {
        "country": validators.UNKNOWN_COUNTRY.format(value="ZZ"),
        "timezone": validators.UNKNOWN_TIMEZONE.format(value="Asia/Nowhere"),
        "languages": validators.UNKNOWN_LANGUAGE.format(value="xx"),
        "hourly_cost": services.NEGATIVE_COST,
    }


def test_site_slug_is_unique_per_provider_only():
    # given
    first, second = make_provider(), make_provider()
    make_site(first, slug="manila")
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        make_site(first, slug="manila")
    make_site(second, slug="manila")
    # then
    assert field_errors(caught) == {"slug": services.SLUG_TAKEN.format(slug="manila")}
    assert Site.objects.filter(slug="manila").count() == 2


def test_site_update_changes_and_audits_before_and_after():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    site = make_site(provider, hourly_cost=Decimal("12.50"), languages=["en"])
    # when
    services.site_update(
        actor=admin, site=site, data={"hourly_cost": Decimal("13.00"), "languages": ["en", "es"]}
    )
    # then
    site.refresh_from_db()
    assert site.hourly_cost == Decimal("13.00")
    assert site.languages == ["en", "es"]
    event = last_event(provider)
    assert event.action == "site.update"
    assert event.changes == {
        "hourly_cost": ["12.50", "13.00"],
        "languages": [["en"], ["en", "es"]],
    }


def test_site_update_with_an_equal_cost_records_nothing():
    # given a cost of 12.50 sent back as 12.5 (the same amount)
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    site = make_site(provider, hourly_cost=Decimal("12.50"))
    seq = last_event(provider).seq
    # when
    services.site_update(actor=admin, site=site, data={"hourly_cost": Decimal("12.5")})
    # then
    assert last_event(provider).seq == seq


def test_site_update_by_another_provider_is_refused():
    # given
    site = make_site(make_provider())
    stranger = make_principal(make_provider(), Role.ADMIN)
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.site_update(actor=stranger, site=site, data={"name": "Mine now"})
    site.refresh_from_db()
    assert site.name != "Mine now"


def test_site_delete_removes_it_and_audits_what_it_was():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    site = make_site(provider, name="Krakow", country="PL", timezone="Europe/Warsaw")
    site_id = site.pk
    # when
    services.site_delete(actor=admin, site=site)
    # then
    assert not Site.objects.filter(pk=site_id).exists()
    event = last_event(provider)
    assert (event.action, event.object_id) == ("site.delete", str(site_id))
    assert event.changes["name"] == ["Krakow", None]
    assert event.changes["country"] == ["PL", None]


def test_team_lead_may_not_delete_a_site():
    # given
    provider = make_provider()
    site = make_site(provider)
    lead = make_principal(provider, Role.TEAM_LEAD)
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.site_delete(actor=lead, site=site)
    assert Site.objects.filter(pk=site.pk).exists()


# ------------------------------------------------------------------ users and roles


def test_client_organisation_refuses_provider_roles():
    # given
    client = make_client()
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.user_create(
            actor=None, organisation=client, username="mallory", roles=["client_viewer", "admin"]
        )
    # then
    assert field_errors(caught) == {
        "roles": services.ROLE_WRONG_SIDE.format(role="admin", kind="client")
    }
    assert not User.objects.filter(username="mallory").exists()


def test_provider_organisation_refuses_client_roles():
    # given
    provider = make_provider()
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.user_create(
            actor=None, organisation=provider, username="carol", roles=["client_admin"]
        )
    # then
    assert field_errors(caught) == {
        "roles": services.ROLE_WRONG_SIDE.format(role="client_admin", kind="provider")
    }


def test_user_create_needs_a_role():
    # given / when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.user_create(actor=None, organisation=make_client(), username="nobody", roles=[])
    # then
    assert field_errors(caught) == {"roles": services.NO_ROLES}


def test_user_create_refuses_a_taken_username():
    # given
    org = make_provider()
    make_user(org, username="ana")
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        make_user(org, username="ana")
    # then
    assert field_errors(caught) == {"username": services.USERNAME_TAKEN.format(username="ana")}


def test_user_create_by_an_admin_joins_the_admins_organisation_with_roles():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    # when
    user = services.user_create(
        actor=admin,
        organisation=make_provider(),
        username="lead1",
        roles=["team_lead", "agent"],
        password="correct horse battery",
    )
    # then
    assert selectors.roles_of(user, provider) == ["agent", "team_lead"]
    assert Membership.objects.filter(user=user).count() == 2
    assert user.check_password("correct horse battery")
    assert "correct horse battery" not in user.password
    event = last_event(provider)
    assert event.action == "user.create"
    assert event.changes["roles"] == [[], ["agent", "team_lead"]]
    assert "password" not in event.changes


def test_a_bot_never_has_a_usable_password():
    # given / when
    bot = services.user_create(
        actor=None,
        organisation=make_provider(),
        username="intake-bot",
        roles=["bot"],
        password="would-be-password",
        is_bot=True,
    )
    # then
    assert bot.is_bot
    assert not bot.has_usable_password()


def test_user_update_diffs_roles_in_the_audit_trail():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    user = make_user(provider, "agent", "qa_analyst")
    # when
    services.user_update(actor=admin, user=user, data={}, roles=["agent", "team_lead"])
    # then
    assert selectors.roles_of(user, provider) == ["agent", "team_lead"]
    event = last_event(provider)
    assert event.action == "user.update"
    assert event.changes == {"roles": [["agent", "qa_analyst"], ["agent", "team_lead"]]}


def test_user_update_masks_the_password_in_the_trail():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    user = make_user(provider, "agent")
    # when
    services.user_update(
        actor=admin, user=user, data={"email": "a@example.com"}, password="new password 123"
    )
    # then
    user.refresh_from_db()
    assert user.check_password("new password 123")
    assert last_event(provider).changes == {
        "email": ["", "a@example.com"],
        "password": ["***", "***"],
    }


def test_user_update_refuses_roles_of_the_other_side():
    # given
    client = make_client()
    admin = make_principal(client, Role.CLIENT_ADMIN)
    user = make_user(client, "client_viewer")
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.user_update(actor=admin, user=user, data={}, roles=["ops_manager"])
    # then
    assert set(field_errors(caught)) == {"roles"}
    assert selectors.roles_of(user, client) == ["client_viewer"]


def test_user_update_refuses_a_user_of_another_organisation():
    # given
    admin = make_principal(make_client(), Role.CLIENT_ADMIN)
    outsider = make_user(make_provider(), "admin")
    # when / then: no roles granted in the admin's organisation, nothing changed
    with pytest.raises(errors.NotFound):
        services.user_update(
            actor=admin, user=outsider, data={"email": "x@evil.test"}, roles=["client_admin"]
        )
    outsider.refresh_from_db()
    assert outsider.email == ""
    assert not Membership.objects.filter(user=outsider, organisation=admin.organisation).exists()


def test_user_remove_deactivates_after_the_last_membership():
    # given
    provider = make_provider()
    admin = make_principal(provider, Role.ADMIN)
    user = make_user(provider, "agent", "team_lead")
    # when
    services.user_remove(actor=admin, user=user)
    # then
    user.refresh_from_db()
    assert not user.is_active
    assert not Membership.objects.filter(user=user).exists()
    event = last_event(provider)
    assert event.action == "user.remove"
    assert event.changes == {
        "roles": [["agent", "team_lead"], []],
        "is_active": [True, False],
    }


def test_user_remove_keeps_a_user_who_belongs_elsewhere_active():
    # given a user in two organisations
    provider, other = make_provider(), make_provider()
    admin = make_principal(provider, Role.ADMIN)
    user = make_user(provider, "agent")
    Membership.objects.create(user=user, organisation=other, role=Role.AGENT)
    # when
    services.user_remove(actor=admin, user=user)
    # then
    user.refresh_from_db()
    assert user.is_active
    assert list(Membership.objects.filter(user=user).values_list("organisation", flat=True)) == [
        other.pk
    ]


def test_user_remove_refuses_a_user_of_another_organisation():
    # given
    admin = make_principal(make_provider(), Role.ADMIN)
    outsider = make_user(make_client())
    seq = last_event(admin.organisation).seq
    # when / then
    with pytest.raises(errors.NotFound):
        services.user_remove(actor=admin, user=outsider)
    outsider.refresh_from_db()
    assert outsider.is_active
    assert last_event(admin.organisation).seq == seq


def test_team_lead_may_not_manage_users():
    # given
    provider = make_provider()
    lead = make_principal(provider, Role.TEAM_LEAD)
    agent = make_user(provider, "agent")
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.user_update(actor=lead, user=agent, data={}, roles=["admin"])
    assert selectors.roles_of(agent, provider) == ["agent"]


# ------------------------------------------------------------------ API keys


def test_api_key_secret_is_returned_once_and_stored_only_as_sha256():
    # given
    org = make_client()
    # when
    key, secret = make_api_key(org)
    # then
    key.refresh_from_db()
    assert key.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(f"{services.KEY_PREFIX}_{key.prefix}_")
    assert len(secret) > 40
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert all(secret not in str(value) for value in stored.values())
    event = last_event(org)
    assert event.action == "api_key.create"
    assert secret not in str(event.changes)
    assert key.digest not in str(event.changes)


def test_api_keys_are_distinct():
    # given
    org = make_client()
    # when
    secrets = {make_api_key(org)[1] for _ in range(5)}
    # then
    assert len(secrets) == 5


def test_authenticate_finds_the_live_key():
    # given
    key, secret = make_api_key(make_client())
    # when
    found = services.api_key_authenticate(secret)
    # then
    assert found == key
    assert services.api_key_authenticate(secret + "x") is None
    assert services.api_key_authenticate("") is None


def test_authenticate_refuses_a_revoked_key():
    # given
    org = make_client()
    key, secret = make_api_key(org)
    services.api_key_revoke(actor=make_principal(org), key=key)
    # when / then
    assert services.api_key_authenticate(secret) is None


def test_authenticate_refuses_a_key_past_expiry_before_the_sweep_marks_it():
    # given
    expires = timezone.now() + timedelta(hours=1)
    _, secret = make_api_key(make_client(), expires_at=expires)
    # when / then
    assert services.api_key_authenticate(secret, now=expires - timedelta(seconds=1)) is not None
    assert services.api_key_authenticate(secret, now=expires) is None


def test_authenticate_refuses_a_key_the_sweep_marked_expired():
    # given
    key, secret = make_api_key(make_client())
    ApiKey.objects.filter(pk=key.pk).update(expired_at=timezone.now())
    # when / then
    assert services.api_key_authenticate(secret) is None


def test_authenticate_refuses_a_key_of_an_inactive_user():
    # given
    org = make_provider()
    user = make_user(org, "agent")
    _, secret = make_api_key(org, user=user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    # when / then
    assert services.api_key_authenticate(secret) is None


def test_authenticate_refuses_a_key_whose_user_left_the_organisation():
    # given a user who stays active through another organisation
    org, other = make_provider(), make_provider()
    user = make_user(org, "admin")
    Membership.objects.create(user=user, organisation=other, role=Role.AGENT)
    _, secret = make_api_key(org, user=user)
    services.user_remove(actor=make_principal(org, Role.ADMIN), user=user)
    # when / then: the key must not keep reading the organisation it left
    assert services.api_key_authenticate(secret) is None


def test_last_used_is_written_at_most_once_a_minute():
    # given
    key, secret = make_api_key(make_client())
    t0 = timezone.now()
    # when / then
    services.api_key_authenticate(secret, now=t0)
    key.refresh_from_db()
    assert key.last_used_at == t0
    services.api_key_authenticate(secret, now=t0 + timedelta(seconds=59))
    key.refresh_from_db()
    assert key.last_used_at == t0
    services.api_key_authenticate(secret, now=t0 + timedelta(seconds=60))
    key.refresh_from_db()
    assert key.last_used_at == t0 + timedelta(seconds=60)


def test_a_bots_key_acts_as_the_bot():
    # given
    org = make_provider()
    bot = make_user(org, "bot", username="intake-bot")
    key, secret = make_api_key(org, user=bot)
    # when
    principal = visibility.principal_for_api_key(services.api_key_authenticate(secret))  # type: ignore[arg-type]
    # then
    assert bot.is_bot
    assert principal.user == bot
    assert principal.roles == frozenset({"bot"})
    assert principal.api_key == key
    assert principal.label == f"key:{key.prefix} as intake-bot"


def test_an_organisation_key_is_its_admin():
    # given / when
    provider_key = make_key_principal(make_provider())
    client_key = make_key_principal(make_client())
    # then
    assert provider_key.user is None
    assert provider_key.roles == frozenset({"admin"})
    assert client_key.roles == frozenset({"client_admin"})


def test_api_key_create_validates_each_field():
    # given
    org = make_client()
    stranger = make_user(make_client())
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.api_key_create(
            actor=None,
            organisation=org,
            name="bad",
            scopes=["read", "admin"],
            user=stranger,
            expires_at=timezone.now() - timedelta(minutes=1),
        )
    # then
    assert field_errors(caught) == {
        "scopes": services.BAD_SCOPE.format(scope="admin"),
        "expires_at": services.EXPIRY_IN_PAST,
        "user_id": services.KEY_USER_NOT_MEMBER,
    }
    assert not ApiKey.objects.filter(name="bad").exists()


def test_a_read_only_key_may_not_create_keys():
    # given
    org = make_client()
    read_only = make_key_principal(org, scopes=("read",))
    # when / then
    with pytest.raises(errors.PermissionDenied) as caught:
        services.api_key_create(actor=read_only, organisation=org, name="x", scopes=["write"])
    assert caught.value.detail == visibility.SCOPE_REQUIRED.format(scope="write")


def test_api_key_revoke_is_audited_once():
    # given
    org = make_client()
    admin = make_principal(org)
    key, _ = make_api_key(org)
    # when
    services.api_key_revoke(actor=admin, key=key)
    seq = last_event(org).seq
    services.api_key_revoke(actor=admin, key=key)
    # then
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(organisation=org, action="api_key.revoke").count() == 1
    assert last_event(org).seq == seq


def test_api_key_revoke_refuses_another_organisations_key():
    # given
    admin = make_principal(make_client())
    foreign, secret = make_api_key(make_client())
    # when / then
    with pytest.raises(errors.NotFound):
        services.api_key_revoke(actor=admin, key=foreign)
    assert services.api_key_authenticate(secret) is not None


def test_a_key_cannot_mint_a_key_with_more_scopes_than_its_own():
    # given a write-only organisation key
    org = make_client()
    write_only = make_key_principal(org, scopes=("write",))
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.api_key_create(
            actor=write_only, organisation=org, name="wider", scopes=["read", "write"]
        )
    # then
    assert field_errors(caught) == {"scopes": services.SCOPE_BEYOND_OWN.format(scope="read")}
    assert not ApiKey.objects.filter(name="wider").exists()


def test_api_key_create_refuses_an_expiry_without_time_zone():
    # given a naive time (ambiguous: whose midnight?)
    org = make_client()
    naive = (timezone.now() + timedelta(days=30)).replace(tzinfo=None)
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.api_key_create(
            actor=None, organisation=org, name="n", scopes=["read"], expires_at=naive
        )
    # then
    assert field_errors(caught) == {"expires_at": services.EXPIRY_NAIVE}
