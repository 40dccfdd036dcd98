"""Organisations, sites, people, roles, API keys and the audit trail."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from offload.core.models import TimeStampedModel


class OrganisationKind(models.TextChoices):
    PROVIDER = "provider", "Provider"
    CLIENT = "client", "Client"


class Organisation(TimeStampedModel):
    kind = models.CharField(max_length=16, choices=OrganisationKind.choices)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    timezone = models.CharField(max_length=64, help_text="IANA time zone")
    currency = models.CharField(max_length=3, help_text="ISO 4217")
    # The provider that onboarded a client: it may see and configure the client
    # before their first engagement exists.
    onboarded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="onboarded"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_provider(self) -> bool:
        return self.kind == OrganisationKind.PROVIDER


class Site(TimeStampedModel):
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    country = models.CharField(max_length=2)
    timezone = models.CharField(max_length=64)
    languages = models.JSONField(default=list, help_text="ISO 639-1 codes spoken at the site")
    hourly_cost = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Loaded cost of one agent hour"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "slug"], name="site_slug_per_provider")
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    is_bot = models.BooleanField(
        default=False, help_text="A non-human user for automation; signs in by API key only."
    )
    # The user's own choice (docs/notifications.md): every notification is in the inbox;
    # this adds an e-mail copy of each.
    notify_by_email = models.BooleanField(
        default=False, help_text="Also send each in-app notification by e-mail."
    )

    class Meta:
        ordering = ["username"]


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    OPS_MANAGER = "ops_manager", "Operations manager"
    TEAM_LEAD = "team_lead", "Team lead"
    AGENT = "agent", "Agent"
    QA_ANALYST = "qa_analyst", "QA analyst"
    WFM_PLANNER = "wfm_planner", "Workforce planner"
    FINANCE = "finance", "Finance"
    BOT = "bot", "Bot"
    CLIENT_ADMIN = "client_admin", "Client admin"
    CLIENT_VIEWER = "client_viewer", "Client viewer"


PROVIDER_ROLES = frozenset(
    {
        Role.ADMIN,
        Role.OPS_MANAGER,
        Role.TEAM_LEAD,
        Role.AGENT,
        Role.QA_ANALYST,
        Role.WFM_PLANNER,
        Role.FINANCE,
        Role.BOT,
    }
)
CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_VIEWER})


class Membership(TimeStampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=32, choices=Role.choices)

    class Meta:
        ordering = ["organisation_id", "user_id", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"], name="membership_unique_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} @ {self.organisation}"


class ApiScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"


class ApiKey(TimeStampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="api_keys"
    )
    # A key may act as one user of its organisation (a bot's key acts as the bot).
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True, help_text="Shown to identify the key")
    # SHA-256 of the whole secret: checked on every request, so a fast digest of a
    # high-entropy secret, not a slow password hash.
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True, help_text="Set by the expiry sweep")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation_id", "name"]
        indexes = [
            # The expiry sweep's index: live keys with a due time.
            models.Index(
                fields=["expires_at"],
                name="api_key_expiry_due",
                condition=Q(expired_at__isnull=True, revoked_at__isnull=True)
                & Q(expires_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expired_at is None


class AuditEvent(models.Model):
    """One configuration or access write, append-only and hash-chained per organisation."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    # Actor columns are plain ids so deleting a user never has to touch the trail.
    actor_user = models.ForeignKey(
        User, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        ApiKey, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, help_text="{field: [before, after]}")
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["organisation_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "seq"], name="audit_seq_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class AuditChainHead(models.Model):
    """The newest link of one organisation's chain; locking it orders that chain only."""

    organisation = models.OneToOneField(
        Organisation, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"chain of organisation {self.organisation_id} at seq {self.seq}"


class Notification(models.Model):
    """One message in one user's inbox (docs/notifications.md); only its recipient sees it."""

    # The inbox indexes below start with the recipient, so the foreign key needs none.
    recipient = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    # The tenant it concerns: the recipient's organisation.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40, help_text="e.g. sla_warning, sla_breach")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True, help_text="A path on this site")
    # Set by a sender that may run twice (a retried sweep): one notification per
    # recipient and key, however often it is sent.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The inbox, newest first (pages go by id, which follows created_at).
            models.Index(fields=["recipient", "-id"], name="notification_inbox"),
            # The unread badge's count and the unread filter: unread rows only.
            models.Index(
                fields=["recipient", "-id"],
                name="notification_unread",
                condition=Q(read_at__isnull=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                name="notification_dedupe_per_recipient",
                condition=Q(dedupe_key__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
