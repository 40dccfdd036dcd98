"""Scenarios of the digital twin and their runs.

A `Scenario` keeps what it was built from (the live configuration of a period, or
an uploaded engine scenario: `base`), the changes made to it (`changes`, the JSON
of offload.twin.changes) and the engine scenario they give (`built`): the snapshot
every run of it simulates, so a run is reproducible after the live configuration
has moved on. A `ScenarioRun` is one simulation of it as a background task, with
its progress and its result (`offload.twin.engine.Result.to_dict()`).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from offload.core.models import TimeStampedModel
from offload.tenancy.models import Organisation, User


class ScenarioSource(models.TextChoices):
    LIVE = "live", "Live configuration"
    UPLOAD = "upload", "Uploaded scenario"


class Scenario(TimeStampedModel):
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=ScenarioSource.choices)
    start = models.DateTimeField(help_text="Aware UTC: the simulated period's start")
    days = models.PositiveSmallIntegerField()
    changes = models.JSONField(default=list, blank=True)
    # The engine scenario before the changes (the live snapshot or the upload) and
    # after them: what runs simulate.
    base = models.JSONField()
    built = models.JSONField()
    # How the live builder filled the gaps (no forecast, no schedule, bot defaults).
    notes = models.JSONField(default=list, blank=True)
    seed = models.PositiveIntegerField(default=1)
    replications = models.PositiveSmallIntegerField(default=10)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["provider_id", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(days__gte=1), name="twin_scenario_days"),
            models.CheckConstraint(
                condition=Q(replications__gte=1), name="twin_scenario_replications"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


FINISHED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED})


class ScenarioRun(TimeStampedModel):
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    seed = models.PositiveIntegerField()
    replications = models.PositiveSmallIntegerField()
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Each (re)queueing is a new attempt; a task of an older attempt finds the run
    # moved on and stops, so a slow worker thought dead cannot overwrite a new one.
    attempt = models.PositiveSmallIntegerField(default=1)
    task_id = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # Written with the progress: a running run whose heartbeat is older than the
    # stale timeout has lost its worker (services.runs_recover).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["provider_id", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="twin_run_status"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="twin_run_progress"
            ),
        ]
        indexes = [
            # The recovery sweep: running runs by heartbeat.
            models.Index(
                fields=["heartbeat_at"],
                name="twin_run_running",
                condition=Q(status="running"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scenario} run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED
