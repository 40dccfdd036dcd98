"""Base models shared by every app, and how the hottest paths build instances. No
business models live here."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, models
from django.db.models.base import ModelState

M = TypeVar("M", bound=models.Model)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def loaded_instance(
    model: type[M], attributes: Mapping[str, Any], *, related: Mapping[str, Any] | None = None
) -> M:
    """An instance of `model` as Model.from_db makes one of a row of the default
    database, from every one of its fields' attributes (and `related`, its cache of
    related rows), without from_db's per-field `setattr` and `post_init` signal.
    For the hottest paths (the pull -> complete cycle's items and lease, a kept
    bearer principal's rows), where those were a fifth of the Python; only for
    models with neither a custom __init__ nor post_init receivers."""
    assert attributes.keys() >= _attnames(model), "a field is missing: it would load lazily"
    instance = model.__new__(model)
    instance.__dict__.update(attributes)
    instance._state = ModelState()
    instance._state.adding, instance._state.db = False, DEFAULT_DB_ALIAS
    if related:
        instance._state.fields_cache = dict(related)
    return instance


@functools.cache
def _attnames(model: type[models.Model]) -> frozenset[str]:
    return frozenset(field.attname for field in model._meta.concrete_fields)
