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


class PushStrategy(models.TextChoices):
    LONGEST_IDLE = "longest_idle", "Longest idle first"
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_LOADED = "least_loaded", "Least loaded first"


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
    # Routing (docs/routing.md): bullseye steps [{"after_minutes", "skill_drop",
    # "languages"}], how long a lease lasts without work or a heartbeat, and for push
    # queues how long an offer waits and who is offered first.
    relaxation = models.JSONField(default=list, blank=True)
    lease_seconds = models.PositiveIntegerField(default=600)
    offer_timeout_seconds = models.PositiveIntegerField(default=30)
    push_strategy = models.CharField(
        max_length=16, choices=PushStrategy.choices, default=PushStrategy.LONGEST_IDLE
    )

    class Meta:
        ordering = ["client_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "slug"], name="queue_slug_per_client")
        ]

    def __str__(self) -> str:
        return self.name


class RoutingVersion(models.Model):
    """How often a provider's processes and queues have changed. On PostgreSQL,
    triggers count every insert, change and delete of either (migration 0015), so a
    worker's kept routing context is checked against one number, not by reading
    every process and queue it covers (docs/routing.md)."""

    # No constraint: the triggers may count a process deleted with its provider, in the
    # same transaction, after the provider's row is gone; the orphan row is harmless.
    provider = models.OneToOneField(
        "tenancy.Organisation",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        primary_key=True,
        related_name="+",
    )
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"routing version {self.version} of provider {self.provider_id}"


class FailureKind(models.TextChoices):
    BUSINESS = "business", "Business (bad input; a human reviews it)"
    SYSTEM = "system", "System (retried automatically)"


class Outcome(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    NOT_RESOLVED = "not_resolved", "Not resolved"


class WorkItem(TenantOwned):
    # Not columns: set by a query that reads them along with the item (pgcycle's
    # statements), so the API's answer need not follow `process` and `queue`.
    process_slug: str
    queue_slug: str

    # Covered by the (client, status) and (provider, status) indexes; a status change
    # rewrites every index of the row, so none is kept twice.
    client = models.ForeignKey(
        "tenancy.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    provider = models.ForeignKey(
        "tenancy.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
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
    # When it last entered a queue (None: at creation); relaxation steps count from it.
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "reference"], name="item_reference_per_client"
            )
        ]
        indexes = [
            models.Index(fields=["client", "status"], name="item_client_status"),
            # The head of a queue's backlog in the pull's order (offload.work.pgcycle).
            models.Index(
                fields=["queue", "priority", "due_at", "created_at", "id"],
                name="item_queue_backlog",
                condition=Q(status__in=["queued", "escalated"]),
            ),
            # The same per language: a worker's pull steps over no other language's
            # items. Written only while an item is queued, as the one above.
            models.Index(
                fields=["queue", "language", "priority", "due_at", "created_at", "id"],
                name="item_queue_language_backlog",
                condition=Q(status__in=["queued", "escalated"]),
            ),
            models.Index(fields=["provider", "status"], name="item_provider_status"),
            # A provider's backlog in the pull's order: a pull reads its head first
            # (offload.work.pgcycle). Written only while an item is queued.
            models.Index(
                fields=["provider", "priority", "due_at", "created_at", "id"],
                name="item_provider_backlog",
                condition=Q(status__in=["queued", "escalated"]),
            ),
            # The pull's order across queues (offload.work.leases): read in order,
            # stopping at the first eligible row that is not locked.
            models.Index(
                fields=["priority", "due_at", "created_at", "id"],
                name="item_backlog_order",
                condition=Q(status__in=["queued", "escalated"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.subject}"[:120]


class Assignment(TenantOwned):
    """A worker's lease on an item: at most one open per item (a partial unique
    index), ended by completing, failing, releasing, transferring, waiting on the
    client, escalating, cancelling or expiring (docs/routing.md)."""

    # No index of its own where a composite one leads with the column: every pull
    # inserts a lease and every completion rewrites it (docs/routing.md#throughput).
    created_at = models.DateTimeField(auto_now_add=True)
    item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="assignments")
    worker = models.ForeignKey(
        "workers.Worker", on_delete=models.PROTECT, related_name="assignments", db_index=False
    )
    assigned_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    # pull, push (an accepted offer) or manual (a team lead's assignment).
    how = models.CharField(max_length=8)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, blank=True)
    # Handle time = working time + wrap-up; capacity is held until wrap_up_until.
    work_seconds = models.PositiveIntegerField(default=0)
    wrap_up_until = models.DateTimeField(null=True, blank=True)
    wrap_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(ended_at__isnull=True), name="one_open_lease_per_item"
            )
        ]
        indexes = [
            models.Index(
                fields=["lease_expires_at"],
                name="assignment_lease_due",
                condition=Q(ended_at__isnull=True),
            ),
            models.Index(
                fields=["wrap_up_until"],
                name="assignment_wrap_up_due",
                condition=Q(wrap_up_until__isnull=False, wrap_seconds=0),
            ),
            models.Index(fields=["worker", "ended_at"], name="assignment_worker"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} held by worker {self.worker_id}"


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"
    # Ended by someone else (a team lead assigned the item): the worker did not say no,
    # so a later pass may offer the item to that worker again.
    WITHDRAWN = "withdrawn", "Withdrawn"


class Offer(TenantOwned):
    """A push queue's offer of an item to one worker, open until accepted, declined,
    its timeout, or withdrawn; at most one open offer per item."""

    item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="offers")
    worker = models.ForeignKey("workers.Worker", on_delete=models.PROTECT, related_name="offers")
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(status="open"), name="one_open_offer_per_item"
            )
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="offer_open_due", condition=Q(status="open")),
            models.Index(fields=["worker", "status"], name="offer_worker_status"),
        ]

    def __str__(self) -> str:
        return f"offer of item {self.item_id} to worker {self.worker_id}"


class WorkItemEvent(models.Model):
    """One change to an item: append-only, numbered per item, written with the change."""

    # Read by item (the (item, seq) key) and by time; every change writes one, so
    # the table keeps no other index.
    item = models.ForeignKey(
        WorkItem, on_delete=models.DO_NOTHING, related_name="events", db_index=False
    )
    client = models.ForeignKey(
        "tenancy.Organisation", on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )
    provider = models.ForeignKey(
        "tenancy.Organisation", on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    at = models.DateTimeField(db_index=True)
    actor_user = models.ForeignKey(
        User, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        ApiKey,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
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


class Mailbox(TenantOwned):
    """An address of a process of channel email: mail to it becomes items of the
    process, and the process's answers go out from it (docs/email.md). Mail arrives by
    `offload smtpd`, or by polling the IMAP mailbox described here."""

    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="mailboxes")
    # Lower-cased; unique across the installation, since it is where mail is routed.
    address = models.EmailField(max_length=254, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # Answer new mail with "we received your request" (never automatic mail, never
    # past the per-sender limit).
    auto_acknowledge = models.BooleanField(default=False)
    imap_host = models.CharField(max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_username = models.CharField(max_length=255, blank=True)
    # Fernet token under a key derived from SECRET_KEY (offload.work.mailboxes); never
    # returned by the API.
    imap_password_encrypted = models.TextField(blank=True)
    imap_folder = models.CharField(max_length=255, default="INBOX")
    imap_use_ssl = models.BooleanField(default=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_poll_error = models.TextField(blank=True)

    class Meta:
        ordering = ["client_id", "address"]
        indexes = [
            models.Index(
                fields=["next_poll_at"],
                name="mailbox_poll_due",
                condition=Q(is_active=True) & ~Q(imap_host=""),
            )
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def has_imap(self) -> bool:
        return bool(self.imap_host)


class EmailDirection(models.TextChoices):
    INBOUND = "inbound", "Inbound (from the customer)"
    OUTBOUND = "outbound", "Outbound (to the customer)"


class EmailStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PENDING = "pending", "Pending (in the outbox)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (retries exhausted or refused)"


class EmailMessage(TenantOwned):
    """One e-mail of an item's conversation, in or out. Outbound rows are the outbox:
    written with the reply, sent by the `work.email_send` sweep."""

    item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="emails")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=8, choices=EmailDirection.choices)
    # Without angle brackets. Unique per mailbox: one message sent to two mailboxes
    # (of two clients, say) is one message of each.
    message_id = models.CharField(max_length=998)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True, help_text="Message ids, space-separated")
    from_address = models.CharField(max_length=254)
    from_name = models.CharField(max_length=200, blank=True)
    # Where an answer goes when it is not the sender.
    reply_to = models.CharField(max_length=254, blank=True)
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    text_body = models.TextField(blank=True)
    # As received; shown only after sanitising (nh3).
    html_body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # An automatic message: an out-of-office or a bounce in, an acknowledgement out.
    is_auto = models.BooleanField(default=False)
    auto_reason = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["item_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "message_id"], name="email_message_id_per_mailbox"
            )
        ]
        indexes = [
            models.Index(fields=["client", "message_id"], name="email_client_message_id"),
            models.Index(fields=["item", "id"], name="email_item"),
            models.Index(
                fields=["next_attempt_at"],
                name="email_outbox_due",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["mailbox", "from_address", "created_at"], name="email_sender_recent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.message_id}"


class ClockState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"
    CANCELLED = "cancelled", "Cancelled"


class SlaClock(TenantOwned):
    """One SLA clock of an item, per time metric of its policy (offload.sla.clock).

    `data` is the pure clock as `Clock.to_dict()` gives it, the row's truth; the
    other columns copy what queries need (state, due times, the next check).

    A tick rewrites the row and moves an indexed column (next_check_at), so every
    index is written again: the table keeps only the indexes its readers use (the
    sweep's, the (item, metric) key, attainment's (client, stopped_at))."""

    created_at = models.DateTimeField(auto_now_add=True)
    client = models.ForeignKey(
        "tenancy.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    provider = models.ForeignKey(
        "tenancy.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    item = models.ForeignKey(
        WorkItem, on_delete=models.CASCADE, related_name="clocks", db_index=False
    )
    metric = models.CharField(max_length=32)
    policy = models.ForeignKey(
        "contracts.SlaPolicy", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # The priority the target was chosen for (a reclassification changes it).
    priority = models.CharField(max_length=2, choices=Priority.choices)
    state = models.CharField(max_length=10, choices=ClockState.choices)
    target = models.DurationField()
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    original_due_at = models.DateTimeField()
    paused = models.DurationField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    fired = models.JSONField(default=list, blank=True)
    # When the next warning or the breach falls due; None when nothing can.
    next_check_at = models.DateTimeField(null=True, blank=True)
    breached = models.BooleanField(default=False)
    data = models.JSONField()

    class Meta:
        ordering = ["item_id", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["item", "metric"], name="sla_clock_per_metric")
        ]
        indexes = [
            # The SLA sweep reads clocks in order of their next check, due ones only.
            models.Index(
                fields=["next_check_at"],
                name="sla_clock_next_check",
                condition=Q(next_check_at__isnull=False),
            ),
            models.Index(fields=["client", "stopped_at"], name="sla_clock_client_stopped"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.metric} {self.state}"


class EscalationRule(TenantOwned):
    """What happens when a clock of a policy warns or breaches. Rules follow the
    policy's slug, so every version of the policy keeps them."""

    policy_slug = models.SlugField(max_length=80)
    metric = models.CharField(max_length=32)
    # The threshold that triggers it: a warning percent, or 100 for the breach.
    on_percent = models.PositiveSmallIntegerField()
    raise_priority = models.BooleanField(default=False)
    notify_team_leads = models.BooleanField(default=False)
    move_to_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notify_client = models.BooleanField(
        default=False, help_text="Emit an sla_escalated webhook event to the client"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["client_id", "policy_slug", "metric", "on_percent", "id"]

    def __str__(self) -> str:
        return f"{self.policy_slug} {self.metric} at {self.on_percent}%"


class AttainmentMonth(TenantOwned):
    """One line of a frozen month of SLA attainment (offload.work.attainment): what
    the clocks of an engagement measured in a month for a time metric and priority,
    kept as it was when the month was frozen and never recomputed."""

    engagement = models.ForeignKey(
        "contracts.Engagement", on_delete=models.PROTECT, related_name="+"
    )
    month = models.DateField(help_text="The month's first day; months are taken in UTC")
    metric = models.CharField(max_length=32)
    priority = models.CharField(max_length=2, choices=Priority.choices)
    measured = models.PositiveIntegerField()
    met = models.PositiveIntegerField()
    missed = models.PositiveIntegerField()
    # met / measured in percent, cut to two places; None when nothing was measured.
    attainment_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # The target's attainment_percent; None when the version had no target for it.
    target_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    target_met = models.BooleanField()
    # The policy version whose target applied (the one most of the clocks ran on).
    policy = models.ForeignKey(
        "contracts.SlaPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    frozen_at = models.DateTimeField()
    frozen_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["engagement_id", "-month", "metric", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "month", "metric", "priority"], name="attainment_month_line"
            ),
            models.CheckConstraint(
                condition=Q(measured=models.F("met") + models.F("missed")),
                name="attainment_month_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.month:%Y-%m} {self.metric} {self.priority}"
