"""Shared API schema pieces: strict inputs, paged lists and references."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from django.db.models import Model, QuerySet
from ninja import Schema
from pydantic import ConfigDict, ValidationInfo, field_validator

from offload.core import errors

T = TypeVar("T")
M = TypeVar("M", bound=Model)

NOT_FOUND_REF = "no such {what} (or not visible to you)"


class StrictIn(Schema):
    """Request bodies refuse unknown fields, so a typo is a 422 naming it."""

    model_config = ConfigDict(extra="forbid")


NOT_NULLABLE = "may not be null; leave the field out to keep its value"


class PatchIn(StrictIn):
    """A partial update: a field left out keeps its value. An explicit null is refused
    by name, except for the fields in NULLABLE, where null means "clear it"."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError(NOT_NULLABLE)
        return value


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None


def resolve(queryset: QuerySet[M], *, field: str, pk: int) -> M:
    """A referenced object from an already-scoped queryset, or a 422 naming the field."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        what = queryset.model._meta.verbose_name
        raise errors.ValidationFailed.single(field, NOT_FOUND_REF.format(what=what))
    return obj
