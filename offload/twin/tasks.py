"""Background tasks of the twin (Django's Tasks API through django-tasks): one run
of a scenario per task, so a sweep of many scenarios spreads over the task workers."""

from __future__ import annotations

from django_tasks import task


@task()
def scenario_run_task(run_id: int, attempt: int) -> str:
    """Simulate one run (offload.twin.services.scenario_run_execute)."""
    from offload.twin import services  # services enqueue this task: imported when it runs

    return services.scenario_run_execute(run_id=run_id, attempt=attempt)
