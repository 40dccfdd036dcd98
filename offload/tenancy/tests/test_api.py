from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from offload.contracts.tests.factories import make_engagement
from offload.core import pagination
from offload.tenancy import services
from offload.tenancy.models import ApiKey, AuditEvent, Membership, Organisation, Site, User
from offload.tenancy.tests.factories import (
    api_client,
    key_for,
    make_api_key,
    make_client,
    make_provider,
    make_site,
    make_user,
)

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
JSON = "application/json"
LIST_ENDPOINTS = [
    "/api/v1/organisations",
    "/api/v1/sites",
    "/api/v1/users",
    "/api/v1/api-keys",
    "/api/v1/audit-events",
]
SITE = {
    "name": "Manila",
    "country": "PH",
    "timezone": "Asia/Manila",
    "languages": ["en", "tl"],
    "hourly_cost": "9.75",
}


def walk(client: Client, url: str, limit: int = 2) -> tuple[list[int], int]:
    """Every id of a list, page by page, and how many pages it took."""
    ids: list[int] = []
    cursor, pages = None, 0
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        body = response.json()
        ids.extend(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


def assert_problem(response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    return body


def error_fields(response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


# ------------------------------------------------------------------ lists


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_lists_answer_items_and_next_cursor(url):
    # given
    provider = make_provider()
    make_site(provider)
    client = api_client(key_for(provider, "admin"))
    # when
    response = client.get(url)
    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "next_cursor"}
    assert body["items"]
    assert all("id" in item for item in body["items"])
    assert body["next_cursor"] is None


ROW_BUILDERS: dict[str, Callable[[Organisation], object]] = {
    # Each call adds one row to the list (and, for sites and keys, one audit event).
    "/api/v1/organisations": lambda provider: make_engagement(make_client(), provider),
    "/api/v1/sites": make_site,
    "/api/v1/users": lambda provider: make_user(provider, "agent"),
    "/api/v1/api-keys": make_api_key,
    "/api/v1/audit-events": make_site,
}


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_cursor_pagination_walks_every_row_once(url):
    # given more rows than a page
    provider = make_provider()
    for _ in range(6):
        ROW_BUILDERS[url](provider)
    client = api_client(key_for(provider, "admin"))
    everything = [item["id"] for item in client.get(url, {"limit": 500}).json()["items"]]
    # when
    ids, pages = walk(client, url, limit=2)
    # then: every row once, in order, in ceil(n / 2) pages
    assert len(everything) >= 6
    assert ids == everything
    assert len(set(ids)) == len(ids)
    assert pages == -(-len(ids) // 2)


def test_site_pages_hold_exactly_the_visible_sites():
    # given
    provider = make_provider()
    sites = [make_site(provider) for _ in range(5)]
    make_site(make_provider())
    client = api_client(key_for(provider))
    # when
    ids, pages = walk(client, "/api/v1/sites", limit=2)
    # then
    assert ids == [s.pk for s in sites]
    assert pages == 3


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_a_bad_cursor_is_a_422_naming_cursor(url):
    # given
    client = api_client(key_for(make_provider()))
    # when
    response = client.get(url, {"cursor": "not-a-cursor!"})
    # then
    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "cursor", "message": pagination.BAD_CURSOR}]


def test_a_limit_out_of_range_is_a_422_naming_limit():
    # given
    client = api_client(key_for(make_provider()))
    # when
    response = client.get("/api/v1/sites", {"limit": 0})
    # then
    assert_problem(response, 422)
    assert error_fields(response) == ["limit"]


def test_list_filters_narrow_the_rows():
    # given
    provider = make_provider()
    make_site(provider, country="PH")
    pl = make_site(provider, country="PL", timezone="Europe/Warsaw")
    client_org = make_client()
    make_engagement(client_org, provider)
    agent = make_user(provider, "agent")
    client = api_client(key_for(provider))
    # when
    sites = client.get("/api/v1/sites", {"country": "PL"}).json()["items"]
    clients = client.get("/api/v1/organisations", {"kind": "client"}).json()["items"]
    agents = client.get("/api/v1/users", {"role": "agent"}).json()["items"]
    # then
    assert [s["id"] for s in sites] == [pl.pk]
    assert [o["id"] for o in clients] == [client_org.pk]
    assert [u["id"] for u in agents] == [agent.pk]
    assert agents[0]["roles"] == ["agent"]


# ------------------------------------------------------------------ query counts


def test_user_list_does_not_query_per_user(django_assert_max_num_queries):
    # given many users with several roles each
    provider = make_provider()
    for _ in range(12):
        make_user(provider, "agent", "qa_analyst")
    client = api_client(key_for(provider, "admin"))
    client.get("/api/v1/users")  # first call stamps last_used_at
    # when / then: key, roles, users, their memberships
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/users")
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 13
    assert sum(1 for u in items if u["roles"] == ["agent", "qa_analyst"]) == 12


@pytest.mark.parametrize(
    "url",
    ["/api/v1/organisations", "/api/v1/sites", "/api/v1/api-keys", "/api/v1/audit-events"],
)
def test_other_lists_do_not_query_per_row(url, django_assert_max_num_queries):
    # given many rows of each kind
    provider = make_provider()
    for _ in range(8):
        make_site(provider)
        make_api_key(provider, user=make_user(provider, "agent"))
        make_engagement(make_client(), provider)
    client = api_client(key_for(provider))
    client.get(url)
    # when / then
    with django_assert_max_num_queries(4):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.json()["items"]) >= 8


# ------------------------------------------------------------------ authentication


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_no_credentials_is_a_401_problem(url):
    # given / when
    response = Client().get(url)
    # then
    body = assert_problem(response, 401)
    assert body["type"] == "https://offload.dev/problems/not-authenticated"
    assert body["title"] == "Not authenticated"


@pytest.mark.parametrize("secret", ["wrong", "ofk_00000000_nothing"])
def test_an_unknown_key_is_a_401_problem(secret):
    # given / when
    response = api_client(secret).get("/api/v1/sites")
    # then
    assert_problem(response, 401)


def test_a_revoked_or_expired_key_is_a_401():
    # given
    org = make_client()
    revoked, revoked_secret = make_api_key(org)
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    expiring, expired_secret = make_api_key(org, expires_at=timezone.now() + timedelta(hours=1))
    ApiKey.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # when / then
    assert_problem(api_client(revoked_secret).get("/api/v1/organisations"), 401)
    assert_problem(api_client(expired_secret).get("/api/v1/organisations"), 401)


def test_a_read_only_key_reads_but_cannot_write():
    # given
    provider = make_provider()
    _, secret = make_api_key(provider, scopes=("read",))
    client = api_client(secret)
    # when
    read = client.get("/api/v1/sites")
    write = client.post("/api/v1/sites", SITE, content_type=JSON)
    # then
    assert read.status_code == 200
    body = assert_problem(write, 403)
    assert body["detail"] == "this API key lacks the 'write' scope"
    assert not Site.objects.exists()


def test_a_bots_key_acts_as_the_bot_through_the_api():
    # given
    provider = make_provider()
    bot = make_user(provider, "bot", username="intake-bot")
    _key, secret = make_api_key(provider, user=bot)
    client = api_client(secret)
    # when
    reads = client.get("/api/v1/sites")
    write = client.post("/api/v1/sites", SITE, content_type=JSON)
    # then: it reads as a member, but a bot is no admin
    assert reads.status_code == 200
    assert_problem(write, 403)


def test_session_auth_reads_after_login():
    # given
    provider = make_provider()
    site = make_site(provider)
    client = Client()
    client.force_login(make_user(provider, "agent"))
    # when
    response = client.get("/api/v1/sites")
    # then
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["items"]] == [site.pk]


def test_session_write_without_csrf_token_is_refused():
    # given
    provider = make_provider()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(provider, "admin"))
    # when
    response = client.post("/api/v1/sites", SITE, content_type=JSON)
    # then
    assert_problem(response, 403)
    assert "CSRF" in response.json()["detail"]
    assert not Site.objects.exists()


def test_session_write_with_csrf_token_is_accepted():
    # given
    provider = make_provider()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(provider, "admin"))
    token = "a" * 32
    client.cookies["csrftoken"] = token
    # when
    response = client.post("/api/v1/sites", SITE, content_type=JSON, headers={"X-CSRFToken": token})
    # then
    assert response.status_code == 201
    assert Site.objects.filter(provider=provider).count() == 1


def test_a_signed_in_user_without_organisation_is_refused():
    # given
    client = Client()
    client.force_login(User.objects.create(username="loner"))
    # when
    response = client.get("/api/v1/sites")
    # then
    assert_problem(response, 403)


# ------------------------------------------------------------------ organisations


def test_organisation_create_onboards_a_client():
    # given
    provider = make_provider()
    client = api_client(key_for(provider, "admin"))
    payload = {
        "name": "Globex Insurance",
        "country": "GB",
        "timezone": "Europe/London",
        "currency": "GBP",
    }
    # when
    response = client.post("/api/v1/organisations", payload, content_type=JSON)
    # then
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["slug"], body["currency"]) == ("client", "globex-insurance", "GBP")
    org = Organisation.objects.get(pk=body["id"])
    assert org.onboarded_by == provider
    listed = client.get("/api/v1/organisations").json()["items"]
    assert body["id"] in [o["id"] for o in listed]


def test_organisation_create_names_each_bad_field():
    # given
    client = api_client(key_for(make_provider(), "admin"))
    payload = {"name": "X", "country": "XX", "timezone": "Nowhere/Land", "currency": "ABC"}
    # when
    response = client.post("/api/v1/organisations", payload, content_type=JSON)
    # then
    assert_problem(response, 422)
    assert sorted(error_fields(response)) == ["country", "currency", "timezone"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {"name": "X", "country": "US", "timezone": "UTC", "currency": "USD", "colour": 1},
            "colour",
        ),
        (
            {
                "name": "X",
                "country": "US",
                "timezone": "UTC",
                "currency": "USD",
                "kind": "provider",
            },
            "kind",
        ),
        ({"name": "X", "country": "USA", "timezone": "UTC", "currency": "USD"}, "country"),
        ({"name": "X", "country": "US", "timezone": "UTC"}, "currency"),
        (
            {
                "name": "X",
                "slug": "Not A Slug",
                "country": "US",
                "timezone": "UTC",
                "currency": "USD",
            },
            "slug",
        ),
    ],
)
def test_organisation_create_refuses_malformed_bodies_naming_the_field(payload, field):
    # given
    client = api_client(key_for(make_provider(), "admin"))
    before = Organisation.objects.count()
    # when
    response = client.post("/api/v1/organisations", payload, content_type=JSON)
    # then
    assert_problem(response, 422)
    assert field in error_fields(response)
    assert Organisation.objects.count() == before


def test_malformed_json_is_a_400_naming_the_body():
    # given
    client = api_client(key_for(make_provider(), "admin"))
    # when
    response = client.post("/api/v1/sites", "{not json", content_type=JSON)
    # then
    assert_problem(response, 400)
    assert error_fields(response) == ["body"]
    assert not Site.objects.exists()


def test_organisation_patch_updates_and_audits():
    # given
    org = make_client()
    client = api_client(key_for(org))
    # when
    response = client.patch(
        f"/api/v1/organisations/{org.pk}", {"timezone": "America/Chicago"}, content_type=JSON
    )
    # then
    assert response.status_code == 200
    assert response.json()["timezone"] == "America/Chicago"
    event = AuditEvent.objects.filter(organisation=org).latest("seq")
    assert event.changes == {"timezone": ["America/New_York", "America/Chicago"]}


def test_another_clients_organisation_is_a_404():
    # given
    acme, globex = make_client(), make_client()
    client = api_client(key_for(acme))
    # when
    got = client.get(f"/api/v1/organisations/{globex.pk}")
    patched = client.patch(
        f"/api/v1/organisations/{globex.pk}", {"name": "Pwned"}, content_type=JSON
    )
    # then
    assert_problem(got, 404)
    assert_problem(patched, 404)
    globex.refresh_from_db()
    assert globex.name != "Pwned"


# ------------------------------------------------------------------ sites


def test_site_create_patch_delete():
    # given
    provider = make_provider()
    client = api_client(key_for(provider, "admin"))
    # when
    created = client.post("/api/v1/sites", SITE, content_type=JSON)
    site_id = created.json()["id"]
    patched = client.patch(f"/api/v1/sites/{site_id}", {"hourly_cost": "10.25"}, content_type=JSON)
    fetched = client.get(f"/api/v1/sites/{site_id}")
    deleted = client.delete(f"/api/v1/sites/{site_id}")
    gone = client.get(f"/api/v1/sites/{site_id}")
    # then
    assert created.status_code == 201
    assert created.json()["provider_id"] == provider.pk
    assert created.json()["slug"] == "manila"
    assert patched.status_code == 200
    assert fetched.json()["hourly_cost"] == "10.25"
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(gone, 404)
    actions = list(
        AuditEvent.objects.filter(organisation=provider, object_type="tenancy.site")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["site.create", "site.update", "site.delete"]


def test_team_lead_cannot_create_a_site():
    # given
    client = api_client(key_for(make_provider(), "team_lead"))
    # when
    response = client.post("/api/v1/sites", SITE, content_type=JSON)
    # then
    body = assert_problem(response, 403)
    assert body["type"] == "https://offload.dev/problems/forbidden"
    assert not Site.objects.exists()


def test_a_client_sees_but_cannot_edit_its_providers_site():
    # given
    provider, client_org = make_provider(), make_client()
    make_engagement(client_org, provider)
    site = make_site(provider)
    client = api_client(key_for(client_org))
    # when
    seen = client.get(f"/api/v1/sites/{site.pk}")
    edited = client.patch(f"/api/v1/sites/{site.pk}", {"name": "Ours"}, content_type=JSON)
    # then
    assert seen.status_code == 200
    assert_problem(edited, 403)


def test_negative_cost_is_a_422_naming_hourly_cost():
    # given
    client = api_client(key_for(make_provider(), "admin"))
    # when
    response = client.post("/api/v1/sites", {**SITE, "hourly_cost": "-1"}, content_type=JSON)
    # then
    assert_problem(response, 422)
    assert error_fields(response) == ["hourly_cost"]


# ------------------------------------------------------------------ users


def test_user_create_patch_remove():
    # given
    provider = make_provider()
    client = api_client(key_for(provider, "admin"))
    # when
    created = client.post(
        "/api/v1/users",
        {"username": "ana", "roles": ["agent"], "password": "long enough pw"},
        content_type=JSON,
    )
    user_id = created.json()["id"]
    patched = client.patch(
        f"/api/v1/users/{user_id}", {"roles": ["agent", "team_lead"]}, content_type=JSON
    )
    removed = client.delete(f"/api/v1/users/{user_id}")
    # then
    assert created.status_code == 201
    assert created.json()["roles"] == ["agent"]
    assert "password" not in created.json()
    assert patched.status_code == 200
    assert patched.json()["roles"] == ["agent", "team_lead"]
    assert removed.status_code == 204
    assert not User.objects.get(pk=user_id).is_active
    assert_problem(client.get(f"/api/v1/users/{user_id}"), 404)


def test_a_client_admin_cannot_grant_provider_roles():
    # given
    client = api_client(key_for(make_client()))
    # when
    response = client.post(
        "/api/v1/users", {"username": "mallory", "roles": ["admin"]}, content_type=JSON
    )
    # then
    assert_problem(response, 422)
    assert error_fields(response) == ["roles"]
    assert not User.objects.filter(username="mallory").exists()


def test_an_unknown_role_is_a_422_naming_roles():
    # given
    client = api_client(key_for(make_provider()))
    # when
    response = client.post(
        "/api/v1/users", {"username": "x", "roles": ["overlord"]}, content_type=JSON
    )
    # then
    assert_problem(response, 422)
    (field,) = error_fields(response)
    assert field.startswith("roles")  # the first item of roles ("roles[0]")


def test_another_organisations_user_is_a_404():
    # given
    client = api_client(key_for(make_client()))
    outsider = make_user(make_client())
    # when
    got = client.get(f"/api/v1/users/{outsider.pk}")
    removed = client.delete(f"/api/v1/users/{outsider.pk}")
    # then
    assert_problem(got, 404)
    assert_problem(removed, 404)
    assert Membership.objects.filter(user=outsider).exists()


# ------------------------------------------------------------------ API keys


def test_api_key_create_shows_the_secret_once_and_it_works():
    # given
    org = make_client()
    client = api_client(key_for(org))
    # when
    created = client.post(
        "/api/v1/api-keys", {"name": "reporting", "scopes": ["read"]}, content_type=JSON
    )
    secret = created.json()["secret"]
    listed = client.get("/api/v1/api-keys")
    fetched = client.get(f"/api/v1/api-keys/{created.json()['id']}")
    used = api_client(secret).get("/api/v1/organisations")
    # then
    assert created.status_code == 201
    assert created.json()["scopes"] == ["read"]
    assert secret not in listed.content.decode()
    assert "secret" not in fetched.json()
    assert "digest" not in fetched.json()
    assert used.status_code == 200
    assert [o["id"] for o in used.json()["items"]] == [org.pk]


def test_api_key_acting_as_a_user_of_another_organisation_is_a_422():
    # given
    client = api_client(key_for(make_client()))
    outsider = make_user(make_client())
    # when
    response = client.post(
        "/api/v1/api-keys",
        {"name": "x", "scopes": ["read"], "user_id": outsider.pk},
        content_type=JSON,
    )
    # then
    assert_problem(response, 422)
    assert error_fields(response) == ["user_id"]


def test_api_key_revoke_answers_the_revoked_key_and_the_secret_stops_working():
    # given
    org = make_client()
    client = api_client(key_for(org))
    key, secret = make_api_key(org)
    # when
    response = client.delete(f"/api/v1/api-keys/{key.pk}")
    # then
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert_problem(api_client(secret).get("/api/v1/organisations"), 401)


def test_another_organisations_key_cannot_be_revoked():
    # given
    client = api_client(key_for(make_client()))
    foreign, secret = make_api_key(make_client())
    # when
    response = client.delete(f"/api/v1/api-keys/{foreign.pk}")
    # then
    assert_problem(response, 404)
    assert services.api_key_authenticate(secret) is not None


# ------------------------------------------------------------------ audit trail


def test_audit_events_list_the_callers_trail_only():
    # given
    acme, globex = make_client(), make_client()
    make_user(acme)
    make_user(globex)
    client = api_client(key_for(acme))
    # when
    response = client.get("/api/v1/audit-events", {"object_type": "tenancy.user"})
    # then
    assert response.status_code == 200
    items = response.json()["items"]
    ids = set(AuditEvent.objects.filter(organisation=acme).values_list("pk", flat=True))
    assert items
    assert {i["id"] for i in items} <= ids
    assert {i["object_type"] for i in items} == {"tenancy.user"}
    assert {i["action"] for i in items} == {"user.create"}


def test_audit_events_need_an_admin():
    # given
    client = api_client(key_for(make_provider(), "agent"))
    # when / then
    assert_problem(client.get("/api/v1/audit-events"), 403)


def test_an_expiry_without_offset_is_a_422_naming_expires_at():
    # given
    client = api_client(key_for(make_client()))
    # when
    response = client.post(
        "/api/v1/api-keys",
        {"name": "n", "scopes": ["read"], "expires_at": "2099-01-01T00:00:00"},
        content_type=JSON,
    )
    # then: no 500 from comparing naive and aware times
    assert_problem(response, 422)
    assert error_fields(response) == ["expires_at"]
    assert not ApiKey.objects.filter(name="n").exists()


def test_an_unknown_kind_filter_is_a_422_naming_kind():
    # given
    client = api_client(key_for(make_provider()))
    # when
    response = client.get("/api/v1/organisations", {"kind": "alien"})
    # then
    assert_problem(response, 422)
    assert error_fields(response) == ["kind"]
