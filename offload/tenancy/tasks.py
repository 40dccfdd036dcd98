"""Background tasks of tenancy (Django's Tasks API through django-tasks)."""

from __future__ import annotations

from django_tasks import task

from offload.tenancy import audit


@task()
def audit_verify_task() -> dict[str, object]:
    """Verify every audit chain in the background; a big trail takes a while to walk."""
    problems = audit.verify()
    return {"intact": not problems, "problems": [str(p) for p in problems]}
