"""Background tasks of scheduling: the solver runs here, never in a request."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone
from django_tasks import task

from offload.workforce import schedule_services, scheduling
from offload.workforce.models import Schedule, SolveState


@task()
def schedule_solve_task(
    schedule_id: int, num_workers: int, random_seed: int, time_limit_s: float
) -> dict[str, object]:
    """Solve one queued schedule; one deleted, taken by another task or already solved
    meanwhile is skipped (a solved schedule may be published and rostered: solving
    again would undo that). Claimed as running, so the recovery sweep
    (`workforce.schedule_recovery`) can tell a solve whose worker died."""
    claimed = Schedule.objects.filter(pk=schedule_id, solve_state=SolveState.QUEUED).update(
        solve_state=SolveState.RUNNING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    schedule = Schedule.objects.select_related("provider").filter(pk=schedule_id).first()
    if not claimed or schedule is None:
        return {"schedule_id": schedule_id, "skipped": True}
    options = scheduling.SolverOptions(
        num_workers=num_workers, random_seed=random_seed, time_limit_s=time_limit_s
    )
    schedule = schedule_services.schedule_solve(
        schedule=schedule, options=options, attempt=schedule.attempts
    )
    return {
        "schedule_id": schedule_id,
        "state": schedule.solve_state,
        "solver_status": schedule.solver_status,
        "shifts": schedule.shift_count,
    }
