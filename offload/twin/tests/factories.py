"""Small builders for the twin's tests: a provider's live configuration, scenarios
and scenario files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from offload.contracts.models import Process
from offload.contracts.tests.factories import make_engagement, make_policy, target
from offload.contracts.tests.factories import make_process as make_contract_process
from offload.tenancy.models import Organisation, Site
from offload.tenancy.tests.factories import make_client, make_provider, make_site
from offload.twin import services
from offload.twin.engine import examples
from offload.twin.models import Scenario
from offload.work.models import Assignment, Queue, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_queue
from offload.workers.models import Worker, WorkerKind
from offload.workers.tests.factories import make_agent, make_bot

# A Monday, UTC: every test period starts here.
START = datetime(2026, 12, 7, tzinfo=UTC)
# The history a replay reads: Monday 2026-11-23, midnight in Manila (the provider's zone).
REPLAY_DAY = "2026-11-23"
REPLAY_SINCE = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Live:
    provider: Organisation
    manila: Site
    monterrey: Site
    chat: Process
    chat_queue: Queue
    spanish_queue: Queue
    maria: Worker  # Manila, chat
    sofia: Worker  # Monterrey, chat in Spanish
    bot: Worker


def make_live(provider: Organisation | None = None) -> Live:
    """A provider with a chat process (an SLA policy on weekdays 9 to 5), its default
    and Spanish queues, an agent at each of two sites and a bot."""
    provider = provider or make_provider("Northwind Services", slug="northwind")
    manila = make_site(provider, name="Manila", slug="manila", hourly_cost=Decimal("9.50"))
    monterrey = make_site(
        provider,
        name="Monterrey",
        slug="monterrey",
        country="MX",
        timezone="America/Monterrey",
        hourly_cost=Decimal("14.00"),
    )
    engagement = make_engagement(make_client("Acme Corp"), provider)
    policy = make_policy(
        engagement,
        targets=[
            target("first_response", "P1", "1"),
            target("first_response", "", "4"),
            target("turnaround", "", "2"),
        ],
    )
    chat = make_contract_process(
        engagement,
        name="Chat",
        channel="chat",
        languages=["en", "es"],
        required_skills={"live_chat": 3},
        sla_policy=policy,
    )
    chat_queue = make_queue(chat, name="Chat", slug=chat.slug)
    spanish_queue = make_queue(
        chat,
        name="Chat (Spanish)",
        languages=["es"],
        ordering=["due_at", "priority"],
        relaxation=[{"after_minutes": 2, "skill_drop": 1, "languages": ["en"]}],
    )
    make_queue(chat, name="Chat review", is_review=True)
    maria = make_agent(
        provider,
        site=manila,
        skills={"live_chat": 3},
        languages=["en"],
        processes=[chat],
        channels={"chat": 2, "email": 0},
    )
    sofia = make_agent(
        provider,
        site=monterrey,
        skills={"live_chat": 4},
        languages=["es", "en"],
        processes=[chat],
        channels={"chat": 3},
    )
    bot = make_bot(provider, processes=[chat], concurrency=4)
    return Live(provider, manila, monterrey, chat, chat_queue, spanish_queue, maria, sofia, bot)


def make_scenario(provider: Organisation, **overrides: Any) -> Scenario:
    fields: dict[str, Any] = {
        "name": "What if",
        "start": START,
        "days": 1,
        "replications": 2,
        "now": START,
        **overrides,
    }
    return services.scenario_create(actor=None, provider=provider, **fields)


def tiny_scenario(**overrides: Any) -> dict[str, Any]:
    """A small M/M/2 scenario as a file's JSON: 40 arrivals, two replications."""
    fields: dict[str, Any] = {
        "agents": 2,
        "calls_per_hour": 30.0,
        "aht_s": 120.0,
        "patience_s": None,
        "max_arrivals": 40,
        "replications": 2,
        **overrides,
    }
    return examples.mmc(**fields).to_dict()


def write_scenario(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def make_history_item(
    process: Process,
    created_at: datetime,
    *,
    priority: str = "P3",
    language: str = "",
    leases: tuple[tuple[int, int], ...] = (),
    reported: int | None = None,
) -> WorkItem:
    """An item created at `created_at`, completed by a lease per (work, wrap-up)
    seconds in `leases`, and/or with a completion that reported `reported` seconds."""
    item = make_item(process, priority=priority, language=language)
    WorkItem.objects.filter(pk=item.pk).update(created_at=created_at)
    done = created_at + timedelta(minutes=20)
    if leases:
        worker = Worker.objects.filter(provider_id=item.provider_id, kind=WorkerKind.AGENT).first()
        assert worker is not None
        for work_s, wrap_s in leases:
            Assignment.objects.create(
                client_id=item.client_id,
                provider_id=item.provider_id,
                item=item,
                worker=worker,
                assigned_at=done - timedelta(seconds=work_s),
                lease_expires_at=done,
                how="pull",
                ended_at=done,
                end_reason="completed",
                work_seconds=work_s,
                wrap_seconds=wrap_s,
            )
    if leases or reported is not None:
        WorkItemEvent.objects.create(
            item=item,
            client_id=item.client_id,
            provider_id=item.provider_id,
            seq=WorkItemEvent.objects.filter(item=item).count() + 1,
            type="completed",
            at=done,
            actor_label="test",
            data={} if reported is None else {"handle_seconds": reported},
        )
    return item


def recent_replay_day(days_ago: int = 3) -> tuple[date, datetime]:
    """A past day to replay (`days_ago` days before today in Manila, the provider's
    zone) and its start in UTC: a window over whatever the real clock says."""
    manila = ZoneInfo("Asia/Manila")
    day = timezone.now().astimezone(manila).date() - timedelta(days=days_ago)
    return day, datetime.combine(day, time(0), tzinfo=manila).astimezone(UTC)
