"""SLA attainment: per engagement, time metric, priority and calendar month, the share
of measured items whose clock met its per-item target, against the target's
`attainment_percent` (docs/attainment.md).

- A clock is **measured** when it has stopped with an outcome: `met`, or `breached`
  with `stopped_at` set. Running, paused and cancelled clocks are not measured.
- A clock belongs to the month of its `stopped_at`, months taken in **UTC**
  (`[first day 00:00 UTC, first day of the next month 00:00 UTC)`).
- The target of a line is the `SlaTarget` of the policy version most of the line's
  clocks ran on (ties: the newest version, the highest id), for the line's priority,
  else that version's target for every priority.
- `attainment_percent` is 100 * met / measured cut (not rounded) to two places, so
  `target_met` (the exact share at or above the target) agrees with the figure shown.

A closed month can be **frozen**: its lines are stored (`AttainmentMonth`) and read
back as they were, whatever happens to the clocks later.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from offload.contracts.models import Engagement, SlaTarget
from offload.core import errors
from offload.core.pagination import BAD_CURSOR, BAD_LIMIT, MAX_LIMIT
from offload.tenancy import audit, visibility
from offload.tenancy.visibility import Principal
from offload.work.models import AttainmentMonth, ClockState, SlaClock

BAD_MONTH = "must be a month as YYYY-MM, e.g. 2026-03"
MONTH_OPEN = "{month} is not over yet; a month can be frozen from the 1st of the next (UTC)"
ALREADY_FROZEN = "{month} was frozen at {frozen_at}; a frozen month stays as it was"
NOTHING_MEASURED = "no clock of this engagement was measured in {month}; nothing to freeze"

MEASURED = (ClockState.MET, ClockState.BREACHED)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


# ------------------------------------------------------------------ months


def month_parse(raw: str | None, *, field: str = "month") -> date:
    """`YYYY-MM` as the first day of that month; a 422 naming `field` otherwise."""
    text = (raw or "").strip()
    year, dash, month = text.partition("-")
    digits = year + month
    if (
        dash != "-"
        or (len(year), len(month)) != (4, 2)
        or not digits.isascii()
        or not digits.isdigit()
    ):
        raise errors.ValidationFailed.single(field, BAD_MONTH)
    try:
        first = date(int(year), int(month), 1)
        month_next(first)  # December 9999 has no end to measure to
    except ValueError as exc:
        raise errors.ValidationFailed.single(field, BAD_MONTH) from exc
    return first


def month_label(month: date) -> str:
    return f"{month:%Y-%m}"


def month_current(now: datetime | None = None) -> date:
    """The first day of the month `now` (default: now) falls in, in UTC."""
    at = (now or timezone.now()).astimezone(UTC)
    return date(at.year, at.month, 1)


def month_next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_previous(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month as a UTC instant range, start included and end excluded."""
    end = month_next(month)
    return (
        datetime(month.year, month.month, 1, tzinfo=UTC),
        datetime(end.year, end.month, 1, tzinfo=UTC),
    )


def share(met: int, measured: int) -> Decimal | None:
    """met / measured as a percent cut to two places; None when nothing was measured."""
    if measured == 0:
        return None
    return (Decimal(met) * HUNDRED / Decimal(measured)).quantize(CENT, rounding=ROUND_DOWN)


def target_reached(met: int, measured: int, target_percent: Decimal | None) -> bool:
    """Whether the exact share reaches the target; with nothing measured, nothing was
    missed, and with no target there is nothing to reach."""
    if measured == 0 or target_percent is None:
        return True
    return Decimal(met) * HUNDRED >= target_percent * measured


# ------------------------------------------------------------------ reads


@dataclass(frozen=True)
class Line:
    """One metric and priority of a month."""

    metric: str
    priority: str
    measured: int
    met: int
    missed: int
    attainment_percent: Decimal | None
    target_percent: Decimal | None
    target_met: bool
    policy_id: int | None  # the version whose target applies


@dataclass(frozen=True)
class Attainment:
    engagement: Engagement
    month: date
    frozen: bool
    frozen_at: datetime | None
    frozen_by: str | None  # the username, when a person froze it
    lines: list[Line]

    @property
    def month_label(self) -> str:
        return month_label(self.month)


def _measured_clocks(engagement: Engagement, month: date) -> QuerySet[SlaClock]:
    start, end = month_bounds(month)
    return SlaClock.objects.filter(
        client_id=engagement.client_id,  # the (client, stopped_at) index
        item__process__engagement_id=engagement.pk,
        stopped_at__gte=start,
        stopped_at__lt=end,
        state__in=MEASURED,
    )


def _targets(policy_ids: set[int]) -> dict[tuple[int, str, str], SlaTarget]:
    rows = SlaTarget.objects.filter(policy_id__in=policy_ids).only(
        "policy_id", "metric", "priority", "attainment_percent"
    )
    return {(t.policy_id, t.metric, t.priority): t for t in rows}


def attainment_compute(*, engagement: Engagement, month: date) -> list[Line]:
    """The month's lines from the clocks: one grouped query, and one for the targets
    when anything was measured. Ordered by metric and priority."""
    groups = (
        _measured_clocks(engagement, month)
        .values("metric", "priority", "policy_id")
        .annotate(
            measured=Count("id"),
            met=Count("id", filter=Q(state=ClockState.MET)),
            missed=Count("id", filter=Q(state=ClockState.BREACHED)),
        )
        .order_by()
    )
    totals: dict[tuple[str, str], Counter[str]] = {}
    by_policy: dict[tuple[str, str], Counter[int]] = {}
    for g in groups:
        key = (g["metric"], g["priority"])
        totals.setdefault(key, Counter()).update(
            {"measured": g["measured"], "met": g["met"], "missed": g["missed"]}
        )
        by_policy.setdefault(key, Counter())[g["policy_id"]] += g["measured"]
    if not totals:
        return []
    # The version most of the line's clocks ran on; a tie goes to the newest.
    chosen = {
        key: max(counts.items(), key=lambda pair: (pair[1], pair[0]))[0]
        for key, counts in by_policy.items()
    }
    targets = _targets(set(chosen.values()))
    lines = []
    for (metric, priority), n in sorted(totals.items()):
        policy_id = chosen[(metric, priority)]
        target = targets.get((policy_id, metric, priority)) or targets.get((policy_id, metric, ""))
        target_percent = target.attainment_percent if target is not None else None
        lines.append(
            Line(
                metric=metric,
                priority=priority,
                measured=n["measured"],
                met=n["met"],
                missed=n["missed"],
                attainment_percent=share(n["met"], n["measured"]),
                target_percent=target_percent,
                target_met=target_reached(n["met"], n["measured"], target_percent),
                policy_id=policy_id,
            )
        )
    return lines


def _frozen_lines(rows: list[AttainmentMonth]) -> list[Line]:
    return [
        Line(
            metric=r.metric,
            priority=r.priority,
            measured=r.measured,
            met=r.met,
            missed=r.missed,
            attainment_percent=r.attainment_percent,
            target_percent=r.target_percent,
            target_met=r.target_met,
            policy_id=r.policy_id,
        )
        for r in rows
    ]


def attainment_get(*, principal: Principal, engagement: Engagement, month: date) -> Attainment:
    """The month of a visible engagement: its frozen lines if it was frozen (one
    query), else computed from the clocks (at most three)."""
    rows = list(
        visibility.visible(
            principal,
            AttainmentMonth.objects.filter(engagement=engagement, month=month).select_related(
                "frozen_by"
            ),
        ).order_by("metric", "priority")
    )
    if rows:
        first = rows[0]
        return Attainment(
            engagement=engagement,
            month=month,
            frozen=True,
            frozen_at=first.frozen_at,
            frozen_by=first.frozen_by.username if first.frozen_by else None,
            lines=_frozen_lines(rows),
        )
    return Attainment(
        engagement=engagement,
        month=month,
        frozen=False,
        frozen_at=None,
        frozen_by=None,
        lines=attainment_compute(engagement=engagement, month=month),
    )


def attainment_breaches(
    *, principal: Principal, engagement: Engagement, month: date
) -> QuerySet[SlaClock]:
    """The month's missed clocks (breached, stopped in the month: the `missed` of its
    lines), with their items; page them with `newest_first`."""
    return visibility.visible(
        principal,
        _measured_clocks(engagement, month)
        .filter(state=ClockState.BREACHED)
        .select_related("item"),
    )


def _encode(clock: SlaClock) -> str:
    assert clock.stopped_at is not None  # a measured clock has stopped
    raw = f"at:{clock.stopped_at.isoformat()}|{clock.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, rest = raw.partition(":")
        at, _, pk = rest.partition("|")
        if prefix != "at":
            raise ValueError(raw)
        stopped_at = datetime.fromisoformat(at)
        if stopped_at.tzinfo is None:
            raise ValueError(raw)
        return stopped_at, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.ValidationFailed.single("cursor", BAD_CURSOR) from exc


def newest_first(
    queryset: QuerySet[SlaClock], *, cursor: str | None, limit: int
) -> tuple[list[SlaClock], str | None]:
    """One page of stopped clocks, latest stop first (keyset on stopped_at, id), and the
    cursor of the next page, or None at the end. Cursors are opaque, as everywhere."""
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.ValidationFailed.single("limit", BAD_LIMIT)
    if cursor:
        at, pk = _decode(cursor)
        queryset = queryset.filter(Q(stopped_at__lt=at) | Q(stopped_at=at, pk__lt=pk))
    rows = list(queryset.order_by("-stopped_at", "-pk")[: limit + 1])
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, _encode(rows[-1])
    return rows, None


# ------------------------------------------------------------------ writes


def _line_snapshot(line: Line) -> dict[str, Any]:
    return {
        "metric": line.metric,
        "priority": line.priority,
        "measured": line.measured,
        "met": line.met,
        "missed": line.missed,
        "attainment_percent": line.attainment_percent,
        "target_percent": line.target_percent,
        "target_met": line.target_met,
        "policy_id": line.policy_id,
    }


@transaction.atomic
def attainment_freeze(
    *, actor: Principal | None, engagement: Engagement, month: date
) -> Attainment:
    """Store a closed month's lines for good. 409 while the month is not over, when it
    was frozen already, or when nothing was measured in it. Audited in the client's
    chain as `attainment.freeze` on the engagement."""
    if actor is not None:
        visibility.require(actor, "attainment.freeze")
        if not visibility.can_see(actor, engagement):
            raise errors.NotFound("engagement not found")
    month = month.replace(day=1)
    label = month_label(month)
    if month >= month_current():
        raise errors.Conflict(MONTH_OPEN.format(month=label))
    # One freeze of an engagement at a time: the second waits here, then sees the first.
    Engagement.objects.select_for_update().only("pk").get(pk=engagement.pk)
    earlier = AttainmentMonth.objects.filter(engagement=engagement, month=month).first()
    if earlier is not None:
        raise errors.Conflict(
            ALREADY_FROZEN.format(month=label, frozen_at=earlier.frozen_at.isoformat()),
            frozen_at=earlier.frozen_at.isoformat(),
        )
    lines = attainment_compute(engagement=engagement, month=month)
    if not lines:
        raise errors.Conflict(NOTHING_MEASURED.format(month=label))
    now = timezone.now()
    user = actor.user if actor is not None else None
    AttainmentMonth.objects.bulk_create(
        [
            AttainmentMonth(
                client_id=engagement.client_id,
                provider_id=engagement.provider_id,
                engagement=engagement,
                month=month,
                metric=line.metric,
                priority=line.priority,
                measured=line.measured,
                met=line.met,
                missed=line.missed,
                attainment_percent=line.attainment_percent,
                target_percent=line.target_percent,
                target_met=line.target_met,
                policy_id=line.policy_id,
                frozen_at=now,
                frozen_by=user,
            )
            for line in lines
        ]
    )
    audit.record(
        organisation=engagement.client,
        actor=actor,
        action="attainment.freeze",
        obj=engagement,
        changes={
            "attainment_month": [None, label],
            "attainment_lines": [None, [_line_snapshot(line) for line in lines]],
        },
    )
    return Attainment(
        engagement=engagement,
        month=month,
        frozen=True,
        frozen_at=now,
        frozen_by=user.username if user is not None else None,
        lines=lines,
    )
