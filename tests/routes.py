"""Every route of the one NinjaAPI, read from its own OpenAPI document, and a valid
request for each write route.

Routes come from `api.get_openapi_schema()`, so a route added to any router is walked
by the cross-cutting tests without editing them; a write route missing from
`WRITE_CASES`, or a path parameter `Refs` does not know, fails those tests by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from config.api import api
from offload.contracts.models import Process
from offload.contracts.tests.factories import WEEKDAYS_9_TO_5
from offload.tenancy import visibility
from offload.tenancy.models import ApiKey, AuditEvent, Site, User
from offload.work import attainment, leases
from offload.work import services as work_services
from offload.work.bots import invoice_check
from offload.work.models import Offer, SlaClock, WorkItem
from offload.workers import services as worker_services
from offload.workers.models import Worker
from tests.factories import Refs

if TYPE_CHECKING:
    # The test client's response (with .json()), as django-stubs names it.
    from django.test.client import _MonkeyPatchedWSGIResponse

    Response = _MonkeyPatchedWSGIResponse

JSON = "application/json"
MULTIPART = "multipart/form-data"
PROBLEM = "application/problem+json"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT"})
REF_NAMES = frozenset(f.name for f in fields(Refs))

UNKNOWN_PARAMS = (
    "{route} has path parameter(s) {params} that tests/factories.py Refs does not know; "
    "add them, and an object of each side in make_client_side, to walk this route"
)

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the OpenAPI template, e.g. /api/v1/engagements/{engagement_id}
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    content_type: str | None  # of the request body; None when the route takes none
    body_schema: Schema | None  # with every $ref inlined

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def unknown_params(self) -> list[str]:
        return [p for p in self.path_params if p not in REF_NAMES]

    def url(self, refs: Refs) -> str:
        if self.unknown_params:
            raise LookupError(UNKNOWN_PARAMS.format(route=self, params=self.unknown_params))
        return self.path.format(**{p: getattr(refs, p) for p in self.path_params})


def _inline(node: Any, components: Schema) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _inline(components[name], components)
        return {k: _inline(v, components) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, components) for v in node]
    return node


def api_routes() -> list[Route]:
    """Every operation of the API, in the order of its OpenAPI document."""
    schema = api.get_openapi_schema()
    components = schema.get("components", {}).get("schemas", {})
    routes = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            path_params = tuple(p["name"] for p in params if p["in"] == "path")
            query_params = tuple(p["name"] for p in params if p["in"] == "query")
            content = operation.get("requestBody", {}).get("content", {})
            content_type = next(iter(content), None)
            body_schema = (
                _inline(content[content_type]["schema"], components) if content_type else None
            )
            routes.append(
                Route(method.upper(), path, path_params, query_params, content_type, body_schema)
            )
    return routes


# ------------------------------------------------------------------ schema leaves


def _variants(node: Schema) -> list[Schema]:
    """The alternatives of a node (`X | None` is an anyOf), itself included."""
    out = [node]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            out.extend(_variants(sub))
    return out


def _is_enum(node: Schema) -> bool:
    return any("enum" in v or "const" in v for v in _variants(node))


def _is_integer(node: Schema) -> bool:
    return any(v.get("type") == "integer" for v in _variants(node))


def _items(node: Schema) -> Schema | None:
    return next((v["items"] for v in _variants(node) if "items" in v), None)


def _properties(node: Schema) -> Mapping[str, Schema]:
    return next((v["properties"] for v in _variants(node) if "properties" in v), {})


Path = tuple[str | int, ...]


def leaves(value: Any, node: Schema, path: Path = ()) -> Iterator[tuple[Path, Any, Schema]]:
    """Each (path, value, schema) inside `value`, walking objects and arrays."""
    if path:
        yield path, value, node
    if isinstance(value, dict):
        props = _properties(node)
        for key, sub in value.items():
            if key in props:
                yield from leaves(sub, props[key], (*path, key))
    elif isinstance(value, list) and (items := _items(node)) is not None:
        for i, sub in enumerate(value):
            yield from leaves(sub, items, (*path, i))


def enum_paths(body: Mapping[str, Any], schema: Schema) -> list[Path]:
    return [p for p, _, node in leaves(dict(body), schema) if _is_enum(node)]


def integer_paths(body: Mapping[str, Any], schema: Schema) -> list[Path]:
    return [p for p, _, node in leaves(dict(body), schema) if _is_integer(node)]


def closed_object_paths(body: Mapping[str, Any], schema: Schema) -> list[Path]:
    """The body itself and each object in it that refuses unknown fields."""
    found = [(p, v, n) for p, v, n in leaves(dict(body), schema)]
    return [
        p
        for p, value, node in [((), body, schema), *found]
        if isinstance(value, Mapping)
        and any(v.get("additionalProperties") is False for v in _variants(node))
    ]


def field_name(path: Path) -> str:
    """How the API names a nested field: `targets[0].unit`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def within(field: str, parent: str) -> bool:
    """Whether `field` is `parent` or a field nested in it (`targets[0].unit` in `targets`)."""
    return field == parent or field.startswith((f"{parent}.", f"{parent}["))


def replaced(body: Mapping[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of `body` with the value at `path` replaced (or added)."""
    copy: dict[str, Any] = _copy(dict(body))
    node: Any = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


# ------------------------------------------------------------------ valid requests


@dataclass(frozen=True)
class WriteCase:
    """A request a route accepts, built from one side's ids.

    `writer` is the principal allowed to make it: the provider's admin for
    provider-side objects, the client's admin for the client's own users and keys.
    `prepare`, when given, brings the writer's own objects into the state the request
    needs (an item waiting on the client before `resume`); it never touches another
    side, so the isolation walk does not call it.
    """

    writer: Literal["provider", "client"]
    body: Callable[[Refs], dict[str, Any]]
    prepare: Callable[[Refs], None] | None = None


def _target(refs: Refs) -> dict[str, Any]:
    return {
        "metric": "turnaround",
        "priority": "P2",
        "target_value": "2",
        "unit": "business_days",
        "comparison": "within",
        "calendar_id": refs.calendar_id,
        "credit": {"percent_of_fees": "5"},
    }


SECOND_QUEUE = "second-line"


def _item_waiting(refs: Refs) -> None:
    item = WorkItem.objects.get(pk=refs.item_id)
    work_services.work_item_wait(actor=None, item=item, note="Asked for details")


def _item_completed(refs: Refs) -> None:
    item = WorkItem.objects.get(pk=refs.item_id)
    work_services.work_item_complete(actor=None, item=item, outcome="resolved")


def _second_queue(refs: Refs) -> None:
    process = Process.objects.get(pk=refs.process_id)
    work_services.queue_create(actor=None, process=process, name="Second line", slug=SECOND_QUEUE)


INVOICE = {
    "supplier_tax_id": "GB999999973",
    "invoice_number": "INV-1",
    "currency": "GBP",
    "net_amount": "100.00",
    "tax_rate": "20",
    "tax_amount": "20.00",
    "lines": [{"description": "Paper", "amount": "100.00"}],
}


def _invoice_item(refs: Refs) -> None:
    """The side's process takes invoices, and its item is one."""
    schema = {"type": "object", "properties": {f: {} for f in invoice_check.FIELDS}}
    Process.objects.filter(pk=refs.process_id).update(item_schema=schema)
    WorkItem.objects.filter(pk=refs.item_id).update(payload=INVOICE)


def _provider_admin_works(refs: Refs) -> Worker:
    """The provider's admin (whose key writes provider cases) as an available agent
    certified on the side's process."""
    process = Process.objects.get(pk=refs.process_id)
    user = User.objects.get(username="northwind-admin")
    worker = Worker.objects.filter(user=user).first() or worker_services.worker_create(
        actor=None,
        provider=process.provider,
        user=user,
        kind="agent",
        site=Site.objects.filter(provider=process.provider).first(),
        skills={},
        languages=["en"],
        processes=[process],
        channels={process.channel: 3},
    )
    worker_services.worker_set_presence(actor=None, worker=worker, presence="available")
    return worker


def _provider_admin_available(refs: Refs) -> None:
    _provider_admin_works(refs)


def _offer_to_provider_admin(refs: Refs) -> None:
    Offer.objects.filter(pk=refs.offer_id).update(worker=_provider_admin_works(refs))


def _provider_admin_holds_item(refs: Refs) -> None:
    worker = _provider_admin_works(refs)
    claim = leases.work_item_claim(actor=visibility.principal_for_user(worker.user))  # type: ignore[arg-type]
    assert claim is not None
    assert claim.item.pk == refs.item_id


def _last_month() -> str:
    return attainment.month_label(attainment.month_previous(attainment.month_current()))


def _clock_met_last_month(refs: Refs) -> None:
    """The side's item answered in time last month, so that month has a line to freeze."""
    item = WorkItem.objects.get(pk=refs.item_id)
    start, _ = attainment.month_bounds(attainment.month_parse(_last_month()))
    started, due = start + timedelta(days=1), start + timedelta(days=1, hours=4)
    SlaClock.objects.update_or_create(
        item=item,
        metric="first_response",
        defaults={
            "client_id": item.client_id,
            "provider_id": item.provider_id,
            "policy_id": refs.policy_id,
            "priority": item.priority,
            "state": "met",
            "target": timedelta(hours=4),
            "started_at": started,
            "due_at": due,
            "original_due_at": due,
            "paused": timedelta(0),
            "stopped_at": started + timedelta(hours=1),
            "next_check_at": None,
            "data": {},
        },
    )


V1 = "/api/v1"
WRITE_CASES: dict[tuple[str, str], WriteCase] = {
    ("POST", f"{V1}/organisations"): WriteCase(
        "provider",
        lambda r: {
            "kind": "client",
            "name": "Hooli",
            "country": "US",
            "timezone": "America/Los_Angeles",
            "currency": "USD",
        },
    ),
    ("PATCH", f"{V1}/organisations/{{org_id}}"): WriteCase(
        "client", lambda r: {"name": "Renamed Inc", "timezone": "Europe/London"}
    ),
    ("POST", f"{V1}/sites"): WriteCase(
        "provider",
        lambda r: {
            "name": "Cebu",
            "country": "PH",
            "timezone": "Asia/Manila",
            "languages": ["en", "tl"],
            "hourly_cost": "11.00",
        },
    ),
    ("PATCH", f"{V1}/sites/{{site_id}}"): WriteCase(
        "provider", lambda r: {"name": "Manila 2", "hourly_cost": "13.00"}
    ),
    ("POST", f"{V1}/users"): WriteCase(
        "client",
        lambda r: {
            "username": "new-member",
            "email": "new.member@example.com",
            "password": "long enough secret",
            "roles": ["client_viewer"],
        },
    ),
    ("PATCH", f"{V1}/users/{{user_id}}"): WriteCase(
        "client", lambda r: {"first_name": "Ann", "is_active": True, "roles": ["client_admin"]}
    ),
    ("POST", f"{V1}/api-keys"): WriteCase(
        "client", lambda r: {"name": "CI", "scopes": ["read"], "user_id": r.user_id}
    ),
    ("POST", f"{V1}/engagements"): WriteCase(
        "provider", lambda r: {"client_id": r.org_id, "name": "Second line", "description": ""}
    ),
    ("PATCH", f"{V1}/engagements/{{engagement_id}}"): WriteCase(
        "provider", lambda r: {"description": "Tier 1 and 2 support"}
    ),
    ("POST", f"{V1}/engagements/{{engagement_id}}/transition"): WriteCase(
        "provider", lambda r: {"status": "select"}
    ),
    ("POST", f"{V1}/documents"): WriteCase(
        "provider",
        lambda r: {
            "engagement_id": r.engagement_id,
            "kind": "sow",
            "title": "Statement of work",
            "effective_from": "2026-01-01",
            "body": "Scope: email support.",
        },
    ),
    ("POST", f"{V1}/documents/upload"): WriteCase(
        "provider",
        lambda r: {
            "engagement_id": r.engagement_id,
            "kind": "dpa",
            "title": "Data processing agreement",
            "effective_from": "2026-01-01",
            "file": SimpleUploadedFile("dpa.pdf", b"%PDF-1.4 dpa", "application/pdf"),
        },
    ),
    ("POST", f"{V1}/calendars"): WriteCase(
        "provider",
        lambda r: {"engagement_id": r.engagement_id, "name": "Weekdays", "spec": WEEKDAYS_9_TO_5},
    ),
    ("PATCH", f"{V1}/calendars/{{calendar_id}}"): WriteCase(
        "provider", lambda r: {"name": "Office hours"}
    ),
    ("POST", f"{V1}/sla-policies"): WriteCase(
        "provider",
        lambda r: {
            "engagement_id": r.engagement_id,
            "name": "Claims SLA",
            "calendar_id": r.calendar_id,
            "at_risk_percent": "80",
            "targets": [_target(r)],
        },
    ),
    ("PATCH", f"{V1}/sla-policies/{{policy_id}}"): WriteCase(
        "provider", lambda r: {"name": "Claims SLA v2", "targets": [_target(r)]}
    ),
    ("POST", f"{V1}/rate-cards"): WriteCase(
        "provider",
        lambda r: {
            "engagement_id": r.engagement_id,
            "name": "Chat rates",
            "pricing_unit": "per_handled_hour",
            "price": "18.50",
            "currency": "USD",
            "tiers": [{"from_volume": 1000, "price": "17.00"}],
            "effective_from": "2026-01-01",
        },
    ),
    ("PATCH", f"{V1}/rate-cards/{{card_id}}"): WriteCase(
        "provider", lambda r: {"price": "1.25", "tiers": [{"from_volume": 500, "price": "1.10"}]}
    ),
    ("POST", f"{V1}/processes"): WriteCase(
        "provider",
        lambda r: {
            "engagement_id": r.engagement_id,
            "name": "Chat support",
            "channel": "chat",
            "required_skills": {"chat": 2},
            "languages": ["en"],
            "pricing_unit": "per_item",
            "sla_policy_id": r.policy_id,
            "sop": "# Chat\n\nGreet, solve, close.",
        },
    ),
    ("PATCH", f"{V1}/processes/{{process_id}}"): WriteCase(
        "provider", lambda r: {"channel": "voice", "sop": "# Voice\n\nPick up in 3 rings."}
    ),
    # ---- notifications (the caller's own inbox)
    ("POST", f"{V1}/notifications/read-all"): WriteCase("client", lambda r: {}),
    ("PATCH", f"{V1}/notifications/preferences"): WriteCase(
        "client", lambda r: {"notify_by_email": True}
    ),
    ("POST", f"{V1}/notifications/{{notification_id}}/read"): WriteCase("client", lambda r: {}),
    # ---- work items: intake
    ("POST", f"{V1}/items"): WriteCase(
        "client",
        lambda r: {
            "reference": "NEW-1",
            "process": r.process_slug,
            "priority": "P2",
            "subject": "Router keeps rebooting",
            "payload": {"account": "AC-1"},
            "language": "en",
            "tags": ["router"],
        },
    ),
    ("POST", f"{V1}/items/bulk"): WriteCase(
        "client",
        lambda r: {
            "client": r.client_slug,
            "items": [{"reference": "BULK-1", "process": r.process_slug, "subject": "One"}],
        },
    ),
    ("POST", f"{V1}/items/import"): WriteCase(
        "client",
        lambda r: {
            "client": r.client_slug,
            "process": r.process_slug,
            "file": SimpleUploadedFile("items.csv", b"reference;subject\nCSV-1;One\n", "text/csv"),
        },
    ),
    ("POST", f"{V1}/items/{{item_id}}/attachments"): WriteCase(
        "client",
        lambda r: {"file": SimpleUploadedFile("receipt.png", b"\x89PNG\r\n\x1a\n...", "image/png")},
    ),
    # ---- work items: actions (the side's item starts queued)
    ("POST", f"{V1}/items/{{item_id}}/comment"): WriteCase(
        "provider", lambda r: {"text": "Called the customer back"}
    ),
    ("POST", f"{V1}/items/{{item_id}}/reply"): WriteCase(
        "client", lambda r: {"text": "The serial number is SN-42"}
    ),
    ("POST", f"{V1}/items/{{item_id}}/wait"): WriteCase(
        "provider", lambda r: {"note": "Asked for the serial number"}
    ),
    ("POST", f"{V1}/items/{{item_id}}/resume"): WriteCase(
        "client", lambda r: {"note": "Sent it"}, prepare=_item_waiting
    ),
    ("POST", f"{V1}/items/{{item_id}}/escalate"): WriteCase(
        "provider", lambda r: {"reason": "Refund above the agent's limit"}
    ),
    ("POST", f"{V1}/items/{{item_id}}/transfer"): WriteCase(
        "provider",
        lambda r: {"queue": SECOND_QUEUE, "reason": "Needs a Spanish speaker"},
        prepare=_second_queue,
    ),
    ("POST", f"{V1}/items/{{item_id}}/complete"): WriteCase(
        "provider",
        lambda r: {"outcome": "resolved", "result": {"refund": "12.50"}, "handle_seconds": 300},
    ),
    ("POST", f"{V1}/items/{{item_id}}/fail"): WriteCase(
        "provider", lambda r: {"kind": "business", "reason": "No serial number on file"}
    ),
    ("POST", f"{V1}/items/{{item_id}}/reopen"): WriteCase(
        "client", lambda r: {"reason": "Still rebooting"}, prepare=_item_completed
    ),
    ("POST", f"{V1}/items/{{item_id}}/cancel"): WriteCase(
        "client", lambda r: {"reason": "Sent by mistake"}
    ),
    ("POST", f"{V1}/items/{{item_id}}/reprioritize"): WriteCase(
        "provider", lambda r: {"priority": "P1", "reason": "The customer is a hospital"}
    ),
    # ---- attended bots
    ("POST", f"{V1}/items/{{item_id}}/bots/invoice-check"): WriteCase(
        "provider", lambda r: {}, prepare=_invoice_item
    ),
    # ---- webhooks
    ("POST", f"{V1}/webhooks"): WriteCase(
        "client",
        lambda r: {
            "client_id": r.org_id,
            "url": "https://hooks.example.org/offload",
            "event_types": ["completed", "failed"],
            "is_active": True,
        },
    ),
    ("PATCH", f"{V1}/webhooks/{{endpoint_id}}"): WriteCase(
        "client", lambda r: {"event_types": ["*"], "is_active": False}
    ),
    ("POST", f"{V1}/webhooks/deliveries/{{delivery_id}}/redeliver"): WriteCase(
        "client", lambda r: {"reason": "The receiver was down for maintenance"}
    ),
    # ---- mailboxes
    ("POST", f"{V1}/mailboxes"): WriteCase(
        "provider",
        lambda r: {
            "process_id": r.process_id,
            "address": f"help-{r.process_id}@mail.example.org",
            "display_name": "Help desk",
            "is_active": True,
            "auto_acknowledge": True,
            "imap_host": "imap.example.org",
            "imap_port": 993,
            "imap_username": "help",
            "imap_password": "app password",
            "imap_folder": "INBOX",
            "imap_use_ssl": True,
        },
    ),
    ("PATCH", f"{V1}/mailboxes/{{mailbox_id}}"): WriteCase(
        "provider", lambda r: {"display_name": "Support team", "auto_acknowledge": True}
    ),
    # ---- escalation rules (the side's policy; its item's queue is of a process on it)
    ("POST", f"{V1}/escalation-rules"): WriteCase(
        "provider",
        lambda r: {
            "client_id": r.org_id,
            "policy_slug": r.policy_slug,
            "metric": "turnaround",
            "on_percent": 75,
            "raise_priority": True,
            "notify_team_leads": True,
            "move_to_queue_id": r.queue_id,
            "notify_client": True,
            "is_active": True,
        },
    ),
    ("PATCH", f"{V1}/escalation-rules/{{rule_id}}"): WriteCase(
        "provider",
        lambda r: {
            "metric": "turnaround",
            "on_percent": 90,
            "notify_team_leads": True,
            "move_to_queue_id": r.queue_id,
        },
    ),
    # ---- routing (the provider admin's key acts as its agent)
    ("POST", f"{V1}/work/next"): WriteCase(
        "provider", lambda r: {"queue_id": r.queue_id}, prepare=_provider_admin_available
    ),
    ("POST", f"{V1}/work/{{item_id}}/heartbeat"): WriteCase(
        "provider", lambda r: {}, prepare=_provider_admin_holds_item
    ),
    ("POST", f"{V1}/work/{{item_id}}/release"): WriteCase(
        "provider", lambda r: {"reason": "Break"}, prepare=_provider_admin_holds_item
    ),
    ("POST", f"{V1}/work/{{item_id}}/complete-and-next"): WriteCase(
        "provider",
        lambda r: {"outcome": "resolved", "result": {"refund": "12.50"}, "handle_seconds": 300},
        prepare=_provider_admin_holds_item,
    ),
    ("POST", f"{V1}/work/offers/{{offer_id}}/accept"): WriteCase(
        "provider", lambda r: {}, prepare=_offer_to_provider_admin
    ),
    ("POST", f"{V1}/work/offers/{{offer_id}}/decline"): WriteCase(
        "provider", lambda r: {"reason": "On a call"}, prepare=_offer_to_provider_admin
    ),
    ("POST", f"{V1}/items/{{item_id}}/assign"): WriteCase(
        "provider", lambda r: {"worker_id": r.worker_id, "reason": "VIP customer"}
    ),
    ("POST", f"{V1}/work/wrap-up/done"): WriteCase(
        "provider", lambda r: {}, prepare=_provider_admin_available
    ),
    # ---- workers (the provider's own; no client sees them)
    ("POST", f"{V1}/workers"): WriteCase(
        "provider",
        lambda r: {
            "user_id": r.new_worker_user_id,
            "kind": "agent",
            "site_id": r.site_id,
            "skills": {"billing": 3, "live_chat": 2},
            "languages": ["en", "tl"],
            "channels": [{"channel": "email", "capacity": 3}, {"channel": "chat", "capacity": 2}],
        },
    ),
    ("PATCH", f"{V1}/workers/{{worker_id}}"): WriteCase(
        "provider",
        lambda r: {
            "skills": {"billing": 4},
            "languages": ["en", "es"],
            "channels": [{"channel": "email", "capacity": 2}],
            "is_active": True,
        },
    ),
    ("POST", f"{V1}/workers/{{worker_id}}/presence"): WriteCase(
        "provider", lambda r: {"presence": "available"}
    ),
    # ---- queues
    ("POST", f"{V1}/queues"): WriteCase(
        "provider",
        lambda r: {
            "process_id": r.process_id,
            "name": "Spanish line",
            "languages": ["es"],
            "routing_mode": "push",
            "ordering": ["priority", "-created_at"],
        },
    ),
    ("PATCH", f"{V1}/queues/{{queue_id}}"): WriteCase(
        "provider", lambda r: {"name": "First line", "ordering": ["due_at"], "routing_mode": "push"}
    ),
    # ---- workforce: the staffing calculator (computes; reads and writes nothing)
    ("POST", f"{V1}/workforce/erlang"): WriteCase(
        "provider",
        lambda r: {
            "calls": 100,
            "interval_s": 1800,
            "aht_s": 180,
            "target_s": 20,
            "service_level": 0.8,
            "max_occupancy": 0.85,
            "patience_s": 60,
            "shrinkage": 0.3,
        },
    ),
    # ---- workforce: forecasts, adjustments, staffing targets (the provider's own)
    ("POST", f"{V1}/forecasts"): WriteCase(
        "provider", lambda r: {"process_id": r.process_id, "start_date": "2026-12-07", "days": 1}
    ),
    ("POST", f"{V1}/forecast-adjustments"): WriteCase(
        "provider",
        lambda r: {
            "process_id": r.process_id,
            "start": "2026-12-07T00:00:00Z",
            "end": "2026-12-08T00:00:00Z",
            "series": "volume",
            "kind": "percent",
            "value": "30",
            "reason": "Campaign launch",
        },
    ),
    ("PUT", f"{V1}/processes/{{process_id}}/staffing-target"): WriteCase(
        "provider",
        lambda r: {
            "service_level": "0.8",
            "answer_target_s": 20,
            "shrinkage": "0.3",
            "max_occupancy": "0.85",
            "patience_s": 120,
        },
    ),
    # ---- workforce: schedules, shift templates, time off (the provider's own)
    ("POST", f"{V1}/schedules"): WriteCase(
        "provider",
        lambda r: {
            "start": "2026-12-07T00:00:00Z",
            "days": 1,
            "name": "First week of December",
            "requirements": [
                {"process_id": r.process_id, "start": "2026-12-07T09:00:00Z", "agents": 1}
            ],
            "time_limit_s": 5,
        },
    ),
    ("POST", f"{V1}/schedules/{{schedule_id}}/publish"): WriteCase("provider", lambda r: {}),
    ("POST", f"{V1}/schedules/{{schedule_id}}/roster"): WriteCase("provider", lambda r: {}),
    ("POST", f"{V1}/shift-templates"): WriteCase(
        "provider",
        lambda r: {
            "name": "9 h",
            "length_minutes": 540,
            "break_minutes": 45,
            "break_earliest_minutes": 180,
            "break_latest_minutes": 330,
        },
    ),
    ("POST", f"{V1}/time-off"): WriteCase(
        "provider",
        lambda r: {
            "worker_id": r.worker_id,
            "start": "2026-12-24T00:00:00Z",
            "end": "2026-12-27T00:00:00Z",
            "reason": "Christmas",
        },
    ),
    ("POST", f"{V1}/time-off/{{time_off_id}}/decide"): WriteCase(
        "provider", lambda r: {"decision": "approved"}
    ),
    ("PUT", f"{V1}/sites/{{site_id}}/planning-rule"): WriteCase(
        "provider",
        lambda r: {
            "opening_hours": [["08:00", "20:00"]] * 5 + [["22:00", "06:00"], None],
            "max_days_per_week": 5,
            "min_rest_hours": 11,
        },
    ),
    ("PUT", f"{V1}/workers/{{worker_id}}/contract"): WriteCase(
        "provider", lambda r: {"hours_per_week": 32}
    ),
    # ---- the twin: scenarios, runs, sweeps (the provider's own)
    ("POST", f"{V1}/twin/scenarios"): WriteCase(
        "provider",
        lambda r: {
            "name": "Twenty percent more",
            "days": 1,
            "changes": [{"kind": "volume", "percent": 20}],
            "replications": 1,
        },
    ),
    ("POST", f"{V1}/twin/scenarios/{{scenario_id}}/run"): WriteCase(
        "provider", lambda r: {"replications": 1}
    ),
    ("POST", f"{V1}/twin/sweeps"): WriteCase(
        "provider", lambda r: {"runs": [{"scenario_id": r.scenario_id}], "replications": 1}
    ),
    ("POST", f"{V1}/twin/live"): WriteCase("provider", lambda r: {"days": 1}),
    # ---- SLA attainment (a closed month with a measured clock)
    ("POST", f"{V1}/engagements/{{engagement_id}}/attainment/freeze"): WriteCase(
        "provider", lambda r: {"month": _last_month()}, prepare=_clock_met_last_month
    ),
}


def write_case(route: Route) -> WriteCase:
    case = WRITE_CASES.get(route.key)
    if case is None:
        raise LookupError(
            f"{route} has no entry in tests/routes.py WRITE_CASES; add a valid request "
            "for it so the isolation and bad-input walks cover it"
        )
    return case


# ------------------------------------------------------------------ sending


def send(client: Client, route: Route, url: str, body: Mapping[str, Any] | None = None) -> Response:
    """`body` as the route takes it: JSON, or multipart form fields and files."""
    if route.content_type == MULTIPART:
        data = {k: v for k, v in (body or {}).items() if v is not None}
        return client.generic(
            route.method, url, encode_multipart(BOUNDARY, data), content_type=MULTIPART_CONTENT
        )
    if route.content_type == JSON and body is not None:
        payload = json.dumps(body, default=str)
        return client.generic(route.method, url, payload, content_type=JSON)
    return client.generic(route.method, url)


# ------------------------------------------------------------------ the database


def tenant_models() -> list[type[Model]]:
    """Every model the visibility rules know, and the audit trail."""
    models = visibility.registered_models()
    return models if AuditEvent in models else [*models, AuditEvent]


Snapshot = dict[str, dict[Any, dict[str, Any]]]


def snapshot() -> Snapshot:
    """Every row of every tenant model, to see that a request changed nothing.

    An API key's `last_used_at` is left out: authenticating touches it on purpose.
    """
    out: Snapshot = {}
    for model in tenant_models():
        columns = [f.attname for f in model._meta.concrete_fields]
        if model is ApiKey:
            columns.remove("last_used_at")
        rows = model._default_manager.order_by("pk").values(*columns)
        pk = model._meta.pk.attname if model._meta.pk is not None else "id"
        out[model._meta.label] = {row[pk]: row for row in rows}
    return out


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs between two snapshots, one line per row added, removed or edited."""
    out = []
    for label, rows in after.items():
        old = before.get(label, {})
        out += [f"{label} #{pk} added" for pk in rows.keys() - old.keys()]
        out += [f"{label} #{pk} removed" for pk in old.keys() - rows.keys()]
        out += [f"{label} #{pk} edited" for pk in rows.keys() & old.keys() if rows[pk] != old[pk]]
    return sorted(out)


ORGANISATION_COLUMNS = ("organisation_id", "client_id", "provider_id")


def added_rows_of(before: Snapshot, after: Snapshot, organisations: frozenset[int]) -> list[str]:
    """Rows added since `before` that belong to one of `organisations`."""
    out = []
    for label, rows in after.items():
        for pk in rows.keys() - before.get(label, {}).keys():
            if any(rows[pk].get(c) in organisations for c in ORGANISATION_COLUMNS):
                out.append(f"{label} #{pk}")
    return sorted(out)


def edited_rows_of(before: Snapshot, after: Snapshot, organisations: frozenset[int]) -> list[str]:
    """Rows edited since `before` that belong to one of `organisations`."""
    out = []
    for label, rows in after.items():
        old = before.get(label, {})
        for pk in rows.keys() & old.keys():
            if rows[pk] != old[pk] and any(
                old[pk].get(c) in organisations for c in ORGANISATION_COLUMNS
            ):
                out.append(f"{label} #{pk}")
    return sorted(out)
