"""The worker runs tasks queued through the Tasks API on the database backend."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from django_tasks import TaskResultStatus

from offload.tenancy import tasks
from offload.tenancy.tests.factories import make_client

# Committed transactions: django-tasks-db's worker closes connections between tasks,
# which would end the per-test transaction on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def test_worker_runs_a_queued_audit_verification():
    # given: an audited write and the verification queued on the database backend
    make_client()
    with override_settings(TASKS=DB_BACKEND):
        result = tasks.audit_verify_task.enqueue()
        queued_status = result.status
        # when: one tick of the worker
        call_command("worker", once=True)
        # then: the task ran and reported an intact trail
        result.refresh()
    assert queued_status == TaskResultStatus.READY
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"intact": True, "problems": []}
