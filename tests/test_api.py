"""config/api.py: authentication on every route and every failure as problem+json."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from config import api as api_module
from offload.tenancy.tests.factories import api_client, key_for, make_provider, make_user
from tests import routes
from tests.factories import placeholder_refs

if TYPE_CHECKING:
    from tests.routes import Response

PROBLEM = routes.PROBLEM
ROUTES = routes.api_routes()
# Routes anyone may call without credentials, each with its reason. None yet.
PUBLIC: frozenset[tuple[str, str]] = frozenset()
ONES = placeholder_refs()


def problem_of(response: Response) -> dict[str, Any]:
    assert response["Content-Type"] == PROBLEM, response.content
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == response.status_code
    return body


# ------------------------------------------------------------------ field names


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (("body", "payload", "name"), "name"),
        (("body", "payload", "targets", 0, "unit"), "targets[0].unit"),
        (("body", "payload", "spec", "hours", "mon", 0, 0), "spec.hours.mon[0][0]"),
        (("body", "payload", "required_skills", "Chat!", "[key]"), "required_skills.Chat!"),
        (("body", "payload"), "body"),
        (("body", "data", "name"), "name"),
        (("form", "engagement_id"), "engagement_id"),
        (("file", "file"), "file"),
        (("query", "limit"), "limit"),
        (("path", "engagement_id"), "engagement_id"),
        ((), "body"),
    ],
)
def test_field_of_names_fields_as_the_api_documents(loc, field):
    assert api_module.field_of(loc) == field


def test_http_problem_takes_its_title_from_the_status():
    # when
    error = api_module.http_problem(405, "use POST")
    # then
    assert (error.status, error.title, error.slug, error.detail) == (
        405,
        "Method Not Allowed",
        "method-not-allowed",
        "use POST",
    )


# ------------------------------------------------------------------ every route


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if r.key not in PUBLIC], ids=str)
def test_every_route_requires_credentials(route: routes.Route):
    """Also proves each route is reachable at its own path: a route shadowed by
    another pattern (as /documents/upload once was by /documents/{document_id})
    answers 405 or 404 here instead."""
    # when
    response = Client().generic(route.method, route.url(ONES))
    # then
    assert response.status_code == 401, (route, response.content)
    assert problem_of(response)["title"] == "Not authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/api/v1/engagements/1/nothing", "/api/v1/documents/abc"]
)
def test_a_path_without_an_endpoint_is_a_problem_404(method: str, path: str):
    # when
    response = Client().generic(method, path)
    # then
    assert response.status_code == 404
    body = problem_of(response)
    assert body["detail"] == api_module.NO_SUCH_ENDPOINT.format(path=path)
    assert body["instance"] == path


@pytest.mark.django_db
def test_an_id_beyond_any_column_is_a_404():
    # given
    client = api_client(key_for(make_provider(), "admin"))
    # when
    response = client.get(f"/api/v1/engagements/{2**64}")
    # then
    assert response.status_code == 404
    assert problem_of(response)["title"] == "Not found"


# ------------------------------------------------------------------ unreadable bodies


@pytest.fixture
def provider_client(db) -> Client:
    return api_client(key_for(make_provider(), "admin"))


def test_malformed_json_is_its_own_problem_naming_the_body(provider_client: Client):
    # when
    response = provider_client.post("/api/v1/sites", '{"name": ', content_type="application/json")
    # then
    assert response.status_code == 400
    body = problem_of(response)
    assert body["type"].endswith("/malformed-body")
    assert body["title"] == "Malformed request body"
    assert [e["field"] for e in body["errors"]] == ["body"]
    assert body["errors"][0]["message"].startswith("malformed JSON: Expecting value")


def test_json_nested_beyond_the_parsers_depth_is_malformed(provider_client: Client):
    # given: deep enough that the JSON parser gives up with a RecursionError
    deep = "[" * 100_000 + "]" * 100_000
    # when
    response = provider_client.post("/api/v1/sites", deep, content_type="application/json")
    # then
    assert response.status_code == 400
    assert problem_of(response)["errors"] == [{"field": "body", "message": "malformed JSON"}]


def test_a_missing_body_asks_for_a_json_object(provider_client: Client):
    # when
    response = provider_client.post("/api/v1/sites", "", content_type="application/json")
    # then
    assert response.status_code == 422
    assert problem_of(response)["errors"] == [
        {"field": "body", "message": api_module.BODY_REQUIRED}
    ]


def test_an_unknown_field_is_named_with_a_plain_message(provider_client: Client):
    # when
    response = provider_client.patch(
        "/api/v1/sites/1", {"nmae": "Cebu"}, content_type="application/json"
    )
    # then
    assert response.status_code == 422
    assert problem_of(response)["errors"] == [
        {"field": "nmae", "message": api_module.UNKNOWN_FIELD}
    ]


def test_a_body_beyond_djangos_own_limit_is_a_413(provider_client: Client, settings):
    # given: the middleware's limit is higher, so Django's is the one that trips
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64
    # when
    response = provider_client.post(
        "/api/v1/sites", {"name": "x" * 200}, content_type="application/json"
    )
    # then
    assert response.status_code == 413
    assert problem_of(response)["title"] == "Payload too large"


def test_a_form_with_too_many_fields_is_a_400(provider_client: Client, settings):
    # given
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    # when
    response = provider_client.post("/api/v1/documents/upload", {f"f{i}": "x" for i in range(10)})
    # then
    assert response.status_code == 400
    assert problem_of(response)["title"] == "Bad Request"


def test_an_unknown_form_field_is_checked_only_after_authentication():
    # when
    response = Client().post("/api/v1/documents/upload", {"bogus": "1"})
    # then
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_signed_in_user_sending_a_malformed_form_gets_a_400():
    # given: a session, whose CSRF check reads the form before the view does
    provider = make_provider()
    user = make_user(provider, "admin", password="a long password")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.cookies["csrftoken"] = "a" * 32  # with no header, the check reads the form
    # when
    response = client.post(
        "/api/v1/documents/upload", b"--x\r\nbroken", content_type="multipart/form-data"
    )
    # then
    assert response.status_code == 400
    assert [e["field"] for e in problem_of(response)["errors"]] == ["body"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs"])
def test_the_catch_all_leaves_the_documentation_alone(path: str):
    # when
    response = Client().get(path)
    # then
    assert response.status_code == 200
