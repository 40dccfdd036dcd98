"""The demo: Northwind Services, its clients Acme Telecom and Globex Insurance, and
everything a newcomer needs to try Offload at once, loaded through the services.

`load` is idempotent. Every object is looked up by its natural key (an
organisation's slug, a (client, slug) pair, an engagement and document kind, a
username) and created only when missing, so a second run writes nothing: no row
and no audit event. Fields of objects that already exist are not re-checked, but
for one: the AP process's item schema is brought up to date for the demo invoices.

API keys are stored only as digests, so their secrets live in the credentials file.
A key read back from the file that still works is kept as it is; a missing or dead
one is revoked by name and replaced by a new key of the same name.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from offload.contracts import lifecycle
from offload.contracts import services as contracts
from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
)
from offload.demo import forecast_seed, schedule_seed, twin_seed
from offload.tenancy import audit
from offload.tenancy import services as tenancy
from offload.tenancy.models import (
    ApiKey,
    ApiScope,
    AuditEvent,
    Organisation,
    OrganisationKind,
    Role,
    Site,
    User,
)
from offload.work import intake, mailboxes
from offload.work import services as work
from offload.work.models import Mailbox, Queue, WorkItem
from offload.workers import services as workers
from offload.workers.models import BotMode, Presence, Worker, WorkerKind

CREDENTIALS_FILE = "demo-credentials.json"
KEY_SCOPES = [ApiScope.READ, ApiScope.WRITE]

# Readable on purpose: these are printed on every run and written to the credentials
# file; a real deployment creates its own users.
NORTHWIND_PASSWORD = "northwind-demo-2026"  # noqa: S105 (published demo login)
ACME_PASSWORD = "acme-demo-2026"  # noqa: S105 (published demo login)
GLOBEX_PASSWORD = "globex-demo-2026"  # noqa: S105 (published demo login)
SUPERUSER_PASSWORD = "superadmin-demo-2026"  # noqa: S105 (published demo login)
SUPERUSER = "superadmin"
SUPERUSER_ROLE = "superuser"


# ------------------------------------------------------------------ the data


@dataclass(frozen=True)
class OrgSeed:
    slug: str
    name: str
    kind: str
    country: str
    timezone: str
    currency: str
    domain: str


@dataclass(frozen=True)
class SiteSeed:
    slug: str
    name: str
    code: str  # the site's part of its agents' usernames: agent.<code>NN
    country: str
    timezone: str
    languages: tuple[str, ...]
    hourly_cost: Decimal
    agents: tuple[str, ...]  # "First Last"


@dataclass(frozen=True)
class UserSeed:
    username: str
    role: str
    first_name: str
    last_name: str
    password: str | None  # None for bots, which sign in by API key only
    site: str = ""  # an agent's site slug (agents get a site field with the routing issue)


@dataclass(frozen=True)
class DocumentSeed:
    kind: str
    title: str
    signed_on: date
    effective_from: date
    effective_to: date | None
    body: str


@dataclass(frozen=True)
class CalendarSeed:
    slug: str
    name: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class PolicySeed:
    slug: str
    name: str
    calendar: str  # slug of one of the engagement's calendars
    at_risk_percent: Decimal
    # contracts.services target mappings; "calendar" is a calendar slug here.
    targets: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class RateCardSeed:
    slug: str
    name: str
    pricing_unit: str
    price: Decimal
    currency: str
    effective_from: date
    tiers: tuple[dict[str, Any], ...] = ()
    minimum_monthly_fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class ProcessSeed:
    slug: str
    name: str
    description: str
    channel: str
    pricing_unit: str
    required_skills: dict[str, int]
    languages: tuple[str, ...]
    item_schema: dict[str, Any]
    sop: str


@dataclass(frozen=True)
class EngagementSeed:
    client: OrgSeed
    slug: str
    name: str
    description: str
    status: str
    signed_by_client: str
    signed_by_provider: str
    documents: tuple[DocumentSeed, ...]
    calendars: tuple[CalendarSeed, ...]
    policy: PolicySeed
    rate_cards: tuple[RateCardSeed, ...]
    processes: tuple[ProcessSeed, ...]
    users: tuple[UserSeed, ...]


NORTHWIND = OrgSeed(
    slug="northwind",
    name="Northwind Services",
    kind=OrganisationKind.PROVIDER,
    country="US",
    timezone="America/Chicago",
    currency="USD",
    domain="northwind.example",
)
ACME = OrgSeed(
    slug="acme",
    name="Acme Telecom",
    kind=OrganisationKind.CLIENT,
    country="US",
    timezone="America/New_York",
    currency="USD",
    domain="acme.example",
)
GLOBEX = OrgSeed(
    slug="globex",
    name="Globex Insurance",
    kind=OrganisationKind.CLIENT,
    country="GB",
    timezone="Europe/London",
    currency="GBP",
    domain="globex.example",
)

SITES = (
    SiteSeed(
        slug="manila",
        name="Manila",
        code="mnl",
        country="PH",
        timezone="Asia/Manila",
        languages=("en", "tl"),
        hourly_cost=Decimal("9.50"),
        agents=(
            "Maria Santos",
            "Jose Reyes",
            "Angelica Cruz",
            "Mark Bautista",
            "Kristine Garcia",
            "Paolo Mendoza",
            "Jasmine Villanueva",
            "Carlo Ramos",
            "Patricia Aquino",
            "Miguel Castillo",
            "Camille Navarro",
            "Rafael Dizon",
            "Bea Flores",
            "Joshua Lim",
            "Andrea Tolentino",
            "Christian Pascual",
        ),
    ),
    SiteSeed(
        slug="krakow",
        name="Krakow",
        code="krk",
        country="PL",
        timezone="Europe/Warsaw",
        languages=("en", "pl", "de"),
        hourly_cost=Decimal("24.00"),
        agents=(
            "Anna Nowak",
            "Piotr Kowalski",
            "Katarzyna Wiśniewska",
            "Tomasz Wójcik",
            "Magdalena Kamińska",
            "Michał Lewandowski",
            "Agnieszka Zielińska",
            "Paweł Szymański",
        ),
    ),
    SiteSeed(
        slug="monterrey",
        name="Monterrey",
        code="mty",
        country="MX",
        timezone="America/Monterrey",
        languages=("en", "es"),
        hourly_cost=Decimal("14.00"),
        agents=(
            "Sofía Hernández",
            "Diego Garza",
            "Valeria Treviño",
            "Luis Martínez",
            "Daniela Rodríguez",
            "Javier Villarreal",
            "Fernanda López",
            "Carlos Cantú",
            "Mariana González",
            "Ricardo Salinas",
        ),
    ),
    SiteSeed(
        slug="austin",
        name="Austin",
        code="aus",
        country="US",
        timezone="America/Chicago",
        languages=("en", "es"),
        hourly_cost=Decimal("38.00"),
        agents=(
            "Emily Johnson",
            "Marcus Williams",
            "Sarah Miller",
            "David Nguyen",
            "Jessica Brown",
            "Ryan Davis",
        ),
    ),
)


def _agents() -> tuple[UserSeed, ...]:
    out: list[UserSeed] = []
    for site in SITES:
        for n, full_name in enumerate(site.agents, start=1):
            first, last = full_name.split(" ", 1)
            out.append(
                UserSeed(
                    username=f"agent.{site.code}{n:02d}",
                    role=Role.AGENT,
                    first_name=first,
                    last_name=last,
                    password=NORTHWIND_PASSWORD,
                    site=site.slug,
                )
            )
    return tuple(out)


AGENTS = _agents()

NORTHWIND_STAFF = (
    UserSeed("northwind.admin", Role.ADMIN, "Grace", "Okafor", NORTHWIND_PASSWORD),
    UserSeed("northwind.ops", Role.OPS_MANAGER, "Daniel", "Ortega", NORTHWIND_PASSWORD),
    UserSeed("northwind.lead", Role.TEAM_LEAD, "Liza", "Manalo", NORTHWIND_PASSWORD),
    UserSeed("northwind.qa", Role.QA_ANALYST, "Ewa", "Mazur", NORTHWIND_PASSWORD),
    UserSeed("northwind.wfm", Role.WFM_PLANNER, "Hector", "Ibarra", NORTHWIND_PASSWORD),
    UserSeed("northwind.finance", Role.FINANCE, "Rachel", "Kim", NORTHWIND_PASSWORD),
)
BOTS = (
    UserSeed("bot.invoice-check", Role.BOT, "Invoice check", "bot", None),
    UserSeed("bot.claims-intake", Role.BOT, "Claims intake", "bot", None),
)


def _target(
    metric: str,
    value: str,
    unit: str,
    *,
    priority: str = "",
    credit: str = "",
    bonus: str = "",
    calendar: str | None = None,
) -> dict[str, Any]:
    """One SLA target; the comparison follows from the metric."""
    return {
        "metric": metric,
        "priority": priority,
        "target_value": Decimal(value),
        "unit": unit,
        "comparison": contracts.METRIC_UNITS[metric][1],
        "credit": {"percent_of_fees": credit} if credit else {},
        "bonus": {"percent_of_fees": bonus} if bonus else {},
        "calendar": calendar,
    }


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$"}
# Supplier invoices for the invoice-check bot (docs/bots.md): the schema takes any
# tax id and any rate in shape; whether they are right is the bot's check.
AP_INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "supplier_name",
        "supplier_tax_id",
        "invoice_number",
        "invoice_date",
        "currency",
        "net_amount",
        "tax_rate",
        "tax_amount",
        "lines",
    ],
    "properties": {
        "supplier_name": {"type": "string"},
        "supplier_tax_id": {
            "type": "string",
            "minLength": 4,
            "maxLength": 24,
            "description": "VAT id with its country prefix (GB123456789), or a US EIN",
        },
        "invoice_number": {"type": "string", "minLength": 1, "maxLength": 64},
        "invoice_date": {"type": "string", "format": "date"},
        "due_date": {"type": "string", "format": "date"},
        "currency": {"type": "string", "enum": ["GBP", "EUR", "USD"]},
        "net_amount": MONEY,
        "tax_rate": {
            "type": "string",
            "pattern": r"^\d{1,2}(\.\d{1,2})?$",
            "description": "percent: 20, 5, 0, 5.5",
        },
        "tax_amount": MONEY,
        "total_amount": MONEY,
        "purchase_order": {"type": "string"},
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["description", "amount"],
                "properties": {
                    "description": {"type": "string"},
                    "amount": MONEY,
                    "cost_centre": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
PRIORITY = {"type": "string", "enum": ["P1", "P2", "P3", "P4"]}

ACME_ENGAGEMENT = EngagementSeed(
    client=ACME,
    slug="acme-customer-care",
    name="Acme customer care",
    description=(
        "Email and chat customer support for Acme's consumer mobile and broadband "
        "customers, plus a tier-2 technical helpdesk, delivered follow-the-sun from "
        "Manila, Monterrey and Austin."
    ),
    status=lifecycle.Stage.LIVE,
    signed_by_client="Laura Chen, Chief Customer Officer, Acme Telecom",
    signed_by_provider="Marco Reyes, Chief Operating Officer, Northwind Services",
    documents=(
        DocumentSeed(
            kind="msa",
            title="Master services agreement",
            signed_on=date(2026, 2, 16),
            effective_from=date(2026, 3, 1),
            effective_to=date(2029, 2, 28),
            body=(
                "# Master services agreement\n\n"
                "Between Acme Telecom, Inc. (the Client) and Northwind Services LLC "
                "(the Provider).\n\n"
                "1. Term: three years from the effective date, renewing for one year "
                "unless either party gives 90 days' notice.\n"
                "2. Services are described in statements of work; each SOW incorporates "
                "these terms.\n"
                "3. Fees are invoiced monthly in arrears, payable within 30 days.\n"
                "4. Service credits under the SLA are the Client's sole remedy for "
                "missed service levels, capped at the at-risk amount.\n"
                "5. Either party may terminate for material breach not cured within "
                "30 days.\n"
                "6. Governed by the laws of the State of New York."
            ),
        ),
        DocumentSeed(
            kind="sow",
            title="SOW 1: customer care and technical helpdesk",
            signed_on=date(2026, 2, 16),
            effective_from=date(2026, 3, 1),
            effective_to=date(2027, 2, 28),
            body=(
                "# Statement of work 1\n\n"
                "Scope: email support, chat support and a tier-2 technical helpdesk "
                "for Acme's consumer customers, in English and Spanish.\n\n"
                "- Forecast volumes: 18,000 emails, 12,000 chats and 2,500 helpdesk "
                "tickets a month.\n"
                "- Coverage: email and helpdesk Monday to Friday 08:00-20:00 US "
                "Eastern; chat 24/7.\n"
                "- Deliverables: resolved contacts, weekly backlog report, monthly "
                "SLA report, quarterly business review.\n"
                "- Pricing: per the rate cards of this engagement."
            ),
        ),
        DocumentSeed(
            kind="sla",
            title="Service level agreement",
            signed_on=date(2026, 2, 16),
            effective_from=date(2026, 3, 1),
            effective_to=date(2027, 2, 28),
            body=(
                "# Service level agreement\n\n"
                "Measured monthly in business time on the Acme US Eastern calendar "
                "(chat on the 24/7 calendar).\n\n"
                "- First response: P1 1 business hour, P2 4, P3 8, P4 24.\n"
                "- Resolution: P1 1 business day, P2 2, P3 3, P4 5.\n"
                "- CSAT at least 4.2 of 5; quality score at least 90 %.\n"
                "- Chat abandonment at most 5 %.\n\n"
                "Service credits as listed per target, capped at 12 % of monthly "
                "fees; a CSAT above target earns a 1 % bonus."
            ),
        ),
        DocumentSeed(
            kind="dpa",
            title="Data-processing agreement",
            signed_on=date(2026, 2, 16),
            effective_from=date(2026, 3, 1),
            effective_to=None,
            body=(
                "# Data-processing agreement\n\n"
                "The Provider processes Acme customer personal data only on the "
                "Client's documented instructions and for the services of the SOW.\n\n"
                "- Categories: contact details, account numbers, service history.\n"
                "- Sub-processors: none without 30 days' prior written notice.\n"
                "- Security: access by named agents only, MFA, encryption at rest and "
                "in transit, audit trail of every access.\n"
                "- Breach notice within 48 hours; deletion or return of data within "
                "30 days of termination."
            ),
        ),
    ),
    calendars=(
        CalendarSeed(
            slug="acme-us-eastern",
            name="Acme US Eastern business hours",
            spec={
                "timezone": "America/New_York",
                "hours": {
                    **{d: [["08:00", "20:00"]] for d in WEEKDAYS},
                    "sat": [],
                    "sun": [],
                },
                "holidays": {"country": "US", "subdivision": None},
                "closed": [],
                "partial": [{"date": "2026-12-24", "hours": [["08:00", "14:00"]]}],
            },
        ),
        CalendarSeed(
            slug="acme-24-7",
            name="Acme chat 24/7",
            spec={"timezone": "America/New_York", "hours": "24/7", "holidays": None},
        ),
    ),
    policy=PolicySeed(
        slug="acme-customer-care-sla",
        name="Acme customer care SLA",
        calendar="acme-us-eastern",
        at_risk_percent=Decimal("12"),
        targets=(
            _target("first_response", "1", "business_hours", priority="P1", credit="3"),
            _target("first_response", "4", "business_hours", priority="P2", credit="2"),
            _target("first_response", "8", "business_hours", priority="P3", credit="1"),
            _target("first_response", "24", "business_hours", priority="P4", credit="0.5"),
            _target("turnaround", "1", "business_days", priority="P1", credit="3"),
            _target("turnaround", "2", "business_days", priority="P2", credit="2"),
            _target("turnaround", "3", "business_days", priority="P3", credit="1"),
            _target("turnaround", "5", "business_days", priority="P4", credit="0.5"),
            _target("csat", "4.2", "score", credit="1", bonus="1"),
            _target("quality_score", "90", "percent", credit="1"),
            _target("abandonment_rate", "5", "percent", credit="1", calendar="acme-24-7"),
        ),
    ),
    rate_cards=(
        RateCardSeed(
            slug="acme-email",
            name="Acme email support",
            pricing_unit="per_item",
            price=Decimal("2.40"),
            currency="USD",
            effective_from=date(2026, 3, 1),
            tiers=(
                {"from_volume": 10000, "price": "2.15"},
                {"from_volume": 25000, "price": "1.90"},
            ),
            minimum_monthly_fee=Decimal("15000.00"),
        ),
        RateCardSeed(
            slug="acme-chat",
            name="Acme chat support",
            pricing_unit="per_item",
            price=Decimal("3.10"),
            currency="USD",
            effective_from=date(2026, 3, 1),
            tiers=(
                {"from_volume": 8000, "price": "2.80"},
                {"from_volume": 20000, "price": "2.50"},
            ),
            minimum_monthly_fee=Decimal("12000.00"),
        ),
        RateCardSeed(
            slug="acme-helpdesk",
            name="Acme technical helpdesk",
            pricing_unit="per_handled_hour",
            price=Decimal("34.00"),
            currency="USD",
            effective_from=date(2026, 3, 1),
            minimum_monthly_fee=Decimal("8000.00"),
        ),
    ),
    processes=(
        ProcessSeed(
            slug="email-support",
            name="Email support",
            description="Billing, plan and account questions from consumer customers by email.",
            channel="email",
            pricing_unit="per_item",
            required_skills={"telecom_support": 2, "billing": 2, "written_communication": 3},
            languages=("en", "es"),
            item_schema={
                "type": "object",
                "required": ["account_number", "from_email", "subject", "body"],
                "properties": {
                    "account_number": {"type": "string", "pattern": r"^AC-\d{8}$"},
                    "from_email": {"type": "string", "format": "email"},
                    "subject": {"type": "string", "maxLength": 200},
                    "body": {"type": "string"},
                    "language": {"type": "string", "enum": ["en", "es"]},
                    "priority": PRIORITY,
                    "category": {
                        "type": "string",
                        "enum": ["billing", "plan_change", "account", "complaint", "other"],
                    },
                },
                "additionalProperties": False,
            },
            sop=(
                "# Email support\n\n"
                "1. Verify the customer: the sender must match the account's email, or "
                "ask for the last four digits of the account PIN.\n"
                "2. Set the category and priority (P1: service fully down or a "
                "billing error over $500).\n"
                "3. Answer in the customer's language using the knowledge-base macro "
                "for the category; personalise the first and last paragraph.\n"
                "4. Credits up to $50 you may apply; above that, escalate to the team "
                "lead.\n"
                "5. Complete the item with the resolution code."
            ),
        ),
        ProcessSeed(
            slug="chat-support",
            name="Chat support",
            description="Live chat from the Acme app and website, around the clock.",
            channel="chat",
            pricing_unit="per_item",
            required_skills={"telecom_support": 2, "live_chat": 3},
            languages=("en", "es"),
            item_schema={
                "type": "object",
                "required": ["session_id", "language"],
                "properties": {
                    "session_id": {"type": "string"},
                    "account_number": {"type": "string", "pattern": r"^AC-\d{8}$"},
                    "language": {"type": "string", "enum": ["en", "es"]},
                    "entry_point": {"type": "string", "enum": ["app", "web"]},
                    "topic": {"type": "string"},
                    "priority": PRIORITY,
                },
                "additionalProperties": False,
            },
            sop=(
                "# Chat support\n\n"
                "1. Greet within 30 seconds using the customer's name if signed in.\n"
                "2. Handle at most three chats at once; drop to two for a P1.\n"
                "3. Verify before discussing the account (PIN or one-time code).\n"
                "4. Hand technical faults over to the technical helpdesk with a "
                "summary; do not troubleshoot network faults in chat.\n"
                "5. Close with the survey link."
            ),
        ),
        ProcessSeed(
            slug="tech-helpdesk",
            name="Technical helpdesk",
            description="Tier-2 troubleshooting of broadband and device faults.",
            channel="email",
            pricing_unit="per_handled_hour",
            required_skills={"network_troubleshooting": 4, "telecom_support": 3},
            languages=("en",),
            item_schema={
                "type": "object",
                "required": ["ticket_ref", "account_number", "service", "symptom"],
                "properties": {
                    "ticket_ref": {"type": "string", "pattern": r"^HD-\d{6}$"},
                    "account_number": {"type": "string", "pattern": r"^AC-\d{8}$"},
                    "service": {"type": "string", "enum": ["fiber", "dsl", "mobile", "tv"]},
                    "device": {"type": "string"},
                    "symptom": {"type": "string"},
                    "outage_suspected": {"type": "boolean"},
                    "priority": PRIORITY,
                },
                "additionalProperties": False,
            },
            sop=(
                "# Technical helpdesk\n\n"
                "1. Check the outage map for the service address first; link the "
                "ticket to an open outage instead of troubleshooting.\n"
                "2. Run the remote line test and record the result.\n"
                "3. Follow the fault tree for the service; reboot and re-provision "
                "remotely where the tree allows.\n"
                "4. Book an engineer visit only after a failed line test.\n"
                "5. Record the root cause and the fix before completing."
            ),
        ),
    ),
    users=(
        UserSeed("acme.admin", Role.CLIENT_ADMIN, "Dana", "Whitfield", ACME_PASSWORD),
        UserSeed("acme.viewer", Role.CLIENT_VIEWER, "Tom", "Becker", ACME_PASSWORD),
    ),
)

GLOBEX_ENGAGEMENT = EngagementSeed(
    client=GLOBEX,
    slug="globex-back-office",
    name="Globex back office",
    description=(
        "Claims data entry and accounts-payable invoice processing for Globex's UK "
        "motor and home lines, piloted from Krakow and Manila."
    ),
    status=lifecycle.Stage.PILOT,
    signed_by_client="James Thornton, Director of Claims Operations, Globex Insurance",
    signed_by_provider="Marco Reyes, Chief Operating Officer, Northwind Services",
    documents=(
        DocumentSeed(
            kind="msa",
            title="Master services agreement",
            signed_on=date(2026, 9, 28),
            effective_from=date(2026, 10, 1),
            effective_to=date(2029, 9, 30),
            body=(
                "# Master services agreement\n\n"
                "Between Globex Insurance plc (the Client) and Northwind Services LLC "
                "(the Provider).\n\n"
                "1. Term: three years from the effective date.\n"
                "2. Services start with a pilot under SOW 1; live operation needs the "
                "Client's written go-live approval.\n"
                "3. Fees in pounds sterling, invoiced monthly, payable within 30 days.\n"
                "4. Service credits are capped at the at-risk amount of the SLA.\n"
                "5. Governed by the laws of England and Wales."
            ),
        ),
        DocumentSeed(
            kind="sow",
            title="SOW 1: claims entry and AP invoice pilot",
            signed_on=date(2026, 9, 28),
            effective_from=date(2026, 10, 1),
            effective_to=date(2027, 3, 31),
            body=(
                "# Statement of work 1: pilot\n\n"
                "Scope: key first-notice-of-loss claims into the claims system and "
                "process supplier invoices for payment.\n\n"
                "- Pilot volume capped at 1,500 claims and 4,000 invoices a month for "
                "twelve weeks.\n"
                "- Go-live criteria: accuracy at least 99.5 % and turnaround met for "
                "four consecutive weeks.\n"
                "- Coverage: UK business days 09:00-17:30."
            ),
        ),
        DocumentSeed(
            kind="sla",
            title="Service level agreement",
            signed_on=date(2026, 9, 28),
            effective_from=date(2026, 10, 1),
            effective_to=date(2027, 3, 31),
            body=(
                "# Service level agreement\n\n"
                "Measured monthly on the Globex UK business calendar (England and "
                "Wales bank holidays).\n\n"
                "- Acknowledgement within 4 business hours.\n"
                "- Turnaround: 2 business days; urgent (P1) claims 1 business day.\n"
                "- Accuracy at least 99.5 %; quality score at least 90 %.\n\n"
                "Credits as listed per target, capped at 10 % of monthly fees."
            ),
        ),
        DocumentSeed(
            kind="dpa",
            title="Data-processing agreement (UK GDPR)",
            signed_on=date(2026, 9, 28),
            effective_from=date(2026, 10, 1),
            effective_to=None,
            body=(
                "# Data-processing agreement\n\n"
                "Under UK GDPR Article 28. Transfers to the Krakow and Manila sites use "
                "the UK International Data Transfer Addendum.\n\n"
                "- Categories: policyholder and claimant identity, claim details, "
                "supplier bank details.\n"
                "- Special-category health data in injury claims: handled by named, "
                "trained agents only.\n"
                "- Breach notice within 24 hours; retention as instructed by the Client."
            ),
        ),
    ),
    calendars=(
        CalendarSeed(
            slug="globex-uk-office",
            name="Globex UK office hours",
            spec={
                "timezone": "Europe/London",
                "hours": {
                    **{d: [["09:00", "17:30"]] for d in WEEKDAYS},
                    "sat": [],
                    "sun": [],
                },
                "holidays": {"country": "GB", "subdivision": "ENG"},
                "closed": [],
                "partial": [],
            },
        ),
    ),
    policy=PolicySeed(
        slug="globex-back-office-sla",
        name="Globex back-office SLA",
        calendar="globex-uk-office",
        at_risk_percent=Decimal("10"),
        targets=(
            _target("first_response", "4", "business_hours", credit="0.5"),
            _target("turnaround", "2", "business_days", credit="2"),
            _target("turnaround", "1", "business_days", priority="P1", credit="3"),
            _target("accuracy", "99.5", "percent", credit="3", bonus="1"),
            _target("quality_score", "90", "percent", credit="1"),
        ),
    ),
    rate_cards=(
        RateCardSeed(
            slug="globex-claims",
            name="Globex claims entry",
            pricing_unit="per_item",
            price=Decimal("1.85"),
            currency="GBP",
            effective_from=date(2026, 10, 1),
            tiers=({"from_volume": 5000, "price": "1.60"},),
            minimum_monthly_fee=Decimal("2000.00"),
        ),
        RateCardSeed(
            slug="globex-invoices",
            name="Globex AP invoices",
            pricing_unit="per_item",
            price=Decimal("0.95"),
            currency="GBP",
            effective_from=date(2026, 10, 1),
            tiers=({"from_volume": 20000, "price": "0.80"},),
            minimum_monthly_fee=Decimal("2500.00"),
        ),
    ),
    processes=(
        ProcessSeed(
            slug="claims-entry",
            name="Claims data entry",
            description="Key first-notice-of-loss motor and home claims into the claims system.",
            channel="back_office",
            pricing_unit="per_item",
            required_skills={"insurance_claims": 3, "data_entry": 3},
            languages=("en",),
            item_schema={
                "type": "object",
                "required": ["policy_number", "claimant", "loss_date", "claim_type", "amount"],
                "properties": {
                    "policy_number": {"type": "string", "pattern": r"^GBX-[A-Z]{2}-\d{7}$"},
                    "claimant": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "email": {"type": "string", "format": "email"},
                            "phone": {"type": "string"},
                            "postcode": {"type": "string"},
                        },
                    },
                    "loss_date": {"type": "string", "format": "date"},
                    "claim_type": {
                        "type": "string",
                        "enum": ["motor", "home_buildings", "home_contents", "travel"],
                    },
                    "amount": MONEY,
                    "description": {"type": "string"},
                },
                "additionalProperties": False,
            },
            sop=(
                "# Claims data entry\n\n"
                "1. Find the policy by number; check it was in force on the loss date. "
                "If not, set the item to waiting on client with reason 'policy not "
                "in force'.\n"
                "2. Key the claimant, loss date, claim type and claimed amount exactly "
                "as on the form.\n"
                "3. Injury mentioned? Flag the claim 'special category' and do not key "
                "medical detail into free text.\n"
                "4. Attach the scanned form and complete the item."
            ),
        ),
        ProcessSeed(
            slug="ap-invoices",
            name="AP invoice processing",
            description="Capture, validate and code supplier invoices for payment.",
            channel="back_office",
            pricing_unit="per_item",
            required_skills={"accounts_payable": 3, "data_entry": 2},
            languages=("en",),
            item_schema=AP_INVOICE_SCHEMA,
            sop=(
                "# AP invoice processing\n\n"
                "1. The invoice-check bot pre-fills the fields; confirm each against "
                "the image.\n"
                "2. Check the supplier's VAT number against the supplier master; a "
                "mismatch goes back to the client.\n"
                "3. Net plus tax must equal the gross total and the lines must add up "
                "to the net amount.\n"
                "4. Match to the purchase order where one is quoted; a price variance "
                "over 2 % is escalated.\n"
                "5. Code each line to a cost centre and complete."
            ),
        ),
    ),
    users=(
        UserSeed("globex.admin", Role.CLIENT_ADMIN, "Priya", "Natarajan", GLOBEX_PASSWORD),
        UserSeed("globex.viewer", Role.CLIENT_VIEWER, "Oliver", "Hughes", GLOBEX_PASSWORD),
    ),
)

ENGAGEMENTS = (ACME_ENGAGEMENT, GLOBEX_ENGAGEMENT)
ORGANISATIONS = (NORTHWIND, ACME, GLOBEX)


# ------------------------------------------------------------------ the result


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    role: str
    org: str


@dataclass(frozen=True)
class Credentials:
    """What `load` hands back and writes to the credentials file."""

    path: Path
    api_keys: dict[str, str]  # organisation slug -> secret
    bot_keys: dict[str, str]  # bot username -> secret
    logins: list[Login]
    audit_events_written: int = 0
    keys_replaced: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "api_keys": self.api_keys,
            "bot_keys": self.bot_keys,
            "logins": [asdict(login) for login in self.logins],
        }


def default_credentials_path() -> Path:
    return Path(settings.VAR_DIR) / CREDENTIALS_FILE


# ------------------------------------------------------------------ loading


def _organisation(seed: OrgSeed) -> Organisation:
    existing = Organisation.objects.filter(slug=seed.slug).first()
    if existing is not None:
        return existing
    return tenancy.organisation_create(
        actor=None,
        kind=seed.kind,
        name=seed.name,
        slug=seed.slug,
        country=seed.country,
        timezone=seed.timezone,
        currency=seed.currency,
    )


def _sites(provider: Organisation) -> None:
    existing = set(Site.objects.filter(provider=provider).values_list("slug", flat=True))
    for site in SITES:
        if site.slug not in existing:
            tenancy.site_create(
                actor=None,
                provider=provider,
                name=site.name,
                slug=site.slug,
                country=site.country,
                timezone=site.timezone,
                languages=list(site.languages),
                hourly_cost=site.hourly_cost,
            )


def _users(organisation: Organisation, seeds: Iterable[UserSeed], domain: str) -> dict[str, User]:
    """The users by username, creating the missing ones.

    Hashing a password with Argon2 takes a third of a second, so each distinct demo
    password is hashed once and the new users share that hash (fine for published
    demo logins; a real user's password gets its own salt from the services).
    """
    seeds = list(seeds)
    users = {u.username: u for u in User.objects.filter(username__in=[s.username for s in seeds])}
    new_by_password: dict[str, list[int]] = {}
    for seed in seeds:
        if seed.username in users:
            continue
        user = tenancy.user_create(
            actor=None,
            organisation=organisation,
            username=seed.username,
            roles=[seed.role],
            email=f"{seed.username}@{domain}",
            first_name=seed.first_name,
            last_name=seed.last_name,
            is_bot=seed.role == Role.BOT,
        )
        users[seed.username] = user
        if seed.password is not None:
            new_by_password.setdefault(seed.password, []).append(user.pk)
    for password, pks in new_by_password.items():
        User.objects.filter(pk__in=pks).update(password=make_password(password))
    return users


def _superuser(provider: Organisation) -> None:
    if User.objects.filter(username=SUPERUSER).exists():
        return
    seed = UserSeed(SUPERUSER, Role.ADMIN, "Super", "Admin", SUPERUSER_PASSWORD)
    user = _users(provider, [seed], NORTHWIND.domain)[SUPERUSER]
    # The services make members, not Django superusers: the admin site needs the flags.
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    audit.record(
        organisation=provider,
        actor=None,
        action="user.update",
        obj=user,
        changes={"is_staff": [False, True], "is_superuser": [False, True]},
    )


def _advance(engagement: Engagement, target: str) -> Engagement:
    """Step the engagement forward one legal move at a time until it reaches `target`."""
    order = lifecycle.ORDER
    goal = lifecycle.Stage(target)
    while engagement.status != lifecycle.Stage.EXIT and order.index(
        lifecycle.Stage(engagement.status)
    ) < order.index(goal):
        step = lifecycle.allowed_moves(lifecycle.Stage(engagement.status))[0]
        engagement = contracts.engagement_transition(actor=None, engagement=engagement, status=step)
    return engagement


def _engagement(seed: EngagementSeed, provider: Organisation) -> Engagement:
    client = _organisation(seed.client)
    _users(client, seed.users, seed.client.domain)
    engagement = Engagement.objects.filter(client=client, slug=seed.slug).first()
    if engagement is None:
        engagement = contracts.engagement_create(
            actor=None,
            client=client,
            provider=provider,
            name=seed.name,
            slug=seed.slug,
            description=seed.description,
        )
    engagement = _advance(engagement, seed.status)

    kinds = set(
        ContractDocument.objects.filter(engagement=engagement).values_list("kind", flat=True)
    )
    for doc in seed.documents:
        if doc.kind not in kinds:
            contracts.document_create(
                actor=None,
                engagement=engagement,
                kind=doc.kind,
                title=doc.title,
                effective_from=doc.effective_from,
                effective_to=doc.effective_to,
                signed_on=doc.signed_on,
                signed_by_client=seed.signed_by_client,
                signed_by_provider=seed.signed_by_provider,
                body=doc.body,
            )

    calendars = {c.slug: c for c in BusinessCalendar.objects.filter(client=client)}
    for cal in seed.calendars:
        if cal.slug not in calendars:
            calendars[cal.slug] = contracts.calendar_create(
                actor=None, engagement=engagement, name=cal.name, slug=cal.slug, spec=cal.spec
            )

    policy = SlaPolicy.objects.filter(
        client=client, slug=seed.policy.slug, superseded_by__isnull=True
    ).first()
    if policy is None:
        policy = contracts.sla_policy_create(
            actor=None,
            engagement=engagement,
            name=seed.policy.name,
            slug=seed.policy.slug,
            calendar=calendars[seed.policy.calendar],
            at_risk_percent=seed.policy.at_risk_percent,
            targets=[
                {**t, "calendar": calendars[t["calendar"]] if t["calendar"] else None}
                for t in seed.policy.targets
            ],
        )

    cards = set(RateCard.objects.filter(client=client).values_list("slug", flat=True))
    for card in seed.rate_cards:
        if card.slug not in cards:
            contracts.rate_card_create(
                actor=None,
                engagement=engagement,
                name=card.name,
                slug=card.slug,
                pricing_unit=card.pricing_unit,
                price=card.price,
                currency=card.currency,
                effective_from=card.effective_from,
                tiers=[dict(t) for t in card.tiers],
                minimum_monthly_fee=card.minimum_monthly_fee,
            )

    processes = set(Process.objects.filter(client=client).values_list("slug", flat=True))
    for process in seed.processes:
        if process.slug not in processes:
            contracts.process_create(
                actor=None,
                engagement=engagement,
                name=process.name,
                slug=process.slug,
                description=process.description,
                channel=process.channel,
                pricing_unit=process.pricing_unit,
                required_skills=dict(process.required_skills),
                languages=list(process.languages),
                item_schema=process.item_schema,
                sla_policy=policy,
                sop=process.sop,
            )
    _queues(client)
    _mailboxes(client)
    return engagement


# ------------------------------------------------------------------ queues

# Extra queues by language: (process slug, language) of the processes that have one.
LANGUAGE_QUEUES: tuple[tuple[str, str], ...] = (
    ("email-support", "es"),
    ("chat-support", "es"),
)
LANGUAGE_NAMES = {"es": "Spanish"}


def _queues(client: Organisation) -> None:
    """Each process's default queue (its slug), its review queue, and the language
    queues above; looked up by (client, slug) like the rest of the demo."""
    existing = set(Queue.objects.filter(client=client).values_list("slug", flat=True))
    for process in Process.objects.filter(client=client).order_by("pk"):
        # Each queue: its name, slug, languages and whether it is the review queue.
        wanted: list[tuple[str, str, list[str], bool]] = [
            (process.name, process.slug, [], False),
            *(
                (
                    f"{process.name} ({LANGUAGE_NAMES[language]})",
                    f"{process.slug}-{language}",
                    [language],
                    False,
                )
                for slug, language in LANGUAGE_QUEUES
                if slug == process.slug
            ),
            (f"{process.name} review", f"{process.slug}-review", [], True),
        ]
        for name, slug, languages, is_review in wanted:
            if slug not in existing:
                work.queue_create(
                    actor=None,
                    process=process,
                    name=name,
                    slug=slug,
                    languages=languages,
                    is_review=is_review,
                )


# ------------------------------------------------------------------ mailboxes

# (client slug, process slug, address, display name): mail sent to the address through
# `offload smtpd` (127.0.0.1:2525) becomes an item of the process.
MAILBOXES: tuple[tuple[str, str, str, str], ...] = (
    ("acme", "email-support", "support@acme.offload.localhost", "Acme Telecom support"),
)


def _mailboxes(client: Organisation) -> None:
    """The processes' mailboxes, looked up by address."""
    for client_slug, process_slug, address, name in MAILBOXES:
        if client_slug != client.slug or Mailbox.objects.filter(address=address).exists():
            continue
        process = Process.objects.get(client=client, slug=process_slug)
        mailboxes.mailbox_create(actor=None, process=process, address=address, display_name=name)


# ------------------------------------------------------------------ AP invoices


@dataclass(frozen=True)
class InvoiceSeed:
    reference: str
    supplier: str
    tax_id: str
    number: str
    currency: str
    lines: tuple[str, ...]
    net: str
    rate: str
    tax: str
    total: str = ""
    wrong: str = ""  # what the invoice-check bot should find; "" for a valid invoice

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "supplier_name": self.supplier,
            "supplier_tax_id": self.tax_id,
            "invoice_number": self.number,
            "invoice_date": "2026-10-05",
            "due_date": "2026-11-04",
            "currency": self.currency,
            "net_amount": self.net,
            "tax_rate": self.rate,
            "tax_amount": self.tax,
            "lines": [
                {"description": f"Line {n}", "amount": amount, "cost_centre": "GX-OPS"}
                for n, amount in enumerate(self.lines, start=1)
            ],
        }
        if self.total:
            payload["total_amount"] = self.total
        return payload


# Globex's supplier invoices waiting for the invoice-check bot: most are fit to pay,
# some deliberately not, so `offload bot run invoice-check` has something to fail.
AP_INVOICES = (
    InvoiceSeed(
        "GBX-AP-0001", "Paper & Co Ltd", "GB434031494", "INV-20417", "GBP",
        ("120.00", "35.50"), "155.50", "20", "31.10", "186.60",
    ),
    InvoiceSeed(
        "GBX-AP-0002", "Northgate Facilities Ltd", "GB220430231", "NF-5521", "GBP",
        ("99.99", "0.01", "412.37"), "512.37", "20", "102.47",
    ),
    InvoiceSeed(
        "GBX-AP-0003", "Brightwater Energy plc", "GB 980 7806 84", "BW-77812", "GBP",
        ("845.55",), "845.55", "5", "42.28", "887.83",
    ),
    InvoiceSeed(
        "GBX-AP-0004", "Kowalski Logistyka Sp. z o.o.", "PL5260250274", "FV/2026/10/118",
        "EUR", ("1200.00", "300.00"), "1500.00", "0", "0.00",
    ),
    InvoiceSeed(
        "GBX-AP-0005", "Müller Bürobedarf GmbH", "DE136695976", "RE-88123", "EUR",
        ("640.00",), "640.00", "0", "0.00", "640.00",
    ),
    InvoiceSeed(
        "GBX-AP-0006", "Paper & Co Ltd", "GB434031494", "INV-20533", "GBP",
        ("80.00", "45.00"), "120.00", "20", "24.00",
        wrong="the lines add up to 125.00, not the net 120.00",
    ),
    InvoiceSeed(
        "GBX-AP-0007", "Northgate Facilities Ltd", "GB220430231", "NF-5600", "GBP",
        ("250.00",), "250.00", "20", "52.00",
        wrong="20 % of 250.00 is 50.00, not 52.00",
    ),
    InvoiceSeed(
        "GBX-AP-0008", "Acme Stationers Ltd", "GB123456789", "AS-1009", "GBP",
        ("60.00",), "60.00", "20", "12.00",
        wrong="the VAT number fails its check digits",
    ),
    InvoiceSeed(
        "GBX-AP-0009", "Paper & Co Ltd", "GB434031494", "INV-20417", "GBP",
        ("120.00", "35.50"), "155.50", "20", "31.10", "186.60",
        wrong="a duplicate of GBX-AP-0001",
    ),
    InvoiceSeed(
        "GBX-AP-0010", "Brightwater Energy plc", "GB980780684", "BW-78100", "GBP",
        ("300.00",), "300.00", "5", "15.00", "351.00",
        wrong="net 300.00 plus tax 15.00 is 315.00, not the total 351.00",
    ),
)  # fmt: skip
AP_PROCESS = ("globex", "ap-invoices")


def _invoices(client: Organisation) -> None:
    """Globex's AP invoices, looked up by reference. A demo loaded before the AP item
    schema took any tax id gets the current schema first (audited), so they fit."""
    if client.slug != AP_PROCESS[0]:
        return
    process = Process.objects.get(client=client, slug=AP_PROCESS[1])
    if process.item_schema != AP_INVOICE_SCHEMA:
        tenancy.update_model(
            actor=None,
            organisation=client,
            obj=process,
            data={"item_schema": AP_INVOICE_SCHEMA},
            action="process.update",
        )
    known = set(
        WorkItem.objects.filter(
            client=client, reference__in=[i.reference for i in AP_INVOICES]
        ).values_list("reference", flat=True)
    )
    for invoice in AP_INVOICES:
        if invoice.reference not in known:
            intake.work_item_create(
                actor=None,
                client=client,
                process=process,
                reference=invoice.reference,
                subject=f"Invoice {invoice.number} from {invoice.supplier}",
                payload=invoice.payload(),
                language="en",
                tags=["invoice"],
            )


# ------------------------------------------------------------------ workers


@dataclass(frozen=True)
class TeamSeed:
    """Agents of one site who work the same processes, with the team's usual skill
    levels (each agent a step above or below on some) and capacity per channel."""

    site: str
    numbers: range  # the agents agent.<site code>NN of the team
    processes: tuple[tuple[str, str], ...]  # (client slug, process slug): certified on
    skills: dict[str, int]
    channels: dict[str, int]


ACME_CARE = (("acme", "email-support"), ("acme", "chat-support"))
ACME_TECH = (("acme", "tech-helpdesk"), ("acme", "email-support"))
GLOBEX_CLAIMS = (("globex", "claims-entry"),)
GLOBEX_AP = (("globex", "ap-invoices"),)
CARE_SKILLS = {"telecom_support": 3, "billing": 3, "written_communication": 3, "live_chat": 3}
TECH_SKILLS = {
    "network_troubleshooting": 4,
    "telecom_support": 4,
    "billing": 2,
    "written_communication": 3,
}
CLAIMS_SKILLS = {"insurance_claims": 3, "data_entry": 4}
AP_SKILLS = {"accounts_payable": 3, "data_entry": 3}
EMAIL_AND_CHAT = {"email": 3, "chat": 3}
BACK_OFFICE = {"back_office": 1}

# Acme is served follow-the-sun from Manila, Monterrey and Austin; Globex's back office
# is piloted from Krakow and Manila (see the engagements' descriptions).
TEAMS = (
    TeamSeed("manila", range(1, 7), ACME_CARE, CARE_SKILLS, EMAIL_AND_CHAT),
    TeamSeed("manila", range(7, 10), ACME_TECH, TECH_SKILLS, {"email": 3}),
    TeamSeed("manila", range(10, 14), GLOBEX_CLAIMS, CLAIMS_SKILLS, BACK_OFFICE),
    TeamSeed("manila", range(14, 17), GLOBEX_AP, AP_SKILLS, BACK_OFFICE),
    TeamSeed("krakow", range(1, 5), GLOBEX_CLAIMS, CLAIMS_SKILLS, BACK_OFFICE),
    TeamSeed("krakow", range(5, 7), GLOBEX_AP, AP_SKILLS, BACK_OFFICE),
    TeamSeed(
        "krakow",
        range(7, 9),
        GLOBEX_CLAIMS + GLOBEX_AP,
        {**CLAIMS_SKILLS, **AP_SKILLS, "data_entry": 4},
        BACK_OFFICE,
    ),
    TeamSeed("monterrey", range(1, 8), ACME_CARE, CARE_SKILLS, EMAIL_AND_CHAT),
    TeamSeed("monterrey", range(8, 11), ACME_TECH, TECH_SKILLS, {"email": 3}),
    TeamSeed("austin", range(1, 4), ACME_CARE, CARE_SKILLS, {**EMAIL_AND_CHAT, "voice": 1}),
    TeamSeed("austin", range(4, 7), ACME_TECH, TECH_SKILLS, {"email": 2, "voice": 1}),
)
# Each site's language mixes, taken in turn by its agents.
AGENT_LANGUAGES: dict[str, tuple[tuple[str, ...], ...]] = {
    "manila": (("en", "tl"),),
    "krakow": (("pl", "en", "de"), ("pl", "en")),
    "monterrey": (("es", "en"),),
    "austin": (("en", "es"), ("en",)),
}
# An agent's level of a skill is the team's plus one of these, by agent and skill.
LEVEL_STEPS = (0, 1, 0, -1, 1, 0)
# The floor when the demo is loaded: most agents available, some busy, away or out.
FLOOR = (
    Presence.AVAILABLE,
    Presence.AVAILABLE,
    Presence.BUSY,
    Presence.AVAILABLE,
    Presence.AWAY,
    Presence.AVAILABLE,
    Presence.AVAILABLE,
    Presence.OFFLINE,
)


@dataclass(frozen=True)
class BotWorkerSeed:
    username: str
    processes: tuple[tuple[str, str], ...]  # eligible for
    concurrency: int


BOT_WORKERS = (
    BotWorkerSeed("bot.invoice-check", GLOBEX_AP, concurrency=4),
    BotWorkerSeed("bot.claims-intake", GLOBEX_CLAIMS, concurrency=2),
)


def _team(seed: UserSeed) -> tuple[TeamSeed, int]:
    number = int(seed.username[-2:])
    team = next(t for t in TEAMS if t.site == seed.site and number in t.numbers)
    return team, number


def _agent_skills(team: TeamSeed, number: int) -> dict[str, int]:
    return {
        skill: min(5, max(1, level + LEVEL_STEPS[(number + i) % len(LEVEL_STEPS)]))
        for i, (skill, level) in enumerate(sorted(team.skills.items()))
    }


def _workers(provider: Organisation, users: Mapping[str, User]) -> None:
    """Every agent and bot a worker, looked up by user; new ones get the floor's presence."""
    existing = set(Worker.objects.filter(provider=provider).values_list("user_id", flat=True))
    processes = {
        (p.client.slug, p.slug): p
        for p in Process.objects.filter(provider=provider).select_related("client")
    }
    sites = {s.slug: s for s in Site.objects.filter(provider=provider)}
    for seed in AGENTS:
        if users[seed.username].pk in existing:
            continue
        team, number = _team(seed)
        mixes = AGENT_LANGUAGES[seed.site]
        worker = workers.worker_create(
            actor=None,
            provider=provider,
            user=users[seed.username],
            kind=WorkerKind.AGENT,
            site=sites[seed.site],
            skills=_agent_skills(team, number),
            languages=mixes[number % len(mixes)],
            processes=[processes[key] for key in team.processes],
            channels=team.channels,
        )
        presence = FLOOR[number % len(FLOOR)]
        workers.worker_set_presence(actor=None, worker=worker, presence=presence)
    for bot in BOT_WORKERS:
        if users[bot.username].pk in existing:
            continue
        worker = workers.worker_create(
            actor=None,
            provider=provider,
            user=users[bot.username],
            kind=WorkerKind.BOT,
            processes=[processes[key] for key in bot.processes],
            bot_mode=BotMode.UNATTENDED,
            concurrency=bot.concurrency,
        )
        workers.worker_set_presence(actor=None, worker=worker, presence=Presence.AVAILABLE)


# ------------------------------------------------------------------ API keys


def key_name(owner: str) -> str:
    """The name of the demo key of an organisation slug or a bot username."""
    return f"demo: {owner}"


def _key_works(secret: str, *, organisation: Organisation, user: User | None) -> bool:
    """Whether the secret still opens the API as this organisation (and user), checked
    without touching `last_used_at`, so a second run leaves the database as it was."""
    key = tenancy.api_key_find(secret) if secret else None
    return (
        key is not None
        and key.organisation_id == organisation.pk
        and key.user_id == (user and user.pk)
    )


def _key(
    *, organisation: Organisation, user: User | None, owner: str, saved: str | None
) -> tuple[str, bool]:
    """The working secret for this owner's demo key, and whether it had to be replaced."""
    if saved is not None and _key_works(saved, organisation=organisation, user=user):
        return saved, False
    name = key_name(owner)
    now = timezone.now()
    for old in ApiKey.objects.filter(organisation=organisation, name=name, revoked_at__isnull=True):
        old.revoked_at = now
        old.save(update_fields=["revoked_at", "updated_at"])
        audit.record(
            organisation=organisation,
            actor=None,
            action="api_key.revoke",
            obj=old,
            changes={"revoked_at": [None, now.isoformat()]},
        )
    _, secret = tenancy.api_key_create(
        actor=None, organisation=organisation, name=name, scopes=list(KEY_SCOPES), user=user
    )
    return secret, True


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def read_credentials(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The organisation and bot keys of an earlier run; empty when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, {}
    if not isinstance(data, dict):
        return {}, {}
    return _str_map(data.get("api_keys")), _str_map(data.get("bot_keys"))


def write_credentials(credentials: Credentials) -> None:
    """Write the file atomically and readable by its owner only: it holds secrets."""
    path = credentials.path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(credentials.as_json(), handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------ entry point


def _logins() -> list[Login]:
    def rows(seeds: Iterable[UserSeed], org: str) -> list[Login]:
        return [Login(s.username, s.password, s.role, org) for s in seeds if s.password]

    return [
        Login(SUPERUSER, SUPERUSER_PASSWORD, SUPERUSER_ROLE, NORTHWIND.slug),
        *rows(NORTHWIND_STAFF, NORTHWIND.slug),
        *(row for e in ENGAGEMENTS for row in rows(e.users, e.client.slug)),
        *rows(AGENTS, NORTHWIND.slug),
    ]


def _load_rows(
    saved_org_keys: Mapping[str, str], saved_bot_keys: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    provider = _organisation(NORTHWIND)
    _sites(provider)
    _users(provider, NORTHWIND_STAFF, NORTHWIND.domain)
    agents = _users(provider, AGENTS, NORTHWIND.domain)
    bots = _users(provider, BOTS, NORTHWIND.domain)
    _superuser(provider)
    organisations = {NORTHWIND.slug: provider}
    for seed in ENGAGEMENTS:
        engagement = _engagement(seed, provider)
        organisations[seed.client.slug] = engagement.client
        _invoices(engagement.client)
    _workers(provider, {**agents, **bots})
    forecast_seed.load(provider)
    schedule_seed.load(provider)
    twin_seed.load(provider)

    replaced: list[str] = []
    api_keys: dict[str, str] = {}
    for slug, organisation in organisations.items():
        api_keys[slug], new = _key(
            organisation=organisation, user=None, owner=slug, saved=saved_org_keys.get(slug)
        )
        replaced.extend([slug] if new else [])
    bot_keys: dict[str, str] = {}
    for bot in BOTS:
        bot_keys[bot.username], new = _key(
            organisation=provider,
            user=bots[bot.username],
            owner=bot.username,
            saved=saved_bot_keys.get(bot.username),
        )
        replaced.extend([bot.username] if new else [])
    return api_keys, bot_keys, replaced


def load(*, credentials_path: Path | None = None) -> Credentials:
    """Load the demo (idempotently) and write the credentials file; returns its content."""
    path = credentials_path or default_credentials_path()
    saved_org_keys, saved_bot_keys = read_credentials(path)
    events_before = AuditEvent.objects.count()
    # One transaction: all of the demo or none of it, and one commit instead of hundreds.
    with transaction.atomic():
        api_keys, bot_keys, replaced = _load_rows(saved_org_keys, saved_bot_keys)
    credentials = Credentials(
        path=path,
        api_keys=api_keys,
        bot_keys=bot_keys,
        logins=_logins(),
        audit_events_written=AuditEvent.objects.count() - events_before,
        keys_replaced=replaced,
    )
    write_credentials(credentials)
    return credentials
