"""Shift templates, schedules, rosters and time off.

A schedule is the solver's answer for a provider and a horizon: shifts per site and
process (`ScheduledShift`), each later rostered to a named agent. Intraday and the
digital twin read the published schedules through `schedule_selectors`. See
docs/scheduling.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q

from offload.contracts.models import Process
from offload.core.models import TimeStampedModel
from offload.tenancy.models import Organisation, Site, User
from offload.workers.models import Worker

__all__ = [
    "AgentContract",
    "Schedule",
    "ScheduleStatus",
    "ScheduledShift",
    "ShiftTemplate",
    "SitePlanningRule",
    "SolveState",
    "TimeOffRequest",
    "TimeOffStatus",
]

DEFAULT_MAX_DAYS_PER_WEEK = 5
DEFAULT_MIN_REST_HOURS = 11
DEFAULT_CONTRACTED_HOURS = 40


class SitePlanningRule(TimeStampedModel):
    """A site's local rules for scheduling; a site without one opens 24/7 with the
    defaults (5 days a week, 11 hours' rest).

    `opening_hours` is a list of 7 entries, Monday first, in the site's local time:
    `["08:00", "20:00"]`, `["22:00", "06:00"]` (overnight: closes the next day),
    `["00:00", "24:00"]` (all day) or `null` (closed).
    """

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="planning_rule")
    opening_hours = models.JSONField(default=list, blank=True)
    max_days_per_week = models.PositiveSmallIntegerField(default=DEFAULT_MAX_DAYS_PER_WEEK)
    min_rest_hours = models.PositiveSmallIntegerField(default=DEFAULT_MIN_REST_HOURS)

    class Meta:
        ordering = ["site_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_days_per_week__gte=1, max_days_per_week__lte=7),
                name="site_planning_max_days",
            ),
            models.CheckConstraint(
                condition=Q(min_rest_hours__lte=48), name="site_planning_min_rest"
            ),
        ]

    def __str__(self) -> str:
        return f"rules of site {self.site_id}"


class ShiftTemplate(TimeStampedModel):
    """A shape of shift: its length, its break and where the break may go, and the
    grid its starts fall on (every 30 minutes)."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    length_minutes = models.PositiveIntegerField()
    break_minutes = models.PositiveIntegerField(default=30)
    # The break starts between these offsets from the shift's start (and ends by the latest).
    break_earliest_minutes = models.PositiveIntegerField(default=180)
    break_latest_minutes = models.PositiveIntegerField(default=300)
    start_step_minutes = models.PositiveIntegerField(default=30)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["provider_id", "length_minutes", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="shift_template_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ScheduleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class SolveState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Solving"
    SOLVED = "solved", "Solved"
    FAILED = "failed", "Failed"


class Schedule(TimeStampedModel):
    """One solver run for a provider's sites over [start, start + days)."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    start = models.DateTimeField(help_text="Aware UTC, on a 30-minute boundary")
    days = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=ScheduleStatus.choices, default=ScheduleStatus.DRAFT
    )
    solve_state = models.CharField(
        max_length=10, choices=SolveState.choices, default=SolveState.QUEUED
    )
    solver_status = models.CharField(max_length=20, blank=True)
    solve_error = models.TextField(blank=True)
    # What the task solves with ({num_workers, random_seed, time_limit_s}), kept so the
    # recovery sweep can queue a solve whose worker died again, as attempt n + 1.
    solver_options = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    objective = models.FloatField(null=True, blank=True)
    # [[process_id, "UTC interval start ISO", agents], ...]: what the solver was asked.
    requirements = models.JSONField(default=list, blank=True)
    # Totals of the answer: agent-intervals short of the requirement, shifts, cost.
    under_staffed = models.FloatField(default=0)
    shift_count = models.PositiveIntegerField(default=0)
    total_cost = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    cost_per_site = models.JSONField(default=dict, blank=True, help_text="{site id: cost}")
    unfilled_shifts = models.PositiveIntegerField(default=0)
    rostered_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["provider_id", "-start", "id"]
        indexes = [models.Index(fields=["provider", "status", "start"], name="schedule_published")]

    def __str__(self) -> str:
        return self.name

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


class ScheduledShift(models.Model):
    """One shift of a schedule at a site on a process; its agent once rostered."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="shifts")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(
        ShiftTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    break_start = models.DateTimeField(null=True, blank=True)
    break_end = models.DateTimeField(null=True, blank=True)
    worker = models.ForeignKey(
        Worker, null=True, blank=True, on_delete=models.SET_NULL, related_name="scheduled_shifts"
    )

    class Meta:
        ordering = ["schedule_id", "site_id", "start", "id"]
        indexes = [
            models.Index(fields=["provider", "start"], name="scheduled_shift_start"),
            models.Index(fields=["worker", "start"], name="scheduled_shift_worker"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="shift_order")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.start:%Y-%m-%d %H:%M}Z-{self.end:%H:%M}Z"


class AgentContract(TimeStampedModel):
    """An agent's contracted hours per week (40 if the agent has none)."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    worker = models.OneToOneField(Worker, on_delete=models.CASCADE, related_name="contract")
    hours_per_week = models.PositiveSmallIntegerField(default=DEFAULT_CONTRACTED_HOURS)

    class Meta:
        ordering = ["worker_id"]
        constraints = [
            models.CheckConstraint(condition=Q(hours_per_week__lte=80), name="agent_contract_hours")
        ]

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.hours_per_week} h/week"


class TimeOffStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class TimeOffRequest(TimeStampedModel):
    """An agent's request for time off and the planner's decision on it.

    `coverage_cost` is computed when deciding: the intervals where approving leaves
    the published coverage below the requirement,
    `[{"process_id", "start", "required", "scheduled", "after"}]`.
    """

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=10, choices=TimeOffStatus.choices, default=TimeOffStatus.REQUESTED
    )
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    coverage_cost = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["provider_id", "start", "id"]
        indexes = [models.Index(fields=["worker", "start"], name="time_off_worker_start")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="time_off_order")
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} {self.start:%Y-%m-%d}-{self.end:%Y-%m-%d} {self.status}"
