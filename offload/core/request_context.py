"""Who and where a request came from, for the audit trail.

Middleware sets it per request; services read it without having the request
passed down through every call.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None


_EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "offload_request_context",
    default=_EMPTY,
)


def current() -> RequestContext:
    return _current.get()


def begin(*, ip: str | None, request_id: str | None = None) -> contextvars.Token[RequestContext]:
    return _current.set(RequestContext(request_id=request_id or uuid.uuid4().hex, ip=ip))


def end(token: contextvars.Token[RequestContext]) -> None:
    _current.reset(token)
