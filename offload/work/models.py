"""Queues, work items and their append-only event log.

Every row carries its client and provider, like the contract rows, so visibility
is one filter and the data can be sharded by client.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from offload.contracts.models import Channel, Priority, Process, TenantOwned
from offload.tenancy.models import ApiKey, User
from offload.work.lifecycle import Status


class RoutingMode(models.TextChoices):
    PULL = "pull", "Pull (workers ask for the next item)"
    PUSH = "push", "Push (items are offered to workers)"


class Queue(TenantOwned):
    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="queues")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    # Items of these languages go here; empty means any language (the default queue).
    languages = models.JSONField(default=list, blank=True)
    # Where business failures wait for a human.
    is_review = models.BooleanField(default=False)
    routing_mode = models.CharField(
        max_length=8, choices=RoutingMode.choices, default=RoutingMode.PULL
    )
    ordering = models.JSONField(
        default=list,
        blank=True,
        help_text='Ordering keys, e.g. ["priority", "due_at", "created_at"]',
    )
    team_leads = models.ManyToManyField(User, blank=True, related_name="led_queues")

    class Meta:
        ordering = ["client_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "slug"], name="queue_slug_per_client")
        ]

    def __str__(self) -> str:
        return self.name


class FailureKind(models.TextChoices):
    BUSINESS = "business", "Business (bad input; a human reviews it)"
    SYSTEM = "system", "System (retried automatically)"


class Outcome(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    NOT_RESOLVED = "not_resolved", "Not resolved"


class WorkItem(TenantOwned):
    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="items")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="items")
    reference = models.CharField(max_length=200, help_text="The client's own id")
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    subject = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=8, blank=True)
    status = models.CharField(
        max_length=20, choices=[(s.value, s.value) for s in Status], default=Status.NEW
    )
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_items"
    )
    tags = models.JSONField(default=list, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    result = models.JSONField(default=dict, blank=True)
    failure_kind = models.CharField(max_length=10, choices=FailureKind.choices, blank=True)
    failure_reason = models.TextField(blank=True)
    attempt = models.PositiveIntegerField(default=1, help_text="1, or n for the n-th system retry")
    completed_at = models.DateTimeField(null=True, blank=True)
    # The SLA engine fills this; routing orders by it.
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "reference"], name="item_reference_per_client"
            )
        ]
        indexes = [
            models.Index(fields=["client", "status"], name="item_client_status"),
            models.Index(
                fields=["queue", "priority", "created_at"],
                name="item_queue_backlog",
                condition=Q(status__in=["queued", "escalated"]),
            ),
            models.Index(fields=["provider", "status"], name="item_provider_status"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.subject}"[:120]


class WorkItemEvent(models.Model):
    """One change to an item: append-only, numbered per item, written with the change."""

    item = models.ForeignKey(WorkItem, on_delete=models.DO_NOTHING, related_name="events")
    client = models.ForeignKey(
        "tenancy.Organisation", on_delete=models.DO_NOTHING, related_name="+"
    )
    provider = models.ForeignKey(
        "tenancy.Organisation", on_delete=models.DO_NOTHING, related_name="+"
    )
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    at = models.DateTimeField(db_index=True)
    actor_user = models.ForeignKey(
        User, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        ApiKey, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["item_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["item", "seq"], name="item_event_seq")]

    def __str__(self) -> str:
        return f"{self.item_id}#{self.seq} {self.type}"


class ItemRetry(TenantOwned):
    """A system failure's automatic retry, due at a time; the `work.system_retry` sweep
    creates the linked retry item and marks the row done in one transaction."""

    item = models.OneToOneField(WorkItem, on_delete=models.PROTECT, related_name="retry")
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    retry_item = models.OneToOneField(
        WorkItem, null=True, blank=True, on_delete=models.PROTECT, related_name="retry_of"
    )

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(
                fields=["due_at"], name="item_retry_due", condition=Q(done_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"retry of {self.item_id} due {self.due_at:%Y-%m-%d %H:%M}"


class Attachment(TenantOwned):
    """A file on an item: uploaded by a person or a bot, or carried by an inbound e-mail.
    Kept as evidence: attachments are added, never edited or deleted through the API."""

    item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to="attachments/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Where it came from: "upload", or "email" for a file carried by an inbound message.
    source = models.CharField(max_length=16, default="upload")

    class Meta:
        ordering = ["item_id", "id"]
        indexes = [models.Index(fields=["item", "id"], name="attachment_item")]

    def __str__(self) -> str:
        return self.filename


class WebhookEndpoint(TenantOwned):
    """A client system that receives the events of the client's items (docs/webhooks.md)."""

    url = models.URLField(max_length=2000)
    # Item event types (docs/events.md), or ["*"] for every type.
    event_types = models.JSONField(default=list)
    # Shown once, on create; signs every delivery (HMAC-SHA256).
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["client_id", "id"]
        indexes = [models.Index(fields=["client", "is_active"], name="webhook_client_active")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead (retries exhausted)"


class WebhookDelivery(TenantOwned):
    """One event owed to one endpoint: the outbox row, written with the event and
    sent by the `work.webhook_delivery` sweep when `next_attempt_at` is due."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(WorkItemEvent, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "item", "id"], name="webhook_delivery_order"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of event {self.event_id} to endpoint {self.endpoint_id}"
