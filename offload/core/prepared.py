"""Statements prepared on the PostgreSQL server, for the hottest queries.

Planning a long statement can cost more than running it; a prepared statement is
planned once per connection (and, with `plan_cache_mode=force_generic_plan` from
config/settings.py, never again). Django turns psycopg's preparing off
(`prepare_threshold=None`, for poolers in transaction mode), and then
`prepare=True` is silently ignored; so each new connection is switched to prepare
only what asks for it (`fetch` here), and Django's own queries, which never ask,
stay unprepared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

# psycopg prepares a statement after this many runs unless asked at once: never.
_PREPARE_ONLY_WHEN_ASKED = 2**31


def connection_created(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """Django's `connection_created` signal (wired in CoreConfig.ready)."""
    if connection.vendor == "postgresql":
        connection.connection.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED


@dataclass(frozen=True)
class Statement:
    """A statement in PostgreSQL's own `$n` placeholders, with the parameter name
    each stands for, and the names of the columns it returns once known; `source`
    is as written (`%(name)s`), which other databases run unprepared."""

    sql: str
    names: tuple[str, ...]
    columns: list[str]
    source: str


def statement(sql: str) -> Statement:
    """`%(name)s` placeholders as `$n` (a name used twice is one `$n`): psycopg
    would parse a long statement again on every run."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return Statement(re.sub(r"%\((\w+)\)s|%%", number, sql), tuple(names), [], sql)


def fetch(statement: Statement, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run a statement prepared on the server (PostgreSQL only); its rows as dicts by
    column name."""
    found = rows(statement, params)
    return [dict(zip(statement.columns, row, strict=True)) for row in found]


def rows(statement: Statement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run a statement prepared on the server; its rows as tuples. Elsewhere (SQLite)
    there is nothing to prepare: it runs as written."""
    # The connection looked up once: each use of the `connection` proxy is a
    # thread-local lookup, and this runs twice a pull -> complete cycle.
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as plain:
            plain.execute(statement.source, params)
            return [tuple(row) for row in plain.fetchall()]
    db.ensure_connection()
    values = [params[name] for name in statement.names]
    with db.wrap_database_errors, psycopg.RawCursor(db.connection) as cursor:
        cursor.execute(statement.sql, values, prepare=True)
        if not statement.columns:
            assert cursor.description is not None
            # Threads may race here: each writes the same names.
            statement.columns[:] = [column.name for column in cursor.description]
        return cursor.fetchall()
