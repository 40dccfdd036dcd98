"""Writes for workers: create, edit, presence, deactivate. Each owns its transaction.

Configuration changes (create, edit, deactivate) are audited in the provider's
chain. Presence changes are not: they are frequent operational facts, and each one
is a row of the append-only presence log (`PresenceChange`) with its actor instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from offload.contracts.models import Channel, Process
from offload.core import errors
from offload.tenancy import audit, validators, visibility
from offload.tenancy.models import Membership, Organisation, OrganisationKind, Site, User
from offload.tenancy.visibility import Principal
from offload.workers.models import (
    AGENT_NEEDS_SITE,
    BOT_FIELDS_ON_AGENT,
    BOT_NEEDS_CONCURRENCY,
    BOT_NEEDS_MODE,
    BotMode,
    Presence,
    PresenceChange,
    Worker,
    WorkerChannel,
    WorkerKind,
)

USER_NOT_MEMBER = "the user must be a member of the provider"
USER_INACTIVE = "the user is deactivated"
ALREADY_A_WORKER = "this user is already a worker"
BOT_USER_AS_AGENT = "a bot user cannot be an agent; make it a bot worker"
NOT_A_BOT_USER = "a bot worker needs a bot user (is_bot)"
OTHER_PROVIDER_SITE = "the site belongs to another provider"
PROCESS_NOT_SERVED = "process '{process}' is not one of this provider's clients' processes"
AGENTS_ONLY = "applies to agents only"
BOT_CHANNELS = "a bot's channels follow from its processes and concurrency"
BAD_SKILL_NAME = "skill '{skill}' must be lower-case letters, digits and underscores"
BAD_SKILL_LEVEL = "skill '{skill}' needs a level from 1 to 5"
BAD_CHANNEL = "'{channel}' is not a channel; use one of: {allowed}"
BAD_CAPACITY = "capacity on '{channel}' must be from 0 to {maximum}"
BAD_CONCURRENCY = "must be from 1 to {maximum}"
BAD_PRESENCE = "'{presence}' is not a presence; use one of: {allowed}"
BAD_KIND = "'{kind}' is not a kind of worker; use agent or bot"
OWN_PRESENCE_ONLY = "you may change only your own presence (worker.manage changes anyone's)"
INACTIVE_STAYS_OFFLINE = "the worker is deactivated: it stays offline until reactivated"
WORKER_NOT_FOUND = "worker not found"

SKILL_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
SKILL_LEVELS = range(1, 6)
# More than this many items at once on one channel is a typo, not a plan.
CAPACITY_MAX = 100
CONCURRENCY_MAX = 1000

WORKER_FIELDS = [
    "user_id",
    "kind",
    "site_id",
    "skills",
    "languages",
    "bot_mode",
    "concurrency",
    "is_active",
]
# The fields worker_update takes in `data` (the kind and the user are for life).
UPDATABLE = frozenset({"site", "skills", "languages", "bot_mode", "concurrency", "is_active"})


# ------------------------------------------------------------------ checks


def _user_problems(provider: Organisation, user: User, kind: str) -> list[tuple[str, str | None]]:
    member = Membership.objects.filter(user=user, organisation=provider).exists()
    problems: list[tuple[str, str | None]] = [
        ("user_id", None if member else USER_NOT_MEMBER),
        ("user_id", None if user.is_active else USER_INACTIVE),
        ("user_id", ALREADY_A_WORKER if Worker.objects.filter(user=user).exists() else None),
    ]
    if kind == WorkerKind.BOT:
        problems.append(("user_id", None if user.is_bot else NOT_A_BOT_USER))
    else:
        problems.append(("user_id", BOT_USER_AS_AGENT if user.is_bot else None))
    return problems


def _problems(
    *,
    provider: Organisation,
    kind: str,
    site: Site | None,
    skills: Mapping[str, Any],
    languages: Sequence[str],
    bot_mode: str,
    concurrency: int | None,
    processes: Sequence[Process] | None,
    channels: Mapping[str, int] | None,
) -> list[tuple[str, str | None]]:
    """Every problem of a worker in this state; None for what was not given."""
    problems: list[tuple[str, str | None]] = []
    if kind == WorkerKind.AGENT:
        problems.append(("site_id", None if site is not None else AGENT_NEEDS_SITE))
        problems.append(("bot_mode", BOT_FIELDS_ON_AGENT if bot_mode else None))
        problems.append(("concurrency", None if concurrency is None else BOT_FIELDS_ON_AGENT))
    elif kind == WorkerKind.BOT:
        problems.append(("bot_mode", None if bot_mode in BotMode.values else BOT_NEEDS_MODE))
        if concurrency is None or concurrency < 1:
            problems.append(("concurrency", BOT_NEEDS_CONCURRENCY))
        elif concurrency > CONCURRENCY_MAX:
            problems.append(("concurrency", BAD_CONCURRENCY.format(maximum=CONCURRENCY_MAX)))
        problems.append(("skills", AGENTS_ONLY if skills else None))
        problems.append(("languages", AGENTS_ONLY if languages else None))
        problems.append(("channels", BOT_CHANNELS if channels else None))
    else:
        problems.append(("kind", BAD_KIND.format(kind=kind)))
    if site is not None and site.provider_id != provider.pk:
        problems.append(("site_id", OTHER_PROVIDER_SITE))
    for skill, level in skills.items():
        if not SKILL_NAME.match(skill):
            problems.append((f"skills.{skill}", BAD_SKILL_NAME.format(skill=skill)))
        ok = isinstance(level, int) and not isinstance(level, bool) and level in SKILL_LEVELS
        problems.append((f"skills.{skill}", None if ok else BAD_SKILL_LEVEL.format(skill=skill)))
    problems.extend(("languages", validators.language_error(lang)) for lang in languages)
    for process in processes or ():
        served = process.provider_id == provider.pk
        problems.append(
            ("process_ids", None if served else PROCESS_NOT_SERVED.format(process=process.slug))
        )
    for channel, capacity in (channels or {}).items():
        if channel not in Channel.values:
            allowed = ", ".join(Channel.values)
            problems.append(("channels", BAD_CHANNEL.format(channel=channel, allowed=allowed)))
        elif not 0 <= capacity <= CAPACITY_MAX:
            message = BAD_CAPACITY.format(channel=channel, maximum=CAPACITY_MAX)
            problems.append(("channels", message))
    return problems


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# ------------------------------------------------------------------ channels


def _channel_map(worker: Worker) -> dict[str, int]:
    return dict(worker.channels.order_by("channel").values_list("channel", "capacity"))


def _bot_channels(worker: Worker) -> dict[str, int]:
    """A bot works every channel of its processes, each up to its concurrency."""
    channels = worker.processes.order_by("channel").values_list("channel", flat=True).distinct()
    return dict.fromkeys(channels, worker.concurrency or 0)


def _set_channels(worker: Worker, wanted: Mapping[str, int]) -> None:
    """Make the worker's channel rows say `wanted`; the routing engine's `load` stays.

    A channel no longer wanted goes, unless the worker still holds work there: then
    its capacity drops to 0, so nothing new comes and the load drains.
    """
    rows = {
        row.channel: row for row in WorkerChannel.objects.select_for_update().filter(worker=worker)
    }
    for channel, row in rows.items():
        if channel in wanted:
            continue
        if row.load == 0:
            row.delete()
        elif row.capacity != 0:
            row.capacity = 0
            row.save(update_fields=["capacity"])
    for channel, capacity in wanted.items():
        existing = rows.get(channel)
        if existing is None:
            WorkerChannel.objects.create(worker=worker, channel=channel, capacity=capacity)
        elif existing.capacity != capacity:
            existing.capacity = capacity
            existing.save(update_fields=["capacity"])


# ------------------------------------------------------------------ create and edit


def _require_manager(actor: Principal, worker: Worker | None = None) -> None:
    visibility.require(actor, "worker.manage")
    visibility.require_side(actor, OrganisationKind.PROVIDER)
    if worker is not None and worker.provider_id != actor.organisation.pk:
        raise errors.NotFound(WORKER_NOT_FOUND)


@transaction.atomic
def worker_create(
    *,
    actor: Principal | None,
    provider: Organisation,
    user: User,
    kind: str,
    site: Site | None = None,
    skills: Mapping[str, int] | None = None,
    languages: Sequence[str] = (),
    processes: Sequence[Process] = (),
    channels: Mapping[str, int] | None = None,
    bot_mode: str = "",
    concurrency: int | None = None,
) -> Worker:
    """Make a provider's user a worker: an agent (site, skills, languages, capacity per
    channel) or a bot (mode and concurrency); both certified on `processes`."""
    if actor is not None:
        _require_manager(actor)
        provider = actor.organisation
    skills = dict(skills or {})
    languages = _unique(languages)
    errors.raise_failures(
        [
            *_user_problems(provider, user, kind),
            *_problems(
                provider=provider,
                kind=kind,
                site=site,
                skills=skills,
                languages=languages,
                bot_mode=bot_mode,
                concurrency=concurrency,
                processes=processes,
                channels=channels,
            ),
        ]
    )
    worker = Worker(
        provider=provider,
        user=user,
        kind=kind,
        site=site,
        skills=skills,
        languages=languages,
        bot_mode=bot_mode,
        concurrency=concurrency,
    )
    try:
        with transaction.atomic():
            worker.save()
    except IntegrityError as exc:  # the same user made a worker by a concurrent request
        raise errors.ValidationFailed.single("user_id", ALREADY_A_WORKER) from exc
    worker.processes.set(processes)
    _set_channels(worker, _bot_channels(worker) if worker.is_bot else dict(channels or {}))
    after = {
        **audit.snapshot(worker, WORKER_FIELDS),
        "process_ids": sorted(p.pk for p in processes),
        "channels": _channel_map(worker),
    }
    audit.record(
        organisation=provider,
        actor=actor,
        action="worker.create",
        obj=worker,
        changes=audit.diff({}, after),
    )
    return worker


def _audited_state(worker: Worker) -> dict[str, Any]:
    return {
        **audit.snapshot(worker, WORKER_FIELDS),
        "process_ids": sorted(worker.processes.values_list("pk", flat=True)),
        "channels": _channel_map(worker),
        "presence": worker.presence,
    }


@transaction.atomic
def worker_update(
    *,
    actor: Principal | None,
    worker: Worker,
    data: Mapping[str, Any],
    processes: Sequence[Process] | None = None,
    channels: Mapping[str, int] | None = None,
) -> Worker:
    """Edit a worker. `processes` and `channels`, when given, replace the current ones;
    `is_active: False` deactivates (see worker_deactivate)."""
    if actor is not None:
        _require_manager(actor, worker)
    unknown = set(data) - UPDATABLE
    if unknown:
        raise TypeError(f"worker_update does not take {sorted(unknown)}")
    worker = Worker.objects.select_for_update().select_related("provider").get(pk=worker.pk)
    state = {field: data.get(field, getattr(worker, field)) for field in UPDATABLE}
    if "languages" in data:
        state["languages"] = _unique(data["languages"])
    errors.raise_failures(
        _problems(
            provider=worker.provider,
            kind=worker.kind,
            site=state["site"],
            skills=state["skills"],
            languages=state["languages"],
            bot_mode=state["bot_mode"] or "",
            concurrency=state["concurrency"],
            processes=processes,
            channels=channels,
        )
    )
    before = _audited_state(worker)
    deactivating = worker.is_active and state["is_active"] is False
    changed = [f for f in sorted(UPDATABLE & set(data)) if getattr(worker, f) != state[f]]
    for field in changed:
        setattr(worker, field, state[field])
    if changed:
        worker.save(update_fields=[*changed, "updated_at"])
    if processes is not None:
        worker.processes.set(processes)
    if worker.is_bot:
        _set_channels(worker, _bot_channels(worker))
    elif channels is not None:
        _set_channels(worker, channels)
    if deactivating:
        _change_presence(worker, Presence.OFFLINE, actor=actor)
    changes = audit.diff(before, _audited_state(worker))
    if changes and not changed:
        # Certifications and channels are rows of their own; the worker's updated_at
        # still moves, because routing keeps a worker's context until it does.
        worker.save(update_fields=["updated_at"])
    if changes:
        action = "worker.deactivate" if deactivating else "worker.update"
        audit.record(
            organisation=worker.provider, actor=actor, action=action, obj=worker, changes=changes
        )
    return worker


@transaction.atomic
def worker_deactivate(*, actor: Principal | None, worker: Worker) -> Worker:
    """Stop routing to the worker: inactive and offline. Its history stays; the work it
    holds stays with it until reassigned. Reactivate with `is_active: True`."""
    return worker_update(actor=actor, worker=worker, data={"is_active": False})


# ------------------------------------------------------------------ presence


def _change_presence(
    worker: Worker, presence: str, *, actor: Principal | None, now: datetime | None = None
) -> bool:
    """Set the (locked) worker's presence and log the change; False if it was already so."""
    if worker.presence == presence:
        return False
    now = now or timezone.now()
    previous = worker.presence
    worker.presence = presence
    worker.presence_changed_at = now
    if presence == Presence.AVAILABLE:
        holds_work = WorkerChannel.objects.filter(worker=worker, load__gt=0).exists()
        worker.idle_since = None if holds_work else now
    else:
        worker.idle_since = None
    worker.save(update_fields=["presence", "presence_changed_at", "idle_since", "updated_at"])
    PresenceChange.objects.create(
        worker=worker,
        provider_id=worker.provider_id,
        presence=presence,
        previous=previous,
        at=now,
        actor_user=actor.user if actor else None,
        actor_label=actor.label if actor else audit.SYSTEM_ACTOR,
    )
    return True


@transaction.atomic
def worker_set_presence(
    *, actor: Principal | None, worker: Worker, presence: str, now: datetime | None = None
) -> Worker:
    """A worker's own presence change, or a manager's for anyone; logged, never audited.

    The same presence again is a no-op and logs nothing."""
    if presence not in Presence.values:
        allowed = ", ".join(Presence.values)
        raise errors.ValidationFailed.single(
            "presence", BAD_PRESENCE.format(presence=presence, allowed=allowed)
        )
    if actor is not None:
        visibility.require(actor, "worker.presence")
        if worker.provider_id != actor.organisation.pk:
            raise errors.NotFound(WORKER_NOT_FOUND)
        own = actor.user is not None and actor.user.pk == worker.user_id
        if not own and not visibility.allowed(actor, "worker.manage"):
            raise errors.PermissionDenied(OWN_PRESENCE_ONLY)
    locked = Worker.objects.select_for_update().get(pk=worker.pk)
    if not locked.is_active and presence != Presence.OFFLINE:
        raise errors.Conflict(INACTIVE_STAYS_OFFLINE)
    _change_presence(locked, presence, actor=actor, now=now)
    return locked
