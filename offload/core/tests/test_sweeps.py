from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from offload.core import sweeps

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def temporary_sweeps() -> Iterator[list[str]]:
    """Names registered by a test, removed again after it."""
    names: list[str] = []
    yield names
    for name in names:
        sweeps.unregister(name)


def test_register_adds_a_named_sweep_and_unregister_removes_it(temporary_sweeps):
    # given
    temporary_sweeps.append("test.counting")

    @sweeps.register("test.counting")
    def counting(now: datetime) -> int:
        return 7

    # when
    names = [s.name for s in sweeps.registered()]
    sweeps.unregister("test.counting")
    # then
    assert "test.counting" in names
    assert "test.counting" not in [s.name for s in sweeps.registered()]


def test_run_all_passes_now_and_collects_counts(temporary_sweeps):
    # given
    seen: list[datetime] = []
    temporary_sweeps.append("test.echo")

    @sweeps.register("test.echo")
    def echo(now: datetime) -> int:
        seen.append(now)
        return 3

    # when
    handled = sweeps.run_all(NOW)
    # then
    assert handled["test.echo"] == 3
    assert seen == [NOW]


def test_run_all_isolates_a_failing_sweep(temporary_sweeps, caplog):
    # given a failing sweep ordered before a working one
    ran: list[str] = []
    temporary_sweeps.extend(["test.a_fails", "test.z_works"])

    @sweeps.register("test.a_fails")
    def fails(now: datetime) -> int:
        ran.append("fails")
        raise RuntimeError("boom")

    @sweeps.register("test.z_works")
    def works(now: datetime) -> int:
        ran.append("works")
        return 2

    # when
    handled = sweeps.run_all(NOW)
    # then: the failure is marked and logged, and the later sweep still ran
    assert handled["test.a_fails"] == -1
    assert handled["test.z_works"] == 2
    assert ran == ["fails", "works"]
    assert "sweep test.a_fails failed" in caplog.text


@pytest.mark.django_db
def test_claim_due_returns_at_most_limit_rows():
    # given
    for i in range(5):
        Group.objects.create(name=f"due {i}")
    # when
    with transaction.atomic():
        claimed = sweeps.claim_due(Group.objects.order_by("name"), limit=3)
    # then
    assert [g.name for g in claimed] == ["due 0", "due 1", "due 2"]


@pytest.mark.django_db
def test_claim_due_locks_only_the_swept_table_where_the_database_can():
    # given
    # Permission rows join their content type, which must stay unlocked.
    queryset = Permission.objects.select_related("content_type").order_by("pk")
    # when
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        sweeps.claim_due(queryset, limit=10)
    # then: SKIP LOCKED and only OF the swept table on PostgreSQL; no lock clause on SQLite
    (sql,) = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    if connection.features.has_select_for_update_skip_locked:
        assert "SKIP LOCKED" in sql
        assert 'FOR UPDATE OF "auth_permission"' in sql
    else:
        assert "FOR UPDATE" not in sql
