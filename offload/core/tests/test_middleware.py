import re

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from offload.core import errors, middleware, request_context


def test_body_over_the_limit_is_refused_as_problem_json_naming_the_sizes(settings):
    # given a limit of 10 bytes
    settings.OFFLOAD_MAX_BODY_BYTES = 10
    # when an 11-byte body arrives
    response = Client().post(
        "/api/v1/organisations", data="x" * 11, content_type="application/json"
    )
    # then: refused before any view (no authentication, no database) ran
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body == {
        "type": errors.PROBLEM_TYPE_BASE + "payload-too-large",
        "title": "Payload too large",
        "status": 413,
        "detail": middleware.BODY_TOO_LARGE.format(size=11, limit=10),
        "instance": "/api/v1/organisations",
        "errors": [
            {"field": "body", "message": middleware.BODY_TOO_LARGE.format(size=11, limit=10)}
        ],
    }
    assert "11 bytes" in body["detail"]
    assert "10 bytes" in body["detail"]


def test_body_at_the_limit_passes_through(settings):
    # given
    settings.OFFLOAD_MAX_BODY_BYTES = 10
    seen: list[bytes] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.body)
        return HttpResponse("ok")

    request = RequestFactory().post("/x", data="x" * 10, content_type="text/plain")
    # when
    response = middleware.BodySizeLimitMiddleware(view)(request)
    # then
    assert response.status_code == 200
    assert seen == [b"x" * 10]


def test_request_context_carries_ip_and_generated_request_id_then_resets():
    # given
    captured: list[request_context.RequestContext] = []

    def view(request: HttpRequest) -> HttpResponse:
        captured.append(request_context.current())
        return HttpResponse("ok")

    request = RequestFactory().get("/x", REMOTE_ADDR="203.0.113.7")
    # when
    response = middleware.RequestContextMiddleware(view)(request)
    # then
    (ctx,) = captured
    assert ctx.ip == "203.0.113.7"
    assert re.fullmatch(r"[0-9a-f]{32}", ctx.request_id)
    assert response[middleware.REQUEST_ID_HEADER] == ctx.request_id
    assert request_context.current() == request_context.RequestContext()


def test_request_context_keeps_a_caller_supplied_request_id():
    # given
    captured: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        captured.append(request_context.current().request_id)
        return HttpResponse("ok")

    request = RequestFactory().get("/x", headers={"X-Request-ID": "trace-abc.123"})
    # when
    response = middleware.RequestContextMiddleware(view)(request)
    # then
    assert captured == ["trace-abc.123"]
    assert response[middleware.REQUEST_ID_HEADER] == "trace-abc.123"


@pytest.mark.parametrize("supplied", ["x" * 65, "has space", "semi;colon", "é-accent"])
def test_request_context_replaces_an_unsafe_request_id(supplied):
    # given a request id that is too long or carries characters unsafe to log and echo
    captured: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        captured.append(request_context.current().request_id)
        return HttpResponse("ok")

    request = RequestFactory().get("/x", HTTP_X_REQUEST_ID=supplied)
    # when
    middleware.RequestContextMiddleware(view)(request)
    # then: a fresh id is generated instead of storing the untrusted value
    assert re.fullmatch(r"[0-9a-f]{32}", captured[0])


@pytest.mark.django_db
def test_a_wrong_method_on_an_api_route_is_a_problem_naming_the_allowed_ones(client):
    # given: /api/v1/engagements takes GET and POST only
    # when
    response = client.put("/api/v1/engagements", data="{}", content_type="application/json")
    # then
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/method-not-allowed")
    assert "PUT is not allowed" in body["detail"]
    assert "GET" in response["Allow"]
    assert "POST" in response["Allow"]
