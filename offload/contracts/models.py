"""Engagements, contract documents, SLA policies, calendars, rate cards and processes.

Every row carries its client and provider organisations as columns: visibility is
one filter on them, and the data can be sharded by client.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from offload.contracts.lifecycle import Stage
from offload.core.models import TimeStampedModel
from offload.tenancy.models import Organisation, User


class TenantOwned(TimeStampedModel):
    client = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True


class Engagement(TenantOwned):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=[(s.value, s.value.title()) for s in Stage], default=Stage.ASSESS
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["client_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "slug"], name="engagement_slug_per_client")
        ]

    def __str__(self) -> str:
        return self.name


class DocumentKind(models.TextChoices):
    MSA = "msa", "Master services agreement"
    SOW = "sow", "Statement of work"
    SLA = "sla", "Service level agreement"
    DPA = "dpa", "Data-protection agreement"
    NDA = "nda", "Non-disclosure agreement"


class ContractDocument(TenantOwned):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=8, choices=DocumentKind.choices)
    title = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    signed_on = models.DateField(null=True, blank=True)
    signed_by_client = models.CharField(max_length=200, blank=True)
    signed_by_provider = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    file = models.FileField(upload_to="contracts/%Y/%m/", blank=True)
    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )

    class Meta:
        ordering = ["engagement_id", "kind", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "kind", "version"], name="document_version_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}: {self.title}"

    @property
    def is_current(self) -> bool:
        return self.superseded_by_id is None


class BusinessCalendar(TenantOwned):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="calendars")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    # The documented spec of offload.sla.spec: zone, windows, holidays, closures.
    spec = models.JSONField()

    class Meta:
        ordering = ["client_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "slug"], name="calendar_slug_per_client")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def timezone(self) -> str:
        return str(self.spec.get("timezone", ""))


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    TURNAROUND = "turnaround", "Turnaround"
    ACCURACY = "accuracy", "Accuracy"
    QUALITY_SCORE = "quality_score", "Quality score"
    CSAT = "csat", "CSAT"
    ABANDONMENT_RATE = "abandonment_rate", "Abandonment rate"


class Comparison(models.TextChoices):
    WITHIN = "within", "Within"
    AT_LEAST = "at_least", "At least"
    AT_MOST = "at_most", "At most"


class Unit(models.TextChoices):
    BUSINESS_MINUTES = "business_minutes", "Business minutes"
    BUSINESS_HOURS = "business_hours", "Business hours"
    BUSINESS_DAYS = "business_days", "Business days"
    PERCENT = "percent", "Percent"
    SCORE = "score", "Score (1-5)"


class Priority(models.TextChoices):
    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"
    P4 = "P4", "P4"


# The share of a month's items that must meet a time target, unless the target says.
DEFAULT_ATTAINMENT_PERCENT = Decimal(95)


def default_pause_statuses() -> list[str]:
    """A clock pauses while the client owes an answer, unless a policy says otherwise."""
    return ["waiting_on_client"]


def default_warning_percents() -> list[int]:
    """A clock warns when three quarters and nine tenths of its target have passed."""
    return [75, 90]


class SlaPolicy(TenantOwned):
    """A versioned set of SLA targets. An edit is a new version; old ones are kept."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="sla_policies"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    version = models.PositiveIntegerField(default=1)
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+")
    # Work-item statuses in which the policy's clocks stop (services.PAUSABLE_STATUSES).
    pause_statuses = models.JSONField(default=default_pause_statuses)
    # Percents of a target's time at which a running clock warns: ascending, 1..99.
    warning_percents = models.JSONField(default=default_warning_percents)
    at_risk_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="Cap on credits, % of monthly fees"
    )
    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )

    class Meta:
        ordering = ["client_id", "slug", "-version"]
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "slug", "version"], name="sla_policy_version_per_client"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_current(self) -> bool:
        return self.superseded_by_id is None


class SlaTarget(TenantOwned):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    metric = models.CharField(max_length=32, choices=Metric.choices)
    # Blank means the target applies to every priority.
    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    target_value = models.DecimalField(max_digits=12, decimal_places=4)
    unit = models.CharField(max_length=20, choices=Unit.choices)
    comparison = models.CharField(max_length=10, choices=Comparison.choices)
    window = models.CharField(max_length=16, default="monthly")
    calendar = models.ForeignKey(
        BusinessCalendar, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Terms as data for billing: {"percent_of_fees": "2.5"}; bonus the same shape.
    credit = models.JSONField(default=dict, blank=True)
    bonus = models.JSONField(default=dict, blank=True)
    # For a time metric (first response, turnaround): the share of a month's measured
    # items that must meet the per-item target for the target to be met that month
    # (docs/attainment.md). 0..100.
    attainment_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=DEFAULT_ATTAINMENT_PERCENT,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of the month's items that must meet the target, %",
    )

    class Meta:
        ordering = ["policy_id", "metric", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "metric", "priority"], name="sla_target_unique_per_policy"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.priority or 'all'} {self.comparison} {self.target_value}"


class RecomputeKind(models.TextChoices):
    POLICY = "policy", "Policy revised"
    CALENDAR = "calendar", "Calendar changed"


class SlaRecompute(TenantOwned):
    """A request, written with the edit that makes it, to recompute the open SLA clocks
    the edit touches; the work app sweeps them (offload.core.sweeps.claim_due).

    kind "policy": `policy` is a new version; open items on the older versions of its
    slug move to it and their clocks are recomputed. kind "calendar": `calendar`'s
    spec changed; the open clocks that run on it are recomputed.
    """

    kind = models.CharField(max_length=8, choices=RecomputeKind.choices)
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    calendar = models.ForeignKey(
        BusinessCalendar, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    due_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The sweep reads only rows still to do, oldest due first.
            models.Index(
                fields=["due_at"], condition=Q(done_at__isnull=True), name="sla_recompute_due"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind=RecomputeKind.POLICY, policy__isnull=False, calendar__isnull=True)
                    | Q(kind=RecomputeKind.CALENDAR, calendar__isnull=False, policy__isnull=True)
                ),
                name="sla_recompute_names_what_its_kind_says",
            )
        ]

    def __str__(self) -> str:
        target = self.policy if self.kind == RecomputeKind.POLICY else self.calendar
        return f"recompute {self.kind} {target}"


class PricingUnit(models.TextChoices):
    PER_ITEM = "per_item", "Per item"
    PER_HANDLED_HOUR = "per_handled_hour", "Per handled hour"
    PER_FTE_MONTH = "per_fte_month", "Per FTE month"
    PER_OUTCOME = "per_outcome", "Per outcome"


class RateCard(TenantOwned):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="rate_cards")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    pricing_unit = models.CharField(max_length=20, choices=PricingUnit.choices)
    price = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    # [{"from_volume": 10000, "price": "0.95"}, ...]: the price from that monthly volume on.
    tiers = models.JSONField(default=list, blank=True)
    minimum_monthly_fee = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["client_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "slug"], name="rate_card_slug_per_client")
        ]

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    VOICE = "voice", "Voice"
    BACK_OFFICE = "back_office", "Back office"


class Process(TenantOwned):
    """An entry of the service catalog: one outsourced process of a client."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="processes")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    required_skills = models.JSONField(default=dict, blank=True, help_text="{skill: min level 1-5}")
    languages = models.JSONField(default=list, blank=True)
    item_schema = models.JSONField(
        default=dict, blank=True, help_text="JSON Schema of item payloads"
    )
    pricing_unit = models.CharField(max_length=20, choices=PricingUnit.choices)
    sla_policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="processes"
    )
    # A system failure is retried automatically, as a linked item, this many times.
    max_system_retries = models.PositiveSmallIntegerField(
        default=3, help_text="Automatic retries of an item after a system failure"
    )
    # A completed item may be reopened for this long after its completion.
    reopen_window_hours = models.PositiveIntegerField(
        default=72, help_text="Hours after completion in which an item may be reopened"
    )
    # After completing an item an agent may wrap up (notes, after-call work) for up to
    # this long before taking the next; its capacity stays taken meanwhile.
    wrap_up_seconds = models.PositiveIntegerField(
        default=60, help_text="Longest after-work (wrap-up) after completing an item"
    )

    class Meta:
        ordering = ["client_id", "name"]
        verbose_name_plural = "processes"
        constraints = [
            models.UniqueConstraint(fields=["client", "slug"], name="process_slug_per_client")
        ]

    def __str__(self) -> str:
        return self.name


class SopVersion(TenantOwned):
    """One version of a process's standard operating procedure, in Markdown."""

    process = models.ForeignKey(Process, on_delete=models.CASCADE, related_name="sop_versions")
    version = models.PositiveIntegerField()
    body = models.TextField()
    author = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["process_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["process", "version"], name="sop_version_per_process")
        ]

    def __str__(self) -> str:
        return f"{self.process} SOP v{self.version}"
