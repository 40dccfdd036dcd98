"""The one NinjaAPI: authentication, problem+json errors and every app's router."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.utils import check_csrf

from offload.contracts.api import router as contracts_router
from offload.core import errors
from offload.tenancy import services as tenancy_services
from offload.tenancy import visibility
from offload.tenancy.api import router as tenancy_router

PROBLEM = "application/problem+json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NO_MEMBERSHIP = "this user belongs to no organisation"


def authenticate(request: HttpRequest) -> visibility.Principal | None:
    """Bearer API key, or the signed-in session (with CSRF on writes)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        key = tenancy_services.api_key_authenticate(header.removeprefix("Bearer ").strip())
        return visibility.principal_for_api_key(key) if key is not None else None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if request.method not in SAFE_METHODS and check_csrf(request) is not None:
        raise errors.PermissionDenied("CSRF check failed; send the csrftoken cookie's value")
    principal = visibility.principal_for_user(user)
    if principal is None:
        raise errors.PermissionDenied(NO_MEMBERSHIP)
    return principal


api = NinjaAPI(
    title="Offload API",
    version="1",
    description="Contracts, catalog and operations of business process outsourcing.",
    urls_namespace="api",
    auth=authenticate,
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def problem(request: HttpRequest, error: errors.OffloadError) -> HttpResponse:
    return JsonResponse(
        errors.problem_body(error, instance=request.path), status=error.status, content_type=PROBLEM
    )


@api.exception_handler(errors.OffloadError)
def on_offload_error(request: HttpRequest, exc: errors.OffloadError) -> HttpResponse:
    return problem(request, exc)


def _field_of(loc: list[Any]) -> str:
    # ninja prefixes locations with where the value came from (body, query, path, form).
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "form", "file", "header", "cookie"}:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = [
        errors.FieldError(_field_of(list(e.get("loc", []))), str(e.get("msg", "is invalid")))
        for e in exc.errors
    ]
    return problem(request, errors.ValidationFailed(fields))


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        request,
        errors.NotAuthenticated("send 'Authorization: Bearer <API key>' or sign in"),
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, json.JSONDecodeError | UnicodeDecodeError):
        error: errors.OffloadError = errors.ValidationFailed.single(
            "body", f"malformed JSON: {cause}"
        )
        error.status = 400
        return problem(request, error)
    generic = errors.OffloadError(str(exc))
    generic.status = exc.status_code
    return problem(request, generic)


@api.exception_handler(Http404)
def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, errors.NotFound(str(exc) or "not found"))


api.add_router("/", tenancy_router)
api.add_router("/", contracts_router)
