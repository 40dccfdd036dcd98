from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from offload.core import errors, request_context

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id is kept only when it is short and plain, since it is stored
# in the audit trail and echoed back; anything else gets a fresh id.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        if not _SAFE_REQUEST_ID.fullmatch(incoming):
            incoming = ""
        token = request_context.begin(
            ip=request.META.get("REMOTE_ADDR"), request_id=incoming or None
        )
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_context.current().request_id
            return response
        finally:
            request_context.end(token)


BODY_TOO_LARGE = "request body is {size} bytes; the limit is {limit} bytes"


class BodySizeLimitMiddleware:
    """Refuse oversized bodies before any view reads them, as problem+json 413."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit: int = settings.OFFLOAD_MAX_BODY_BYTES
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size > limit:
            message = BODY_TOO_LARGE.format(size=size, limit=limit)
            error = errors.PayloadTooLarge(message, errors=[{"field": "body", "message": message}])
            return JsonResponse(
                errors.problem_body(error, instance=request.path),
                status=error.status,
                content_type="application/problem+json",
            )
        return self.get_response(request)


METHOD_NOT_ALLOWED = "{method} is not allowed here; allowed: {allowed}"
API_PREFIX = "/api/"


class ApiMethodNotAllowedMiddleware:
    """The router answers a wrong method with a bare 405; API callers get problem+json."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or not request.path.startswith(API_PREFIX):
            return response
        allowed = response.get("Allow", "")
        error = errors.MethodNotAllowed(
            METHOD_NOT_ALLOWED.format(method=request.method, allowed=allowed or "none")
        )
        problem = JsonResponse(
            errors.problem_body(error, instance=request.path),
            status=405,
            content_type="application/problem+json",
        )
        if allowed:
            problem["Allow"] = allowed
        return problem
