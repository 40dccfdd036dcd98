import pytest
from django.test import Client

from offload.tenancy import audit
from offload.tenancy.models import AuditEvent, Membership, User
from offload.tenancy.tests.factories import make_api_key, make_client, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    return client


def test_revoking_a_key_in_the_admin_is_audited(admin_site_client):
    # given
    org = make_client()
    key, _ = make_api_key(org, scopes=("read", "write"))
    form = {
        "organisation": org.pk,
        "user": "",
        "name": key.name,
        "scopes": '["read", "write"]',
        "expires_at_0": "",
        "expires_at_1": "",
        "revoked_at_0": "2025-01-02",
        "revoked_at_1": "03:04:05",
    }
    # when
    response = admin_site_client.post(f"/admin/tenancy/apikey/{key.pk}/change/", form)
    # then
    assert response.status_code == 302, response.content
    key.refresh_from_db()
    assert key.revoked_at is not None
    event = AuditEvent.objects.filter(organisation=org).latest("seq")
    assert (event.action, event.object_id, event.actor_label) == (
        "admin.apikey.update",
        str(key.pk),
        "root",
    )
    assert list(event.changes) == ["revoked_at"]
    assert event.changes["revoked_at"][0] is None
    assert audit.verify() == []


def test_granting_a_role_in_the_admin_is_audited(admin_site_client):
    # given a client user with one role
    org = make_client()
    user = make_user(org, "client_viewer", username="vera")
    membership = Membership.objects.get(user=user)
    form = {
        "username": "vera",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
        "last_login_0": "",
        "last_login_1": "",
        "memberships-TOTAL_FORMS": "2",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": membership.pk,
        "memberships-0-user": user.pk,
        "memberships-0-organisation": org.pk,
        "memberships-0-role": "client_viewer",
        "memberships-1-id": "",
        "memberships-1-user": user.pk,
        "memberships-1-organisation": org.pk,
        "memberships-1-role": "client_admin",
    }
    # when
    response = admin_site_client.post(f"/admin/tenancy/user/{user.pk}/change/", form)
    # then
    assert response.status_code == 302, response.content
    event = AuditEvent.objects.filter(organisation=org).latest("seq")
    assert (event.action, event.object_id, event.actor_label) == (
        "admin.user.roles",
        str(user.pk),
        "root",
    )
    assert event.changes == {"roles": [["client_viewer"], ["client_admin", "client_viewer"]]}
    assert audit.verify() == []


def test_deactivating_a_user_in_the_admin_is_audited_in_their_organisation(admin_site_client):
    # given an active client user
    org = make_client()
    user = make_user(org, "client_viewer", username="walt")
    membership = Membership.objects.get(user=user)
    form = {
        "username": "walt",
        "first_name": "",
        "last_name": "",
        "email": "walt@example.com",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
        "last_login_0": "",
        "last_login_1": "",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": membership.pk,
        "memberships-0-user": user.pk,
        "memberships-0-organisation": org.pk,
        "memberships-0-role": "client_viewer",
    }
    # when: the form leaves is_active unticked and sets an email
    response = admin_site_client.post(f"/admin/tenancy/user/{user.pk}/change/", form)
    # then
    assert response.status_code == 302, response.content
    event = AuditEvent.objects.filter(organisation=org).latest("seq")
    assert (event.action, event.actor_label) == ("admin.user.update", "root")
    assert event.changes["is_active"] == [True, False]
    assert event.changes["email"] == ["", "walt@example.com"]
    assert audit.verify() == []
