"""Writes for engagements, documents, calendars, SLA policies, rate cards and processes.

Each service checks the actor's permission, validates every field it is given
(answering all the bad ones at once), writes in one transaction and audits.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import jsonschema
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from offload.contracts import lifecycle
from offload.contracts.models import (
    DEFAULT_ATTAINMENT_PERCENT,
    BusinessCalendar,
    Channel,
    Comparison,
    ContractDocument,
    Engagement,
    Metric,
    PricingUnit,
    Process,
    RateCard,
    RecomputeKind,
    SlaPolicy,
    SlaRecompute,
    SlaTarget,
    SopVersion,
    Unit,
    default_pause_statuses,
    default_warning_percents,
)
from offload.core import errors
from offload.sla import spec as calendar_spec
from offload.tenancy import audit, validators, visibility
from offload.tenancy.models import Organisation, OrganisationKind
from offload.tenancy.services import save_unique, update_model
from offload.tenancy.visibility import Principal

ILLEGAL_MOVE = "cannot move from '{current}' to '{target}'; allowed: {allowed}"
NOT_A_CLIENT = "must be a client organisation"
NOT_A_PROVIDER = "must be a provider organisation"
DATES_REVERSED = "must not be before effective_from"
BAD_SCHEMA = "is not a valid JSON Schema: {reason}"
BAD_SKILL_LEVEL = "skill '{skill}' needs a level from 1 to 5"
BAD_UNIT = "'{unit}' does not fit metric '{metric}'; use one of: {allowed}"
BAD_COMPARISON = "'{comparison}' does not fit metric '{metric}'; use '{expected}'"
BAD_TERMS = 'must be {{}} or {{"percent_of_fees": "<0-100>"}}'
DUPLICATE_TARGET = "metric '{metric}' priority '{priority}' appears twice"
NOT_POSITIVE = "must be greater than zero"
NEGATIVE = "must not be negative"
BAD_TIERS = 'must be a list of {"from_volume": <int >= 0>, "price": "<decimal>"}'
OTHER_ENGAGEMENT = "belongs to another engagement"
SUPERSEDED_POLICY = "version {version} is superseded; use the current version"
OUT_OF_RANGE = "must be at most {maximum} {unit}"
SCORE_RANGE = "a score must be from 1 to 5"
BAD_WINDOW = "'{window}' is not a measurement window; use one of: {allowed}"
NO_BODY = "a document needs a body or a file"
BAD_PAUSE_STATUS = "'{status}' is not a status a clock can pause in; use one of: {allowed}"
NOT_A_PERCENT = "{value!r} is not a whole percent"
WARNING_RANGE = "{value} is not from {low} to {high}"
NOT_ASCENDING = "must be strictly ascending, each threshold above the one before"
TOO_MANY_WARNINGS = "at most {maximum} thresholds"
NOT_A_LIST = "must be a list"
PERCENT_RANGE = "must be from 0 to 100"

# What each metric is measured in and how it is compared.
METRIC_UNITS: dict[str, tuple[frozenset[str], str]] = {
    Metric.FIRST_RESPONSE: (
        frozenset({Unit.BUSINESS_MINUTES, Unit.BUSINESS_HOURS, Unit.BUSINESS_DAYS}),
        Comparison.WITHIN,
    ),
    Metric.TURNAROUND: (
        frozenset({Unit.BUSINESS_MINUTES, Unit.BUSINESS_HOURS, Unit.BUSINESS_DAYS}),
        Comparison.WITHIN,
    ),
    Metric.ACCURACY: (frozenset({Unit.PERCENT}), Comparison.AT_LEAST),
    Metric.QUALITY_SCORE: (frozenset({Unit.PERCENT}), Comparison.AT_LEAST),
    Metric.CSAT: (frozenset({Unit.SCORE, Unit.PERCENT}), Comparison.AT_LEAST),
    Metric.ABANDONMENT_RATE: (frozenset({Unit.PERCENT}), Comparison.AT_MOST),
}
# Measurement windows a target may be reported over.
WINDOWS = ("monthly",)
# Statuses of the work-item lifecycle (offload.work.lifecycle.Status, an app above
# this one, so named here rather than imported) in which an SLA clock may pause: the
# client owes an answer, a specialist has the item, or a system failure awaits its
# retry. Every other status either runs the clock or has stopped it for good.
PAUSABLE_STATUSES = ("escalated", "failed", "waiting_on_client")
# When a running clock warns, as percents of its target: a few ascending thresholds.
WARNING_PERCENT_RANGE = (1, 99)
MAX_WARNINGS = 5


def _require_engagement_side(actor: Principal | None, engagement: Engagement) -> None:
    if actor is not None and not visibility.can_see(actor, engagement):
        raise errors.NotFound("engagement not found")


def _tenant(engagement: Engagement) -> dict[str, Organisation]:
    return {"client": engagement.client, "provider": engagement.provider}


def _created(actor: Principal | None, obj: Any, fields: list[str], action: str) -> None:
    audit.record_created(
        organisation=obj.client,
        actor=actor,
        action=action,
        obj=obj,
        fields=fields,
    )


# ------------------------------------------------------------------ engagements

ENGAGEMENT_FIELDS = ["name", "slug", "description", "status", "client_id", "provider_id"]


@transaction.atomic
def engagement_create(
    *,
    actor: Principal | None,
    client: Organisation,
    provider: Organisation,
    name: str,
    slug: str = "",
    description: str = "",
) -> Engagement:
    if actor is not None:
        visibility.require(actor, "engagement.manage")
        visibility.require_side(actor, OrganisationKind.PROVIDER)
        provider = actor.organisation
    errors.raise_failures(
        [
            ("client_id", None if client.kind == OrganisationKind.CLIENT else NOT_A_CLIENT),
            ("provider_id", None if provider.kind == OrganisationKind.PROVIDER else NOT_A_PROVIDER),
        ]
    )
    slug = slug or slugify(name)
    engagement = Engagement(
        client=client, provider=provider, name=name, slug=slug, description=description
    )
    save_unique(engagement, field="slug", value=slug, save=engagement.save)
    _created(actor, engagement, ENGAGEMENT_FIELDS, "engagement.create")
    return engagement


@transaction.atomic
def engagement_update(
    *, actor: Principal, engagement: Engagement, data: Mapping[str, Any]
) -> Engagement:
    visibility.require(actor, "engagement.manage")
    return update_model(
        actor=actor,
        organisation=engagement.client,
        obj=engagement,
        data=data,
        action="engagement.update",
    )


@transaction.atomic
def engagement_transition(
    *, actor: Principal | None, engagement: Engagement, status: str
) -> Engagement:
    """Move the engagement along its lifecycle; an illegal move is a 409 naming the legal ones."""
    if actor is not None:
        visibility.require(actor, "engagement.manage")
    locked = Engagement.objects.select_for_update().get(pk=engagement.pk)
    current = lifecycle.Stage(locked.status)
    try:
        target = lifecycle.Stage(status)
    except ValueError as exc:
        raise errors.ValidationFailed.single(
            "status", f"'{status}' is not a stage; use one of: {', '.join(lifecycle.Stage)}"
        ) from exc
    allowed = lifecycle.allowed_moves(current)
    if target not in allowed:
        raise errors.Conflict(
            ILLEGAL_MOVE.format(
                current=current, target=target, allowed=", ".join(allowed) or "none (final)"
            ),
            current=str(current),
            allowed=[str(a) for a in allowed],
        )
    locked.status = target
    locked.status_changed_at = timezone.now()
    locked.save(update_fields=["status", "status_changed_at", "updated_at"])
    audit.record(
        organisation=locked.client,
        actor=actor,
        action="engagement.transition",
        obj=locked,
        changes={"status": [str(current), str(target)]},
    )
    return locked


# ------------------------------------------------------------------ documents

DOCUMENT_FIELDS = [
    "kind",
    "title",
    "version",
    "effective_from",
    "effective_to",
    "signed_on",
    "signed_by_client",
    "signed_by_provider",
    "file",
]


@transaction.atomic
def document_create(
    *,
    actor: Principal | None,
    engagement: Engagement,
    kind: str,
    title: str,
    effective_from: date,
    effective_to: date | None = None,
    signed_on: date | None = None,
    signed_by_client: str = "",
    signed_by_provider: str = "",
    body: str = "",
    file: UploadedFile | None = None,
) -> ContractDocument:
    """Add a document; if one of the same kind exists, this is its next version and
    supersedes it (the old version stays, marked superseded)."""
    if actor is not None:
        visibility.require(actor, "document.manage")
    _require_engagement_side(actor, engagement)
    errors.raise_failures(
        [
            (
                "effective_to",
                DATES_REVERSED if effective_to and effective_to < effective_from else None,
            ),
            ("body", None if body or file else NO_BODY),
        ]
    )
    # Lock the engagement so two uploads of the same kind cannot take one version.
    Engagement.objects.select_for_update().filter(pk=engagement.pk).first()
    previous = (
        ContractDocument.objects.filter(engagement=engagement, kind=kind, superseded_by=None)
        .order_by("-version")
        .first()
    )
    document = ContractDocument(
        engagement=engagement,
        kind=kind,
        title=title,
        version=(previous.version + 1) if previous else 1,
        effective_from=effective_from,
        effective_to=effective_to,
        signed_on=signed_on,
        signed_by_client=signed_by_client,
        signed_by_provider=signed_by_provider,
        body=body,
        **_tenant(engagement),
    )
    if file is not None:
        document.file.save(file.name or "document", file, save=False)
    document.save()
    if previous is not None:
        previous.superseded_by = document
        previous.save(update_fields=["superseded_by", "updated_at"])
    _created(actor, document, DOCUMENT_FIELDS, "document.create")
    return document


# ------------------------------------------------------------------ recompute requests


@transaction.atomic
def sla_recompute_policy(*, policy: SlaPolicy) -> SlaRecompute:
    """Ask for the open items of the older versions of `policy`'s slug to move to this
    version and their clocks to be recomputed; written with the revision."""
    return SlaRecompute.objects.create(
        kind=RecomputeKind.POLICY,
        policy=policy,
        client_id=policy.client_id,
        provider_id=policy.provider_id,
    )


@transaction.atomic
def sla_recompute_calendar(*, calendar: BusinessCalendar) -> SlaRecompute:
    """Ask for the open clocks that run on `calendar` to be recomputed; written with
    the change of its spec."""
    return SlaRecompute.objects.create(
        kind=RecomputeKind.CALENDAR,
        calendar=calendar,
        client_id=calendar.client_id,
        provider_id=calendar.provider_id,
    )


def sla_recompute_done(*, recomputes: Sequence[SlaRecompute], now: datetime) -> int:
    """Mark requests done; the sweep calls this in the transaction that claimed them."""
    return SlaRecompute.objects.filter(
        pk__in=[r.pk for r in recomputes], done_at__isnull=True
    ).update(done_at=now, updated_at=now)


# ------------------------------------------------------------------ calendars


def _spec_problems(spec: Any) -> list[tuple[str, str | None]]:
    try:
        calendar_spec.parse(spec)
    except calendar_spec.SpecError as exc:
        return [(f"spec.{field}", message) for field, message in exc.problems]
    return []


@transaction.atomic
def calendar_create(
    *, actor: Principal | None, engagement: Engagement, name: str, spec: Any, slug: str = ""
) -> BusinessCalendar:
    if actor is not None:
        visibility.require(actor, "calendar.manage")
    _require_engagement_side(actor, engagement)
    errors.raise_failures(_spec_problems(spec))
    slug = slug or slugify(name)
    calendar = BusinessCalendar(
        engagement=engagement, name=name, slug=slug, spec=spec, **_tenant(engagement)
    )
    save_unique(calendar, field="slug", value=slug, save=calendar.save)
    _created(actor, calendar, ["name", "slug", "spec"], "calendar.create")
    return calendar


@transaction.atomic
def calendar_update(
    *, actor: Principal, calendar: BusinessCalendar, data: Mapping[str, Any]
) -> BusinessCalendar:
    """Edit a calendar; a changed spec writes a recompute request for the open clocks
    that run on it, in the same transaction."""
    visibility.require(actor, "calendar.manage")
    if "spec" in data:
        errors.raise_failures(_spec_problems(data["spec"]))
    spec_changes = "spec" in data and data["spec"] != calendar.spec
    updated = update_model(
        actor=actor, organisation=calendar.client, obj=calendar, data=data, action="calendar.update"
    )
    if spec_changes:
        sla_recompute_calendar(calendar=updated)
    return updated


# ------------------------------------------------------------------ SLA policies


def _terms_ok(terms: Any) -> bool:
    if terms in ({}, None):
        return True
    if not isinstance(terms, dict) or set(terms) != {"percent_of_fees"}:
        return False
    try:
        value = Decimal(str(terms["percent_of_fees"]))
    except InvalidOperation:
        return False
    return Decimal(0) <= value <= Decimal(100)


def _target_problems(
    engagement: Engagement, targets: Sequence[Mapping[str, Any]]
) -> list[tuple[str, str | None]]:
    problems: list[tuple[str, str | None]] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(targets):
        where = f"targets[{i}]"
        metric = t["metric"]
        units, comparison = METRIC_UNITS[metric]
        key = (metric, t.get("priority") or "")
        if key in seen:
            problems.append(
                (where, DUPLICATE_TARGET.format(metric=key[0], priority=key[1] or "all"))
            )
        seen.add(key)
        if t["unit"] not in units:
            problems.append(
                (
                    f"{where}.unit",
                    BAD_UNIT.format(
                        unit=t["unit"], metric=metric, allowed=", ".join(sorted(units))
                    ),
                )
            )
        if t["comparison"] != comparison:
            problems.append(
                (
                    f"{where}.comparison",
                    BAD_COMPARISON.format(
                        comparison=t["comparison"], metric=metric, expected=comparison
                    ),
                )
            )
        value = Decimal(t["target_value"])
        if value <= 0:
            problems.append((f"{where}.target_value", NOT_POSITIVE))
        elif t["unit"] == Unit.PERCENT and value > 100:
            problems.append((f"{where}.target_value", OUT_OF_RANGE.format(maximum=100, unit="%")))
        elif t["unit"] == Unit.SCORE and not Decimal(1) <= value <= Decimal(5):
            problems.append((f"{where}.target_value", SCORE_RANGE))
        window = t.get("window", "monthly")
        if window not in WINDOWS:
            problems.append(
                (f"{where}.window", BAD_WINDOW.format(window=window, allowed=", ".join(WINDOWS)))
            )
        for terms in ("credit", "bonus"):
            if not _terms_ok(t.get(terms, {})):
                problems.append((f"{where}.{terms}", BAD_TERMS))
        if not Decimal(0) <= _attainment_percent(t) <= Decimal(100):
            problems.append((f"{where}.attainment_percent", PERCENT_RANGE))
        calendar = t.get("calendar")
        if calendar is not None and calendar.engagement_id != engagement.pk:
            problems.append((f"{where}.calendar_id", OTHER_ENGAGEMENT))
    return problems


def pause_status_problems(pause_statuses: Any) -> list[str]:
    """What is wrong with a policy's pause statuses (the admin form asks too)."""
    if not isinstance(pause_statuses, list):
        return [NOT_A_LIST]
    allowed = ", ".join(PAUSABLE_STATUSES)
    return [
        BAD_PAUSE_STATUS.format(status=s, allowed=allowed)
        for s in pause_statuses
        if s not in PAUSABLE_STATUSES
    ]


def warning_percent_problems(warning_percents: Any) -> list[str]:
    """What is wrong with a policy's warning thresholds (the admin form asks too)."""
    if not isinstance(warning_percents, list):
        return [NOT_A_LIST]
    low, high = WARNING_PERCENT_RANGE
    problems: list[str] = []
    numbers: list[int] = []
    for value in warning_percents:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(NOT_A_PERCENT.format(value=value))
        elif not low <= value <= high:
            problems.append(WARNING_RANGE.format(value=value, low=low, high=high))
        else:
            numbers.append(value)
    if len(warning_percents) > MAX_WARNINGS:
        problems.append(TOO_MANY_WARNINGS.format(maximum=MAX_WARNINGS))
    if any(later <= earlier for earlier, later in itertools.pairwise(numbers)):
        problems.append(NOT_ASCENDING)
    return problems


def _policy_problems(
    engagement: Engagement,
    calendar: BusinessCalendar,
    pause_statuses: list[str],
    warning_percents: list[int],
    at_risk_percent: Decimal,
    targets: Sequence[Mapping[str, Any]],
) -> list[tuple[str, str | None]]:
    problems: list[tuple[str, str | None]] = [
        ("calendar_id", OTHER_ENGAGEMENT if calendar.engagement_id != engagement.pk else None),
        ("at_risk_percent", NEGATIVE if at_risk_percent < 0 else None),
    ]
    problems.extend(("pause_statuses", m) for m in pause_status_problems(pause_statuses))
    problems.extend(("warning_percents", m) for m in warning_percent_problems(warning_percents))
    problems.extend(_target_problems(engagement, targets))
    return problems


def _attainment_percent(target: Mapping[str, Any]) -> Decimal:
    value = target.get("attainment_percent")
    return DEFAULT_ATTAINMENT_PERCENT if value is None else Decimal(value)


def _write_targets(policy: SlaPolicy, targets: Sequence[Mapping[str, Any]]) -> None:
    SlaTarget.objects.bulk_create(
        [
            SlaTarget(
                policy=policy,
                client=policy.client,
                provider=policy.provider,
                metric=t["metric"],
                priority=t.get("priority") or "",
                target_value=Decimal(t["target_value"]),
                unit=t["unit"],
                comparison=t["comparison"],
                window=t.get("window", "monthly"),
                calendar=t.get("calendar"),
                credit=t.get("credit") or {},
                bonus=t.get("bonus") or {},
                attainment_percent=_attainment_percent(t),
            )
            for t in targets
        ]
    )


def _targets_snapshot(policy: SlaPolicy) -> list[dict[str, Any]]:
    return [
        {
            "metric": t.metric,
            "priority": t.priority,
            "target_value": str(t.target_value),
            "unit": t.unit,
            "comparison": t.comparison,
            "window": t.window,
            "calendar": t.calendar_id,
            "credit": t.credit,
            "bonus": t.bonus,
            "attainment_percent": str(t.attainment_percent),
        }
        for t in policy.targets.all()
    ]


POLICY_FIELDS = [
    "name",
    "slug",
    "version",
    "calendar_id",
    "pause_statuses",
    "warning_percents",
    "at_risk_percent",
]


@transaction.atomic
def sla_policy_create(
    *,
    actor: Principal | None,
    engagement: Engagement,
    name: str,
    calendar: BusinessCalendar,
    targets: Sequence[Mapping[str, Any]],
    slug: str = "",
    pause_statuses: list[str] | None = None,
    warning_percents: list[int] | None = None,
    at_risk_percent: Decimal = Decimal(0),
) -> SlaPolicy:
    """Version 1 of a policy. Left out, `pause_statuses` is ["waiting_on_client"] and
    `warning_percents` is [75, 90]."""
    if actor is not None:
        visibility.require(actor, "sla_policy.manage")
    _require_engagement_side(actor, engagement)
    pause = default_pause_statuses() if pause_statuses is None else pause_statuses
    warnings = default_warning_percents() if warning_percents is None else warning_percents
    errors.raise_failures(
        _policy_problems(engagement, calendar, pause, warnings, at_risk_percent, targets)
    )
    slug = slug or slugify(name)
    policy = SlaPolicy(
        engagement=engagement,
        name=name,
        slug=slug,
        version=1,
        calendar=calendar,
        pause_statuses=pause,
        warning_percents=warnings,
        at_risk_percent=at_risk_percent,
        **_tenant(engagement),
    )
    save_unique(policy, field="slug", value=slug, save=policy.save)
    _write_targets(policy, targets)
    changes = audit.diff({}, audit.snapshot(policy, POLICY_FIELDS))
    changes["targets"] = [None, _targets_snapshot(policy)]
    audit.record(
        organisation=policy.client,
        actor=actor,
        action="sla_policy.create",
        obj=policy,
        changes=changes,
    )
    return policy


@transaction.atomic
def sla_policy_revise(
    *,
    actor: Principal | None,
    policy: SlaPolicy,
    name: str | None = None,
    calendar: BusinessCalendar | None = None,
    targets: Sequence[Mapping[str, Any]] | None = None,
    pause_statuses: list[str] | None = None,
    warning_percents: list[int] | None = None,
    at_risk_percent: Decimal | None = None,
) -> SlaPolicy:
    """An edit makes a new version; processes on the old version move to the new one,
    and the old version is kept for whatever was measured against it. A recompute
    request for the new version is written with it, so the work app moves the open
    items of the old versions to it and recomputes their clocks."""
    if actor is not None:
        visibility.require(actor, "sla_policy.manage")
    current = SlaPolicy.objects.select_for_update().get(pk=policy.pk)
    if current.superseded_by_id is not None:
        raise errors.Conflict(
            f"version {current.version} is superseded; revise the current version",
            current_version=SlaPolicy.objects.filter(
                client=current.client, slug=current.slug
            ).aggregate(v=Max("version"))["v"],
        )
    old_targets = _targets_snapshot(current)
    new_targets: Sequence[Mapping[str, Any]]
    if targets is None:  # keep the targets, each with its calendar object again
        ids = {t["calendar"] for t in old_targets if t["calendar"] is not None}
        calendars = BusinessCalendar.objects.in_bulk(ids) if ids else {}
        new_targets = [{**t, "calendar": calendars.get(t["calendar"])} for t in old_targets]
    else:
        new_targets = targets
    engagement = current.engagement
    calendar = calendar or current.calendar
    pause = current.pause_statuses if pause_statuses is None else pause_statuses
    warnings = current.warning_percents if warning_percents is None else warning_percents
    at_risk = current.at_risk_percent if at_risk_percent is None else at_risk_percent
    errors.raise_failures(
        _policy_problems(engagement, calendar, pause, warnings, at_risk, list(new_targets))
    )
    revised = SlaPolicy.objects.create(
        engagement=engagement,
        name=name or current.name,
        slug=current.slug,
        version=current.version + 1,
        calendar=calendar,
        pause_statuses=pause,
        warning_percents=warnings,
        at_risk_percent=at_risk,
        **_tenant(engagement),
    )
    _write_targets(revised, list(new_targets))
    current.superseded_by = revised
    current.save(update_fields=["superseded_by", "updated_at"])
    Process.objects.filter(sla_policy=current).update(sla_policy=revised, updated_at=timezone.now())
    sla_recompute_policy(policy=revised)
    revised_fields = [f for f in POLICY_FIELDS if f != "slug"]
    changes = audit.diff(
        audit.snapshot(current, revised_fields), audit.snapshot(revised, revised_fields)
    )
    new_snapshot = _targets_snapshot(revised)
    if new_snapshot != old_targets:
        changes["targets"] = [old_targets, new_snapshot]
    audit.record(
        organisation=revised.client,
        actor=actor,
        action="sla_policy.revise",
        obj=revised,
        changes=changes,
    )
    return revised


# ------------------------------------------------------------------ rate cards

RATE_CARD_FIELDS = [
    "name",
    "slug",
    "pricing_unit",
    "price",
    "currency",
    "tiers",
    "minimum_monthly_fee",
    "effective_from",
    "effective_to",
]


def _tiers_ok(tiers: Any) -> bool:
    if not isinstance(tiers, list):
        return False
    for tier in tiers:
        if not isinstance(tier, dict) or set(tier) != {"from_volume", "price"}:
            return False
        volume = tier["from_volume"]
        if not isinstance(volume, int) or isinstance(volume, bool) or volume < 0:
            return False
        try:
            if Decimal(str(tier["price"])) < 0:
                return False
        except InvalidOperation:
            return False
    volumes = [t["from_volume"] for t in tiers]
    return volumes == sorted(set(volumes))


def _rate_card_problems(data: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    problems: list[tuple[str, str | None]] = []
    if "price" in data:
        problems.append(("price", NEGATIVE if Decimal(data["price"]) < 0 else None))
    if "minimum_monthly_fee" in data:
        problems.append(
            ("minimum_monthly_fee", NEGATIVE if Decimal(data["minimum_monthly_fee"]) < 0 else None)
        )
    if "currency" in data:
        problems.append(("currency", validators.currency_error(data["currency"])))
    if "tiers" in data:
        problems.append(("tiers", None if _tiers_ok(data["tiers"]) else BAD_TIERS))
    start, end = data.get("effective_from"), data.get("effective_to")
    if start and end and end < start:
        problems.append(("effective_to", DATES_REVERSED))
    return problems


@transaction.atomic
def rate_card_create(
    *,
    actor: Principal | None,
    engagement: Engagement,
    name: str,
    pricing_unit: str,
    price: Decimal,
    currency: str,
    effective_from: date,
    slug: str = "",
    tiers: list[dict[str, Any]] | None = None,
    minimum_monthly_fee: Decimal = Decimal(0),
    effective_to: date | None = None,
) -> RateCard:
    if actor is not None:
        visibility.require(actor, "rate_card.manage")
    _require_engagement_side(actor, engagement)
    data = {
        "name": name,
        "pricing_unit": pricing_unit,
        "price": price,
        "currency": currency,
        "tiers": tiers or [],
        "minimum_monthly_fee": minimum_monthly_fee,
        "effective_from": effective_from,
        "effective_to": effective_to,
    }
    errors.raise_failures(_rate_card_problems(data))
    slug = slug or slugify(name)
    card = RateCard(engagement=engagement, slug=slug, **data, **_tenant(engagement))
    save_unique(card, field="slug", value=slug, save=card.save)
    _created(actor, card, RATE_CARD_FIELDS, "rate_card.create")
    return card


@transaction.atomic
def rate_card_update(*, actor: Principal, card: RateCard, data: Mapping[str, Any]) -> RateCard:
    visibility.require(actor, "rate_card.manage")
    merged = {"effective_from": card.effective_from, "effective_to": card.effective_to, **data}
    errors.raise_failures(_rate_card_problems(merged))
    return update_model(
        actor=actor, organisation=card.client, obj=card, data=data, action="rate_card.update"
    )


# ------------------------------------------------------------------ processes

PROCESS_FIELDS = [
    "name",
    "slug",
    "description",
    "channel",
    "required_skills",
    "languages",
    "item_schema",
    "pricing_unit",
    "sla_policy_id",
    "max_system_retries",
    "reopen_window_hours",
    "wrap_up_seconds",
]


def _process_problems(
    engagement: Engagement, data: Mapping[str, Any]
) -> list[tuple[str, str | None]]:
    problems: list[tuple[str, str | None]] = []
    if "channel" in data and data["channel"] not in Channel.values:
        allowed = ", ".join(Channel.values)
        problems.append(("channel", f"'{data['channel']}' is not one of: {allowed}"))
    for skill, level in (data.get("required_skills") or {}).items():
        ok = isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= 5
        problems.append(
            (f"required_skills.{skill}", None if ok else BAD_SKILL_LEVEL.format(skill=skill))
        )
    problems.extend(
        ("languages", validators.language_error(lang)) for lang in data.get("languages") or []
    )
    if "item_schema" in data:
        try:
            jsonschema.Draft202012Validator.check_schema(data["item_schema"])
        except jsonschema.SchemaError as exc:
            problems.append(("item_schema", BAD_SCHEMA.format(reason=exc.message)))
    policy = data.get("sla_policy")
    if policy is not None and policy.engagement_id != engagement.pk:
        problems.append(("sla_policy_id", OTHER_ENGAGEMENT))
    elif policy is not None and policy.superseded_by_id is not None:
        problems.append(("sla_policy_id", SUPERSEDED_POLICY.format(version=policy.version)))
    return problems


def _add_sop(process: Process, body: str, actor: Principal | None) -> SopVersion:
    latest = process.sop_versions.aggregate(v=Max("version"))["v"] or 0
    return SopVersion.objects.create(
        process=process,
        client=process.client,
        provider=process.provider,
        version=latest + 1,
        body=body,
        author=actor.user if actor else None,
    )


@transaction.atomic
def process_create(
    *,
    actor: Principal | None,
    engagement: Engagement,
    name: str,
    channel: str,
    pricing_unit: str = PricingUnit.PER_ITEM,
    slug: str = "",
    description: str = "",
    required_skills: dict[str, int] | None = None,
    languages: list[str] | None = None,
    item_schema: dict[str, Any] | None = None,
    sla_policy: SlaPolicy | None = None,
    sop: str = "",
    max_system_retries: int = 3,
    reopen_window_hours: int = 72,
    wrap_up_seconds: int = 60,
) -> Process:
    if actor is not None:
        visibility.require(actor, "process.manage")
    _require_engagement_side(actor, engagement)
    data = {
        "name": name,
        "description": description,
        "channel": channel,
        "pricing_unit": pricing_unit,
        "required_skills": required_skills or {},
        "languages": languages or [],
        "item_schema": item_schema or {"type": "object"},
        "sla_policy": sla_policy,
        "max_system_retries": max_system_retries,
        "reopen_window_hours": reopen_window_hours,
        "wrap_up_seconds": wrap_up_seconds,
    }
    errors.raise_failures(_process_problems(engagement, data))
    slug = slug or slugify(name)
    process = Process(engagement=engagement, slug=slug, **data, **_tenant(engagement))
    save_unique(process, field="slug", value=slug, save=process.save)
    if sop:
        _add_sop(process, sop, actor)
    _created(actor, process, PROCESS_FIELDS, "process.create")
    return process


@transaction.atomic
def process_update(
    *, actor: Principal, process: Process, data: Mapping[str, Any], sop: str | None = None
) -> Process:
    """Edit a process; a changed SOP becomes its next version (earlier ones are kept)."""
    visibility.require(actor, "process.manage")
    errors.raise_failures(_process_problems(process.engagement, data))
    policy_before = process.sla_policy_id
    updated = update_model(
        actor=actor, organisation=process.client, obj=process, data=data, action="process.update"
    )
    if updated.sla_policy_id is not None and updated.sla_policy_id != policy_before:
        # The process's open items take the policy: their clocks are made from their
        # history by the work app's sweep (or moved, from another policy's versions).
        sla_recompute_policy(policy=SlaPolicy.objects.get(pk=updated.sla_policy_id))
    current = updated.sop_versions.order_by("-version").first()
    if sop is not None and sop != (current.body if current else ""):
        version = _add_sop(updated, sop, actor)
        audit.record(
            organisation=updated.client,
            actor=actor,
            action="process.sop_revise",
            obj=updated,
            changes={"sop_version": [current.version if current else None, version.version]},
        )
    return updated


# ------------------------------------------------------------------ deletion

IN_USE = "this {what} is still referenced by: {refs}; retire it instead (see docs/contracts.md)"


def _delete(*, actor: Principal, obj: Any, permission: str, fields: list[str]) -> None:
    """Delete a contract object that nothing refers to yet; a 409 names what does."""
    visibility.require(actor, permission)
    audit.record_deleted(
        organisation=obj.client,
        actor=actor,
        action=f"{obj._meta.model_name}.delete",
        obj=obj,
        fields=fields,
    )
    try:
        with transaction.atomic():
            obj.delete()
    except ProtectedError as exc:
        refs = sorted({str(o._meta.verbose_name) for o in exc.protected_objects})
        raise errors.Conflict(
            IN_USE.format(what=obj._meta.verbose_name, refs=", ".join(refs))
        ) from exc


@transaction.atomic
def engagement_delete(*, actor: Principal, engagement: Engagement) -> None:
    _delete(actor=actor, obj=engagement, permission="engagement.manage", fields=ENGAGEMENT_FIELDS)


@transaction.atomic
def calendar_delete(*, actor: Principal, calendar: BusinessCalendar) -> None:
    _delete(
        actor=actor, obj=calendar, permission="calendar.manage", fields=["name", "slug", "spec"]
    )


@transaction.atomic
def sla_policy_delete(*, actor: Principal, policy: SlaPolicy) -> None:
    _delete(
        actor=actor, obj=policy, permission="sla_policy.manage", fields=["name", "slug", "version"]
    )


@transaction.atomic
def rate_card_delete(*, actor: Principal, card: RateCard) -> None:
    _delete(actor=actor, obj=card, permission="rate_card.manage", fields=RATE_CARD_FIELDS)


@transaction.atomic
def process_delete(*, actor: Principal, process: Process) -> None:
    _delete(actor=actor, obj=process, permission="process.manage", fields=PROCESS_FIELDS)
