"""Workers: the provider's agents and bots, their skills, certifications, capacity
per channel and presence.

An agent and a bot are both a `Worker`: the same queues, SLAs and accounting. The
routing engine (offload.work) claims work for a worker with one SQL statement over
these tables: an available, active worker (`worker_available_idle`), certified on
the item's process (the `processes` join table, unique per worker and process), with
free capacity on the item's channel (`worker_channel_free`), longest idle first.
See docs/workers.md.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from offload.contracts.models import Channel, Process
from offload.core.models import TimeStampedModel
from offload.tenancy.models import Organisation, Site, User


class WorkerKind(models.TextChoices):
    AGENT = "agent", "Agent"
    BOT = "bot", "Bot"


class Presence(models.TextChoices):
    AVAILABLE = "available", "Available"  # takes new work
    BUSY = "busy", "Busy"  # signed in, finishing work, takes nothing new
    AWAY = "away", "Away"  # a break, a meeting, training
    OFFLINE = "offline", "Offline"


class BotMode(models.TextChoices):
    ATTENDED = "attended", "Attended (an agent triggers it on an item)"
    UNATTENDED = "unattended", "Unattended (pulls items from queues)"


AGENT_NEEDS_SITE = "an agent needs a site"
BOT_FIELDS_ON_AGENT = "applies to bots only"
BOT_NEEDS_MODE = "a bot needs a mode: attended or unattended"
BOT_NEEDS_CONCURRENCY = "a bot needs a concurrency of at least 1"


class Worker(TimeStampedModel):
    """One agent or bot of a provider; one worker per user."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="workers")
    # The agent's login, or the bot user whose API key the bot acts through.
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="worker")
    kind = models.CharField(max_length=8, choices=WorkerKind.choices)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="workers"
    )
    # Agents only (a bot's eligibility is its processes): {skill: level 1-5}.
    skills = models.JSONField(default=dict, blank=True, help_text="{skill: level 1-5}")
    languages = models.JSONField(default=list, blank=True, help_text="ISO 639-1 codes")
    # Certified on (an agent) or eligible for (a bot): only these processes' items.
    processes = models.ManyToManyField(
        Process, blank=True, related_name="certified_workers", verbose_name="certified processes"
    )
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.OFFLINE)
    presence_changed_at = models.DateTimeField(null=True, blank=True)
    # Bots only: attended or unattended, and how many items it holds at once (its
    # capacity on each channel of its processes; see WorkerChannel).
    bot_mode = models.CharField(max_length=10, choices=BotMode.choices, blank=True)
    concurrency = models.PositiveSmallIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # Since when the worker has been available with nothing on it: the push router
    # offers to the longest idle first. Set when it becomes available with no load
    # and by the routing engine when its load drops to 0; None while it holds work
    # or is not available.
    idle_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider_id", "kind", "user_id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=WorkerKind.values), name="worker_kind"),
            models.CheckConstraint(
                condition=Q(presence__in=Presence.values), name="worker_presence"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind=WorkerKind.AGENT, site__isnull=False, bot_mode="", concurrency__isnull=True
                )
                | Q(kind=WorkerKind.BOT, bot_mode__in=BotMode.values, concurrency__gte=1),
                name="worker_fields_of_kind",
            ),
        ]
        indexes = [
            # The routing engine's candidates: a provider's available workers, longest idle first.
            models.Index(
                fields=["provider", "idle_since"],
                name="worker_available_idle",
                condition=Q(presence=Presence.AVAILABLE, is_active=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.get_full_name() or self.user.username} ({self.kind})"

    @property
    def is_bot(self) -> bool:
        return self.kind == WorkerKind.BOT

    def clean(self) -> None:
        """The rules of the kind, for forms (the services check them field by field)."""
        problems: dict[str, str] = {}
        if self.kind == WorkerKind.AGENT:
            if self.site_id is None:
                problems["site"] = AGENT_NEEDS_SITE
            if self.bot_mode:
                problems["bot_mode"] = BOT_FIELDS_ON_AGENT
            if self.concurrency is not None:
                problems["concurrency"] = BOT_FIELDS_ON_AGENT
        elif self.kind == WorkerKind.BOT:
            if not self.bot_mode:
                problems["bot_mode"] = BOT_NEEDS_MODE
            if not self.concurrency:
                problems["concurrency"] = BOT_NEEDS_CONCURRENCY
        if problems:
            raise ValidationError(problems)


class WorkerChannel(models.Model):
    """A worker's capacity on one channel and what it holds there now.

    `load` is maintained by the routing engine. It may exceed `capacity` when an
    admin lowers the capacity of a busy worker: no new work comes until it drains.
    A bot has one row per channel of its processes, with capacity = its concurrency.
    """

    # Led by the (worker, channel) key: no index of its own (load changes rewrite them).
    worker = models.ForeignKey(
        Worker, on_delete=models.CASCADE, related_name="channels", db_index=False
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    capacity = models.SmallIntegerField()
    load = models.SmallIntegerField(default=0)

    class Meta:
        ordering = ["worker_id", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["worker", "channel"], name="worker_channel_unique"),
            models.CheckConstraint(condition=Q(capacity__gte=0), name="worker_channel_capacity"),
            models.CheckConstraint(condition=Q(load__gte=0), name="worker_channel_load"),
        ]
        indexes = [
            # "Workers with free capacity on channel X": only rows with room are indexed.
            models.Index(
                fields=["channel", "worker"],
                name="worker_channel_free",
                condition=Q(load__lt=F("capacity")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.load}/{self.capacity}"

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.load)


class PresenceChange(models.Model):
    """One change of a worker's presence: append-only (workforce adherence reads it)."""

    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="presence_changes")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    presence = models.CharField(max_length=10, choices=Presence.choices)
    previous = models.CharField(max_length=10, choices=Presence.choices)
    at = models.DateTimeField()
    # Plain id like the audit trail's: who made the change (the worker, a manager, a sweep).
    actor_user = models.ForeignKey(
        User, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["worker_id", "at", "id"]
        indexes = [
            models.Index(fields=["worker", "at"], name="presence_change_worker_at"),
            models.Index(fields=["provider", "at"], name="presence_change_provider_at"),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.previous} -> {self.presence} at {self.at:%Y-%m-%d %H:%M}"
