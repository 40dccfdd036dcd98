"""Small builders for worker tests: agents and bots of a provider."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from offload.contracts import services as contract_services
from offload.contracts.models import Process
from offload.contracts.tests.factories import make_engagement
from offload.tenancy.models import Organisation, Site, User
from offload.tenancy.tests.factories import make_site, make_user
from offload.workers import services
from offload.workers.models import BotMode, Worker, WorkerKind

_seq = itertools.count(1)


def make_agent(
    provider: Organisation,
    *,
    user: User | None = None,
    username: str = "",
    site: Site | None = None,
    skills: Mapping[str, int] | None = None,
    languages: Sequence[str] = ("en",),
    processes: Sequence[Process] = (),
    channels: Mapping[str, int] | None = None,
) -> Worker:
    """An agent of `provider` (a new agent user and site unless given)."""
    return services.worker_create(
        actor=None,
        provider=provider,
        user=user or make_user(provider, "agent", username=username or f"agent{next(_seq)}"),
        kind=WorkerKind.AGENT,
        site=site or make_site(provider),
        skills=skills if skills is not None else {"billing": 3},
        languages=languages,
        processes=processes,
        channels=channels if channels is not None else {"email": 3},
    )


def make_bot(
    provider: Organisation,
    *,
    username: str = "",
    processes: Sequence[Process] = (),
    concurrency: int = 2,
    bot_mode: str = BotMode.UNATTENDED,
) -> Worker:
    """A bot worker of `provider`, acting through a new bot user."""
    return services.worker_create(
        actor=None,
        provider=provider,
        user=make_user(provider, "bot", username=username or f"bot{next(_seq)}"),
        kind=WorkerKind.BOT,
        processes=processes,
        bot_mode=bot_mode,
        concurrency=concurrency,
    )


def make_process(provider: Organisation, *, channel: str = "email", **overrides: object) -> Process:
    """A process of a new client of `provider` (a new engagement each time)."""
    n = next(_seq)
    engagement = make_engagement(provider=provider)
    return contract_services.process_create(
        actor=None,
        engagement=engagement,
        name=str(overrides.pop("name", f"Process {n}")),
        channel=channel,
        **overrides,  # type: ignore[arg-type]
    )
