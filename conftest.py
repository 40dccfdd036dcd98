"""Test-wide settings: immediate tasks, uploads in a temporary folder, and the
`database` marker on every test that touches the database (CI runs those again on
PostgreSQL)."""

from __future__ import annotations

import tempfile

import pytest
from django.test import override_settings

DB_FIXTURES = frozenset(
    {"db", "transactional_db", "client", "live_server", "admin_client", "django_db_setup"}
)


def pytest_configure(config: pytest.Config) -> None:
    override_settings(
        TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}},
        MEDIA_ROOT=tempfile.mkdtemp(prefix="offload-test-media-"),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    ).enable()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("django_db") or fixtures & DB_FIXTURES:
            item.add_marker(pytest.mark.database)
