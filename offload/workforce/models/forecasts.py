"""Forecasts of volume and handle time, and their manual adjustments.

All of it is the provider's own (registered with `owner_rule("provider")` in
forecast_rules.py): no client sees an actual, a forecast, an adjustment or a target.
Each row still carries its client, like every tenant-owned row, so the data can be
sharded by client. See docs/forecasting.md.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from offload.contracts.models import Process
from offload.core.models import TimeStampedModel
from offload.tenancy.models import Organisation, User

__all__ = [
    "ActualsWatermark",
    "AdjustmentKind",
    "Forecast",
    "ForecastAdjustment",
    "ForecastInterval",
    "ForecastSeries",
    "ForecastStatus",
    "IntervalActual",
    "StaffingTarget",
]


class IntervalActual(models.Model):
    """What happened on a process in one 30-minute interval, rolled up from the item
    events and leases by the `workforce.actuals` sweep (forecast_services)."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Led by the (process, start) key: no index of its own.
    process = models.ForeignKey(Process, on_delete=models.CASCADE, related_name="+", db_index=False)
    start = models.DateTimeField(help_text="Interval start, UTC")
    arrivals = models.PositiveIntegerField(default=0, help_text="Items created")
    handled = models.PositiveIntegerField(default=0, help_text="Completions with a handle time")
    handle_seconds = models.PositiveBigIntegerField(
        default=0, help_text="Work + wrap-up seconds of those completions"
    )
    rolled_up_at = models.DateTimeField()

    class Meta:
        ordering = ["process_id", "start"]
        constraints = [
            models.UniqueConstraint(fields=["process", "start"], name="interval_actual_unique")
        ]
        indexes = [models.Index(fields=["provider", "start"], name="interval_actual_provider")]

    def __str__(self) -> str:
        return f"process {self.process_id} at {self.start:%Y-%m-%d %H:%M}: {self.arrivals}"

    @property
    def aht_s(self) -> float | None:
        return self.handle_seconds / self.handled if self.handled else None


class ActualsWatermark(models.Model):
    """How far the sweep has rolled up: one row, locked by the sweep that runs."""

    name = models.CharField(max_length=32, unique=True)
    rolled_to = models.DateTimeField(help_text="Intervals before this are rolled up")

    def __str__(self) -> str:
        return f"{self.name}: {self.rolled_to:%Y-%m-%d %H:%M}"


class ForecastStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Forecast(TimeStampedModel):
    """One process's forecast over a horizon [start, end) of 30-minute intervals."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    process = models.ForeignKey(Process, on_delete=models.CASCADE, related_name="forecasts")
    start = models.DateTimeField(help_text="Horizon start, UTC")
    end = models.DateTimeField(help_text="Horizon end (exclusive), UTC")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=ForecastStatus.choices, default=ForecastStatus.QUEUED
    )
    error = models.TextField(blank=True)
    # How many times a task has started generating it: the recovery sweep queues a
    # forecast whose worker died again, up to MAX_ATTEMPTS (forecast_sweep.py).
    attempts = models.PositiveSmallIntegerField(default=0)
    # The model chosen per series and its WAPE on the held-out week (None: too little
    # history to backtest, or no actuals in the holdout).
    volume_model = models.CharField(max_length=20, blank=True)
    volume_wape = models.FloatField(null=True, blank=True)
    aht_model = models.CharField(max_length=20, blank=True)
    aht_wape = models.FloatField(null=True, blank=True)
    # {"volume": {model: wape}, "aht": {model: wape}}: every candidate's backtest.
    backtest = models.JSONField(default=dict, blank=True)
    history_start = models.DateTimeField(null=True, blank=True)
    history_end = models.DateTimeField(null=True, blank=True)
    generated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="forecast_span"),
            models.CheckConstraint(
                condition=Q(status__in=ForecastStatus.values), name="forecast_status"
            ),
        ]
        indexes = [models.Index(fields=["provider", "status"], name="forecast_provider_status")]

    def __str__(self) -> str:
        return f"forecast {self.pk} of process {self.process_id} from {self.start:%Y-%m-%d}"


class ForecastInterval(models.Model):
    """The model's values for one interval, before any adjustment."""

    forecast = models.ForeignKey(
        Forecast, on_delete=models.CASCADE, related_name="intervals", db_index=False
    )
    provider = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    client = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    process = models.ForeignKey(Process, on_delete=models.CASCADE, related_name="+", db_index=False)
    start = models.DateTimeField(help_text="Interval start, UTC")
    volume = models.FloatField(help_text="Forecast arrivals")
    aht_s = models.FloatField(help_text="Forecast average handle time, seconds")

    class Meta:
        ordering = ["forecast_id", "start"]
        constraints = [
            models.UniqueConstraint(fields=["forecast", "start"], name="forecast_interval_unique")
        ]
        indexes = [models.Index(fields=["process", "start"], name="forecast_interval_process")]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}: {self.volume:.1f} x {self.aht_s:.0f}s"


class ForecastSeries(models.TextChoices):
    VOLUME = "volume", "Volume"
    AHT = "aht", "Average handle time"


class AdjustmentKind(models.TextChoices):
    PERCENT = "percent", "Percent (+30 means 30 % more)"
    ABSOLUTE = "absolute", "Absolute (added to each interval; seconds for AHT)"


class ForecastAdjustment(models.Model):
    """A planner's change to a process's forecast over a period, applied on read: the
    forecast shows its base, the adjustment and the adjusted value side by side."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    process = models.ForeignKey(
        Process, on_delete=models.CASCADE, related_name="forecast_adjustments"
    )
    start = models.DateTimeField(help_text="Period start, UTC")
    end = models.DateTimeField(help_text="Period end (exclusive), UTC")
    series = models.CharField(max_length=8, choices=ForecastSeries.choices)
    kind = models.CharField(max_length=10, choices=AdjustmentKind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["process_id", "start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="forecast_adjustment_span"
            ),
            models.CheckConstraint(
                condition=Q(series__in=ForecastSeries.values), name="forecast_adjustment_series"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=AdjustmentKind.values), name="forecast_adjustment_kind"
            ),
        ]

    def __str__(self) -> str:
        unit = " %" if self.kind == AdjustmentKind.PERCENT else ""
        return f"{self.series} {self.value:+}{unit}: {self.reason}"


class StaffingTarget(TimeStampedModel):
    """How a process is staffed: the service level to reach, and how much of an
    agent's time is lost. Absent, the defaults of forecast_selectors apply."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    process = models.OneToOneField(
        Process, on_delete=models.CASCADE, related_name="staffing_target"
    )
    service_level = models.DecimalField(
        max_digits=4, decimal_places=3, help_text="Share answered within the target, e.g. 0.800"
    )
    answer_target_s = models.PositiveIntegerField(help_text="Answer within this many seconds")
    max_occupancy = models.DecimalField(
        max_digits=4, decimal_places=3, null=True, blank=True, help_text="e.g. 0.850; none: no cap"
    )
    shrinkage = models.DecimalField(
        max_digits=4, decimal_places=3, help_text="Share of paid time off the phones, e.g. 0.300"
    )
    patience_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Average patience before abandoning (Erlang A)"
    )
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["process_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(service_level__gt=0, service_level__lt=1),
                name="staffing_target_service_level",
            ),
            models.CheckConstraint(
                condition=Q(shrinkage__gte=0, shrinkage__lt=1), name="staffing_target_shrinkage"
            ),
            models.CheckConstraint(
                condition=Q(max_occupancy__isnull=True)
                | Q(max_occupancy__gt=0, max_occupancy__lte=1),
                name="staffing_target_occupancy",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_level:.0%} in {self.answer_target_s}s for process {self.process_id}"
