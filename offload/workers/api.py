"""Workers: `GET/POST /workers`, `GET /workers/me`, `GET/PATCH /workers/{worker_id}`,
`POST /workers/{worker_id}/presence`, `GET /workers/{worker_id}/presence-changes`."""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest
from ninja import Query, Router, Status

from offload.contracts.models import Process
from offload.core import errors
from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import NOT_FOUND_REF, Page, resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.tenancy.models import Site, User
from offload.tenancy.visibility import Principal
from offload.workers import selectors, services
from offload.workers.models import Worker
from offload.workers.schemas import (
    PresenceChangeOut,
    PresenceIn,
    WorkerChannelIn,
    WorkerFilter,
    WorkerIn,
    WorkerOut,
    WorkerPatch,
)

router = Router(tags=["workers"])

NOT_A_WORKER = "you are not a worker: sign in as an agent, or use a key acting as a bot"
DUPLICATE_CHANNEL = "channel '{channel}' appears twice"


def _site(principal: Principal, pk: int | None) -> Site | None:
    if pk is None:
        return None
    return resolve(visibility.visible(principal, Site.objects.all()), field="site_id", pk=pk)


def _processes(principal: Principal, ids: Sequence[int]) -> list[Process]:
    """The processes named by `ids`, all visible to the caller, or a 422 naming the rest."""
    found = {p.pk: p for p in visibility.visible(principal, Process.objects.filter(pk__in=ids))}
    missing = [pk for pk in dict.fromkeys(ids) if pk not in found]
    if missing:
        what = NOT_FOUND_REF.format(what="process")
        raise errors.ValidationFailed.single(
            "process_ids", f"{what}: {', '.join(map(str, missing))}"
        )
    return [found[pk] for pk in dict.fromkeys(ids)]


def _channels(rows: Sequence[WorkerChannelIn]) -> dict[str, int]:
    seen: dict[str, int] = {}
    problems: list[tuple[str, str | None]] = []
    for i, row in enumerate(rows):
        channel = str(row.channel)
        if channel in seen:
            problems.append((f"channels[{i}].channel", DUPLICATE_CHANNEL.format(channel=channel)))
        seen[channel] = row.capacity
    errors.raise_failures(problems)
    return seen


@router.get("/workers", response=Page[WorkerOut])
def worker_list(
    request: HttpRequest,
    filters: Query[WorkerFilter],
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.worker_list(principal=principal_of(request), **filters.model_dump())
    return page(qs, cursor=cursor, limit=limit)


# Before /workers/{worker_id}, so "me" is never read as an id.
@router.get("/workers/me", response=WorkerOut)
def worker_me(request: HttpRequest) -> Worker:
    """The calling worker: the signed-in agent, or the bot whose key calls."""
    worker = selectors.worker_for_principal(principal_of(request))
    if worker is None:
        raise errors.NotFound(NOT_A_WORKER)
    return worker


@router.get("/workers/{worker_id}", response=WorkerOut)
def worker_get(request: HttpRequest, worker_id: int) -> Worker:
    return selectors.worker_get(principal=principal_of(request), worker_id=worker_id)


@router.post("/workers", response={201: WorkerOut})
def worker_create(request: HttpRequest, payload: WorkerIn) -> Status[Worker]:
    principal = principal_of(request)
    users = visibility.visible(principal, User.objects.all())
    user = resolve(users, field="user_id", pk=payload.user_id)
    worker = services.worker_create(
        actor=principal,
        provider=principal.organisation,
        user=user,
        kind=payload.kind,
        site=_site(principal, payload.site_id),
        skills=payload.skills,
        languages=payload.languages,
        processes=_processes(principal, payload.process_ids),
        channels=_channels(payload.channels),
        bot_mode=payload.bot_mode or "",
        concurrency=payload.concurrency,
    )
    return Status(201, selectors.worker_get(principal=principal, worker_id=worker.pk))


@router.patch("/workers/{worker_id}", response=WorkerOut)
def worker_update(request: HttpRequest, worker_id: int, payload: WorkerPatch) -> Worker:
    principal = principal_of(request)
    worker = visibility.get_visible(principal, Worker.objects.all(), pk=worker_id)
    data = payload.model_dump(exclude_unset=True, exclude={"site_id", "process_ids", "channels"})
    if "site_id" in payload.model_fields_set:
        data["site"] = _site(principal, payload.site_id)
    services.worker_update(
        actor=principal,
        worker=worker,
        data=data,
        processes=(
            _processes(principal, payload.process_ids) if payload.process_ids is not None else None
        ),
        channels=_channels(payload.channels) if payload.channels is not None else None,
    )
    return selectors.worker_get(principal=principal, worker_id=worker.pk)


@router.post("/workers/{worker_id}/presence", response=WorkerOut)
def worker_set_presence(request: HttpRequest, worker_id: int, payload: PresenceIn) -> Worker:
    """Your own presence (any provider role), or anyone's with worker.manage."""
    principal = principal_of(request)
    worker = visibility.get_visible(principal, Worker.objects.all(), pk=worker_id)
    services.worker_set_presence(actor=principal, worker=worker, presence=payload.presence)
    return selectors.worker_get(principal=principal, worker_id=worker.pk)


@router.get("/workers/{worker_id}/presence-changes", response=Page[PresenceChangeOut])
def worker_presence_changes(
    request: HttpRequest, worker_id: int, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    """The worker's presence log, oldest first."""
    principal = principal_of(request)
    worker = visibility.get_visible(principal, Worker.objects.all(), pk=worker_id)
    qs = selectors.presence_change_list(principal=principal, worker=worker)
    return page(qs, cursor=cursor, limit=limit)
