"""The one NinjaAPI: authentication, problem+json errors and every app's router."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.utils import check_csrf

from offload.contracts.api import router as contracts_router
from offload.core import errors
from offload.tenancy import bearer, visibility
from offload.tenancy.api import router as tenancy_router
from offload.tenancy.notifications_api import router as notifications_router
from offload.twin.api import router as twin_router
from offload.work.actions_api import router as work_actions_router
from offload.work.api import router as work_router
from offload.work.attachments_api import router as attachments_router
from offload.work.attainment_api import router as attainment_router
from offload.work.bots_api import router as bots_router
from offload.work.escalations_api import router as escalations_router
from offload.work.import_api import router as work_import_router
from offload.work.mailboxes_api import router as mailboxes_router
from offload.work.queues_api import router as queues_router
from offload.work.routing_api import router as routing_router
from offload.work.webhooks_api import router as webhooks_router
from offload.workers.api import router as workers_router
from offload.workforce.forecasts_api import router as forecasts_router
from offload.workforce.schedules_api import router as schedules_router
from offload.workforce.staffing_api import router as staffing_router

PROBLEM = "application/problem+json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NO_MEMBERSHIP = "this user belongs to no organisation"


def authenticate(request: HttpRequest) -> visibility.Principal | None:
    """Bearer API key, or the signed-in session (with CSRF on writes)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        return bearer.principal_for_secret(credentials.strip())
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


class MalformedBody(errors.ValidationFailed):
    """A body that cannot be read at all: not JSON, or a form that cannot be split."""

    status = 400
    title = "Malformed request body"
    slug = "malformed-body"


def http_problem(status: int, detail: str) -> errors.OffloadError:
    """A problem for a status no domain error names (ninja's own HttpErrors)."""
    error = errors.OffloadError(detail)
    error.status = status
    error.title = HTTPStatus(status).phrase
    error.slug = error.title.lower().replace(" ", "-")
    return error


@api.exception_handler(errors.OffloadError)
def on_offload_error(request: HttpRequest, exc: errors.OffloadError) -> HttpResponse:
    return problem(request, exc)


# ------------------------------------------------------------------ validation errors

SOURCES = frozenset({"body", "query", "path", "form", "file", "header", "cookie"})
BODY_REQUIRED = "a JSON object is required"
BODY_NOT_OBJECT = "must be a JSON object"
NOT_AN_OBJECT = frozenset({"model_attributes_type", "model_type", "dict_type"})
UNKNOWN_FIELD = "is not a field of this request"


def field_of(loc: list[Any] | tuple[Any, ...]) -> str:
    """The field a pydantic error location names, as the API documents it:
    `targets[0].unit`, `spec.hours.mon[0][0]`; the body itself is `body`.

    ninja prefixes a location with where the value came from, and a JSON body's
    fields with the name of the view's body parameter (`payload`); neither is a field.
    """
    parts = list(loc)
    if parts and parts[0] in SOURCES:
        source, parts = parts[0], parts[1:]
        if source == "body":
            parts = parts[1:]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part != "[key]":  # pydantic's marker for an invalid dict key
            name += f".{part}" if name else str(part)
    return name or "body"


def _message(error: dict[str, Any], field: str) -> str:
    if field == "body" and error.get("type") == "missing":
        return BODY_REQUIRED
    if field == "body" and error.get("type") in NOT_AN_OBJECT:
        return BODY_NOT_OBJECT
    if error.get("type") == "extra_forbidden":
        return UNKNOWN_FIELD
    return str(error.get("msg") or "is invalid")


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = []
    for e in exc.errors:
        field = field_of(e.get("loc", ()))
        fields.append(errors.FieldError(field, _message(e, field)))
    return problem(request, errors.ValidationFailed(fields))


# ------------------------------------------------------------------ unreadable requests

CANNOT_PARSE = "Cannot parse request body"  # the start of ninja's HttpError detail


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        request,
        errors.NotAuthenticated("send 'Authorization: Bearer <API key>' or sign in"),
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and str(exc).startswith(CANNOT_PARSE):
        cause = exc.__cause__
        reason = f": {cause}" if isinstance(cause, ValueError) else ""
        return problem(request, MalformedBody.single("body", f"malformed JSON{reason}"))
    return problem(request, http_problem(exc.status_code, str(exc)))


@api.exception_handler(MultiPartParserError)
def on_bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return problem(request, MalformedBody.single("body", f"malformed multipart form: {exc}"))


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem(request, errors.PayloadTooLarge(str(exc)))


@api.exception_handler(SuspiciousOperation)
def on_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    # Too many fields or files, a bad file name: Django's own 400s, as problems.
    return problem(request, http_problem(400, str(exc) or "the request was refused"))


@api.exception_handler(Http404)
def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, errors.NotFound(str(exc) or "not found"))


# ------------------------------------------------------------------ forms

Run = Callable[..., HttpResponse]


def refuse_unknown_form_fields(run: Run) -> Run:
    """Make a form or multipart operation refuse fields it does not declare.

    A JSON body refuses unknown fields through its schema (`StrictIn`), but ninja
    drops unknown form fields silently, so a misspelt form field would be lost
    without a word. Registered in "view" mode only to reach the operation (the bound
    `run`) and its form and file models; the check wraps the view function, so it
    runs after authentication and validation, and its 422 goes through the handlers.
    """
    operation = getattr(run, "__self__", None)
    models = [
        m for m in getattr(operation, "models", []) if m.__ninja_param_source__ in {"form", "file"}
    ]
    if operation is None or not models:
        return run
    expected: set[str] = set()
    for model in models:
        expected |= set(getattr(model, "__ninja_flatten_map__", None) or model.model_fields)
    view = operation.view_func

    @functools.wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        unknown = sorted((set(request.POST) | set(request.FILES)) - expected)
        if unknown:
            raise errors.ValidationFailed([errors.FieldError(f, UNKNOWN_FIELD) for f in unknown])
        return view(request, *args, **kwargs)

    operation.view_func = checked
    return run


api.add_decorator(refuse_unknown_form_fields, mode="view")


api.add_router("/", tenancy_router)
api.add_router("/", notifications_router)
api.add_router("/", contracts_router)
api.add_router("/", work_import_router)
api.add_router("/", work_router)
api.add_router("/", work_actions_router)
api.add_router("/", attachments_router)
api.add_router("/", bots_router)
api.add_router("/", queues_router)
api.add_router("/", routing_router)
api.add_router("/", webhooks_router)
api.add_router("/", workers_router)
api.add_router("/", mailboxes_router)
api.add_router("/", attainment_router)
api.add_router("/", escalations_router)
api.add_router("/", staffing_router)
api.add_router("/", forecasts_router)
api.add_router("/", schedules_router)
api.add_router("/", twin_router)


# ------------------------------------------------------------------ unknown paths

# Added last, so its catch-all pattern comes after every real route: a path under
# /api/v1/ that names no endpoint is a problem+json 404 like any other.
fallback = Router(auth=None)
NO_SUCH_ENDPOINT = "no endpoint at {path}; see /api/v1/docs"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@fallback.api_operation(ALL_METHODS, "/{path:rest}", include_in_schema=False)
def endpoint_not_found(request: HttpRequest, rest: str) -> HttpResponse:
    return problem(request, errors.NotFound(NO_SUCH_ENDPOINT.format(path=request.path)))


api.add_router("/", fallback)
