"""`workforce.schedule_recovery`: solves whose worker died are queued again.

A solve is claimed as running by its task and takes at most its time limit (two
minutes at the most), so a schedule still running after OFFLOAD_JOB_STALE_SECONDS
lost its worker. It is queued again with its stored solver options, or failed after
MAX_ATTEMPTS, saying why (docs/background.md).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from offload.core import sweeps
from offload.workforce import schedule_services
from offload.workforce.models import Schedule, SolveState

MAX_ATTEMPTS = 3
RECOVERY_BATCH = 100
LOST_WORKER = "the worker solving it stopped {n} times; generate the schedule again"


@sweeps.register("workforce.schedule_recovery")
def schedules_recover(now: datetime) -> int:
    with transaction.atomic():
        stale = sweeps.claim_stale(
            Schedule.objects.filter(solve_state=SolveState.RUNNING),
            field="updated_at",
            now=now,
            limit=RECOVERY_BATCH,
        )
        for schedule in stale:
            lost = schedule.attempts >= MAX_ATTEMPTS
            schedule.solve_state = SolveState.FAILED if lost else SolveState.QUEUED
            schedule.solve_error = LOST_WORKER.format(n=schedule.attempts) if lost else ""
            schedule.save(update_fields=["solve_state", "solve_error", "updated_at"])
            if not lost:
                schedule_services.schedule_enqueue(schedule)
    return len(stale)
