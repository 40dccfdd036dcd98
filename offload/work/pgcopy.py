"""PostgreSQL `COPY` of new rows: the fast write of bulk intake.

`ids_reserve` takes ids from tables' sequences first (one query), so rows written
by one COPY can be referenced by the next (events name their item, outbox rows their
event); `rows_copy` then streams rows through psycopg 3's `cursor.copy()` on
Django's own connection, inside the caller's transaction.

A row is a mapping of the model's attribute names (`client_id`, not `client`) to
values, such as a model instance's `__dict__`. Every concrete column is written: a
missing attribute takes the value a new model instance would hold (the field's
default, "" for text, NULL where allowed, `now` for `auto_now` fields), so the rows
are the ones `bulk_create` would write. A JSON field's value is dumped here, unless
it is `JsonText` (dumped already).

A database error (a unique violation above all) comes out as Django's own
(`django.db.IntegrityError`), as from any ORM statement.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models
from psycopg import sql

RESERVE = "SELECT {}, nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"
MISSING = "no value for the {model} field '{field}', which has no default"


class JsonText(str):
    """A JSON field's value dumped to text already; written as it is."""


def available() -> bool:
    """True when the default database is PostgreSQL (psycopg 3), where COPY is used."""
    return connection.vendor == "postgresql"


_NO_DEFAULT = object()


@dataclass(frozen=True)
class _Column:
    name: str  # the column
    attname: str  # the key in a row
    convert: Callable[[Any], Any] | None  # None: written as it is
    default: Any  # _NO_DEFAULT, a value, or a callable (see `factory`)
    factory: bool  # call `default` for each row (a mutable default: dict, list)
    stamped: bool  # auto_now / auto_now_add: `now` unless given


def _dump_json(encoder: type[json.JSONEncoder] | None) -> Callable[[Any], Any]:
    def dump(value: Any) -> Any:
        if value is None or isinstance(value, JsonText):
            return value
        return json.dumps(value, cls=encoder)

    return dump


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


# Fields whose Python value psycopg writes as the column wants.
_AS_IS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.BooleanField,
    models.DateTimeField,
    models.ForeignKey,
    models.AutoField,
    models.BigAutoField,
)


def _convert(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    if isinstance(field, models.JSONField):
        return _dump_json(field.encoder)
    if isinstance(field, _AS_IS):
        return _plain if field.choices else None

    def prepare(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    return prepare


@functools.cache
def _columns(model: type[models.Model], with_pk: bool) -> tuple[_Column, ...]:
    columns = []
    for field in model._meta.concrete_fields:
        if field.primary_key and not with_pk:
            continue
        stamped = bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
        if field.has_default():
            default, factory = field.default, callable(field.default)
        else:
            # What a model instance would hold: "" for text, None otherwise.
            default, factory = field.get_default(), False
            if default is None and not field.null and not stamped:
                default = _NO_DEFAULT
        columns.append(
            _Column(field.column, field.attname, _convert(field), default, factory, stamped)
        )
    return tuple(columns)


def ids_reserve(*wanted: tuple[type[models.Model], int]) -> list[list[int]]:
    """Fresh ids from each (model, count)'s table sequence, ascending, in one query
    (the gaps a rollback leaves are harmless)."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for n, (model, count) in enumerate(wanted):
        parts.append(sql.SQL(RESERVE).format(sql.Literal(n)))
        params += [model._meta.db_table, model._meta.pk.column, count]
    ids: list[list[int]] = [[] for _ in wanted]
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL(" UNION ALL ").join(parts).as_string(None), params)
        for n, pk in cursor.fetchall():
            ids[n].append(int(pk))
    return [sorted(chunk) for chunk in ids]


def _values(
    model: type[models.Model], columns: tuple[_Column, ...], now: datetime
) -> Callable[[Mapping[str, Any]], list[Any]]:
    """A function from a row to the list COPY writes."""
    attnames = [c.attname for c in columns]
    converts = [(n, c.convert) for n, c in enumerate(columns) if c.convert is not None]
    # What a row may leave out. A dict or list default is shared by every row: it is
    # only dumped, never changed. Another callable default is called for each row.
    shared: dict[str, Any] = {}
    called: list[tuple[str, Callable[[], Any]]] = []
    for c in columns:
        if c.stamped:
            shared[c.attname] = now
        elif c.factory and c.default not in (dict, list):
            called.append((c.attname, c.default))
        elif c.factory:
            shared[c.attname] = c.default()
        elif c.default is not _NO_DEFAULT:
            shared[c.attname] = c.default

    # The shared values as written, so a left-out JSON default is dumped once.
    ready = dict(shared)
    for n, convert in converts:
        if attnames[n] in ready:
            ready[attnames[n]] = convert(ready[attnames[n]])

    def values(row: Mapping[str, Any]) -> list[Any]:
        full = {**ready, **row}
        for attname, factory in called:
            if attname not in row:
                full[attname] = factory()
        try:
            out = [full[attname] for attname in attnames]
        except KeyError as missing:
            raise ValueError(MISSING.format(model=model.__name__, field=missing.args[0])) from None
        for n, convert in converts:
            if attnames[n] in row or attnames[n] not in ready:
                out[n] = convert(out[n])
        return out

    return values


def copy_statement(model: type[models.Model], *, with_pk: bool = True) -> sql.Composed:
    """`COPY <table> (<every concrete column>) FROM STDIN`."""
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table),
        sql.SQL(", ").join(sql.Identifier(c.name) for c in _columns(model, with_pk)),
    )


def row_values(
    model: type[models.Model], *, now: datetime, with_pk: bool = True
) -> Callable[[Mapping[str, Any]], list[Any]]:
    """A function from a row to the values `copy_statement` takes, in its order."""
    return _values(model, _columns(model, with_pk), now)


def rows_copy(
    model: type[models.Model],
    rows: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    with_pk: bool = True,
) -> int:
    """COPY `rows` into the model's table, in the caller's transaction; how many.

    With `with_pk` each row carries its id (from `ids_reserve`); without, the
    table's identity gives it. `auto_now` fields not in a row are `now`.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("COPY writes belong to the caller's transaction")
    statement = copy_statement(model, with_pk=with_pk)
    values = row_values(model, now=now, with_pk=with_pk)
    written = 0
    with connection.cursor() as django_cursor, connection.wrap_database_errors:
        raw: Any = django_cursor.cursor  # psycopg's own cursor, on the same connection
        with raw.copy(statement) as copy:
            for row in rows:
                copy.write_row(values(row))
                written += 1
    return written
