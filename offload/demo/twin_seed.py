"""The demo's twin data (loaded by seed.load, idempotently): scenarios built from the
demo's live configuration with the issue's example changes, and the baseline to
compare them with. They are not run here (that keeps the demo fast): open one under
Twin and press Run, or `offload twin export` and `offload twin run`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from offload.contracts.models import Process
from offload.tenancy.models import Organisation
from offload.twin import services
from offload.twin.models import Scenario
from offload.workers.models import Worker, WorkerKind

SITE = "Monterrey"
DAYS = 7
REPLICATIONS = 5


def _scenarios(provider: Organisation) -> list[tuple[str, str, list[dict[str, Any]]]]:
    chat = Process.objects.filter(provider=provider, slug="chat-support").first()
    invoices = Process.objects.filter(provider=provider, slug="ap-invoices").first()
    like = (
        Worker.objects.filter(
            provider=provider, kind=WorkerKind.AGENT, site__name=SITE, processes=chat
        )
        .order_by("pk")
        .first()
    )
    out: list[tuple[str, str, list[dict[str, Any]]]] = [
        ("Live configuration", "The baseline: the week as it is configured today.", [])
    ]
    if like is not None:
        out.append(
            (
                "Add 5 agents in Monterrey",
                "Five more email and chat agents in Monterrey, like its care team.",
                [{"kind": "add_agents", "count": 5, "site": SITE, "like": like.pk}],
            )
        )
    if chat is not None:
        out.append(
            (
                "Move Spanish chat to Monterrey",
                "Spanish chats are answered in Monterrey only; the rest of chat stays put.",
                [{"kind": "move_work", "process": chat.pk, "language": "es", "site": SITE}],
            )
        )
    if invoices is not None:
        out.append(
            (
                "Bots take 30 % of invoices",
                "The invoice-check bot tries 30 % of AP invoices first.",
                [{"kind": "bot_share", "process": invoices.pk, "share": 0.3}],
            )
        )
    return out


def load(provider: Organisation) -> None:
    """The scenarios above, each made once (looked up by name), for the coming week."""
    existing = set(Scenario.objects.filter(provider=provider).values_list("name", flat=True))
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    for name, description, changes in _scenarios(provider):
        if name in existing:
            continue
        services.scenario_create(
            actor=None,
            provider=provider,
            name=name,
            description=description,
            start=start,
            days=DAYS,
            changes=changes,
            replications=REPLICATIONS,
        )
