"""Domain errors that every interface turns into RFC 9457 problem details.

Services raise these; the API renders them as problem+json and pages as form or
message errors. Nothing here knows about HTTP frameworks beyond the status code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class OffloadError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str = "", **extra: object) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(OffloadError):
    status = 404
    title = "Not found"
    slug = "not-found"


class PermissionDenied(OffloadError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class NotAuthenticated(OffloadError):
    status = 401
    title = "Not authenticated"
    slug = "not-authenticated"


class Conflict(OffloadError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class MethodNotAllowed(OffloadError):
    status = 405
    title = "Method not allowed"
    slug = "method-not-allowed"


class PayloadTooLarge(OffloadError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class ValidationFailed(OffloadError):
    status = 422
    title = "Validation failed"
    slug = "validation-failed"

    def __init__(self, errors: Iterable[FieldError], detail: str = "") -> None:
        self.errors = list(errors)
        summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(detail or summary or self.title)

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])

    @classmethod
    def from_mapping(cls, errors: Mapping[str, Iterable[str]]) -> ValidationFailed:
        return cls([FieldError(f, m) for f, msgs in errors.items() for m in msgs])


def form_errors(exc: OffloadError) -> dict[str, str]:
    """A page form's errors: the first message per field of a ValidationFailed, or
    the whole error's detail under "form" (a refusal that names no field)."""
    if isinstance(exc, ValidationFailed):
        out: dict[str, str] = {}
        for e in exc.errors:
            out.setdefault(e.field, e.message)
        return out
    return {"form": exc.detail}


def raise_failures(problems: Iterable[tuple[str, str | None]]) -> None:
    """Raise one ValidationFailed listing every (field, message) whose message is set."""
    failures = [FieldError(field, message) for field, message in problems if message]
    if failures:
        raise ValidationFailed(failures)


PROBLEM_TYPE_BASE = "https://offload.dev/problems/"


def problem_body(error: OffloadError, instance: str = "") -> dict[str, object]:
    body: dict[str, object] = {
        "type": PROBLEM_TYPE_BASE + error.slug,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if instance:
        body["instance"] = instance
    if isinstance(error, ValidationFailed):
        body["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
    body.update(error.extra)
    return body
