from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field

from offload.contracts.models import Channel
from offload.contracts.schemas import SkillName
from offload.core.schemas import PatchIn, StrictIn
from offload.tenancy.schemas import Language
from offload.workers.models import BotMode, Presence, WorkerKind
from offload.workers.services import CAPACITY_MAX, CONCURRENCY_MAX

# An id that fits a bigint column, so a larger number is a 422 naming the field.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
LANGUAGES_MAX = 20
PROCESSES_MAX = 500


class WorkerChannelOut(Schema):
    channel: Channel
    capacity: int
    load: int


class WorkerProcessOut(Schema):
    id: int
    slug: str
    name: str
    client_id: int
    channel: Channel


class WorkerOut(Schema):
    id: int
    provider_id: int
    user_id: int
    username: str
    name: str
    kind: WorkerKind
    site_id: int | None
    skills: dict[str, int]
    languages: list[str]
    processes: list[WorkerProcessOut] = Field(description="Certified on (a bot: eligible for)")
    channels: list[WorkerChannelOut] = Field(description="Capacity and current load per channel")
    presence: Presence
    presence_changed_at: datetime | None = Field(description="Since when the presence holds")
    idle_since: datetime | None
    bot_mode: BotMode | None
    concurrency: int | None
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_username(obj: Any) -> str:
        return str(obj.user.username)

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return str(obj.user.get_full_name())

    @staticmethod
    def resolve_processes(obj: Any) -> list[Any]:
        return list(obj.processes.all())

    @staticmethod
    def resolve_channels(obj: Any) -> list[Any]:
        return list(obj.channels.all())

    @staticmethod
    def resolve_bot_mode(obj: Any) -> str | None:
        return obj.bot_mode or None


class WorkerChannelIn(StrictIn):
    channel: Channel
    capacity: int = Field(ge=0, le=CAPACITY_MAX, description="Items held at once")


Skills = dict[SkillName, int]


class WorkerIn(StrictIn):
    user_id: Id = Field(description="A member of your organisation; a bot needs a bot user")
    kind: WorkerKind
    site_id: Id | None = Field(default=None, description="Required for an agent")
    skills: Skills = Field(default_factory=dict, description="Agents: {skill: level 1-5}")
    languages: list[Language] = Field(default_factory=list, max_length=LANGUAGES_MAX)
    process_ids: list[Id] = Field(
        default_factory=list, max_length=PROCESSES_MAX, description="Certified on"
    )
    channels: list[WorkerChannelIn] = Field(
        default_factory=list, max_length=len(Channel), description="Agents: capacity per channel"
    )
    bot_mode: BotMode | None = None
    concurrency: int | None = Field(default=None, ge=1, le=CONCURRENCY_MAX)


class WorkerPatch(PatchIn):
    # Null clears a bot's site; an agent needs one (a 422 names site_id).
    NULLABLE = frozenset({"site_id"})

    site_id: Id | None = None
    skills: Skills | None = None
    languages: list[Language] | None = Field(default=None, max_length=LANGUAGES_MAX)
    process_ids: list[Id] | None = Field(default=None, max_length=PROCESSES_MAX)
    channels: list[WorkerChannelIn] | None = Field(default=None, max_length=len(Channel))
    bot_mode: BotMode | None = None
    concurrency: int | None = Field(default=None, ge=1, le=CONCURRENCY_MAX)
    is_active: bool | None = None


class WorkerFilter(Schema):
    kind: WorkerKind | None = None
    site_id: Id | None = None
    presence: Presence | None = None
    process_id: Id | None = Field(default=None, description="Certified on this process")
    skill: SkillName | None = None
    skill_level: int | None = Field(default=None, ge=1, le=5, description="With `skill`: at least")
    is_active: bool | None = None


class PresenceIn(StrictIn):
    presence: Presence


class PresenceChangeOut(Schema):
    id: int
    worker_id: int
    previous: Presence
    presence: Presence
    at: datetime
    actor_label: str
