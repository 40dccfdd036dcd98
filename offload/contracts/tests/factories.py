"""Builders for contract-side tests: engagements, calendars, policies, processes."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from offload.contracts import services
from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
)
from offload.tenancy.models import Organisation
from offload.tenancy.tests.factories import make_client, make_provider

_seq = itertools.count(1)

WEEKDAYS_9_TO_5: dict[str, Any] = {
    "timezone": "America/New_York",
    "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "US", "subdivision": None},
    "closed": [],
    "partial": [],
}

# Warsaw office hours with Polish holidays, one closed Friday, and partial days: one
# across the night the clocks go forward, one across the night they go back, a short
# Good Friday and a half-day Christmas Eve (a public holiday the partial day overrides).
WARSAW_OFFICE: dict[str, Any] = {
    "timezone": "Europe/Warsaw",
    "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "PL", "subdivision": None},
    "closed": ["2026-03-27"],
    "partial": [
        {"date": "2026-03-29", "hours": [["01:00", "05:00"]]},
        {"date": "2026-04-03", "hours": [["09:00", "13:00"]]},
        {"date": "2026-10-25", "hours": [["01:00", "05:00"]]},
        {"date": "2026-12-24", "hours": [["09:00", "12:00"]]},
    ],
}


def make_engagement(
    client: Organisation | None = None, provider: Organisation | None = None, **overrides: Any
) -> Engagement:
    return services.engagement_create(
        actor=None,
        client=client or make_client(),
        provider=provider or make_provider(),
        name=overrides.pop("name", f"Engagement {next(_seq)}"),
        **overrides,
    )


def make_calendar(
    engagement: Engagement, spec: dict[str, Any] | None = None, name: str = ""
) -> BusinessCalendar:
    return services.calendar_create(
        actor=None,
        engagement=engagement,
        name=name or f"Calendar {next(_seq)}",
        spec=spec or WEEKDAYS_9_TO_5,
    )


def make_document(engagement: Engagement, kind: str = "msa", **overrides: Any) -> ContractDocument:
    return services.document_create(
        actor=overrides.pop("actor", None),
        engagement=engagement,
        kind=kind,
        title=overrides.pop("title", f"Document {next(_seq)}"),
        effective_from=overrides.pop("effective_from", date(2026, 1, 1)),
        body=overrides.pop("body", "The parties agree."),
        **overrides,
    )


def target(
    metric: str = "first_response", priority: str = "P1", value: str = "1", **kw: Any
) -> dict[str, Any]:
    units = {
        "first_response": "business_hours",
        "turnaround": "business_days",
        "accuracy": "percent",
    }
    comparisons = {"accuracy": "at_least"}
    return {
        "metric": metric,
        "priority": priority,
        "target_value": Decimal(value),
        "unit": kw.pop("unit", units.get(metric, "percent")),
        "comparison": kw.pop("comparison", comparisons.get(metric, "within")),
        **kw,
    }


def make_policy(
    engagement: Engagement,
    targets: list[dict[str, Any]] | None = None,
    calendar: BusinessCalendar | None = None,
    **overrides: Any,
) -> SlaPolicy:
    return services.sla_policy_create(
        actor=overrides.pop("actor", None),
        engagement=engagement,
        name=overrides.pop("name", f"Policy {next(_seq)}"),
        calendar=calendar or make_calendar(engagement),
        targets=targets or [target()],
        **overrides,
    )


def make_process(engagement: Engagement, **overrides: Any) -> Process:
    return services.process_create(
        actor=overrides.pop("actor", None),
        engagement=engagement,
        name=overrides.pop("name", f"Process {next(_seq)}"),
        channel=overrides.pop("channel", "email"),
        **overrides,
    )


def make_rate_card(engagement: Engagement, **overrides: Any) -> RateCard:
    return services.rate_card_create(
        actor=overrides.pop("actor", None),
        engagement=engagement,
        name=overrides.pop("name", f"Rate card {next(_seq)}"),
        pricing_unit=overrides.pop("pricing_unit", "per_item"),
        price=overrides.pop("price", Decimal("1.20")),
        currency=overrides.pop("currency", "USD"),
        effective_from=overrides.pop("effective_from", date(2026, 1, 1)),
        **overrides,
    )
