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
            error = errors.PayloadTooLarge(BODY_TOO_LARGE.format(size=size, limit=limit))
            return JsonResponse(
                errors.problem_body(error, instance=request.path),
                status=error.status,
                content_type="application/problem+json",
            )
        return self.get_response(request)
