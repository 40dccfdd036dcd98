"""Schemas of the twin's API: scenarios, changes, runs, sweeps and comparisons."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from offload.core.schemas import StrictIn
from offload.twin import changes, services
from offload.twin.models import RunStatus, ScenarioSource
from offload.work import routing

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Label = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=64)]
BAD_REPLAY_FROM = "must be a date (YYYY-MM-DD) or an ISO 8601 instant"


class ChangeKind(StrEnum):
    ADD_AGENTS = changes.ADD_AGENTS
    REMOVE_AGENTS = changes.REMOVE_AGENTS
    MOVE_WORK = changes.MOVE_WORK
    BOT_SHARE = changes.BOT_SHARE
    ROUTING_RULE = changes.ROUTING_RULE
    VOLUME = changes.VOLUME
    AHT = changes.AHT


class OrderingKey(StrEnum):
    PRIORITY = "priority"
    DUE_AT = "due_at"
    CREATED_AT = "created_at"


assert {k.value for k in ChangeKind} == set(changes.KINDS)
assert tuple(k.value for k in OrderingKey) == routing.ORDERING_KEYS


class RelaxStepIn(StrictIn):
    after_s: int = Field(ge=0, le=365 * 86_400, description="Seconds waited in the queue")
    skill_drop: int = Field(default=0, ge=0, le=changes.SKILL_LEVEL_MAX)
    languages: list[Code] = Field(default_factory=list, max_length=20)


class ChangeIn(StrictIn):
    """One change; which fields apply depends on `kind` (docs/twin.md, Scenarios)."""

    kind: ChangeKind
    count: int | None = Field(default=None, ge=1, le=changes.COUNT_MAX)
    site: Label | None = Field(default=None, description="A site as the scenario names it")
    like: Id | None = Field(default=None, description="add_agents: an agent to copy")
    skills: dict[Code, int] | None = Field(default=None, max_length=50)
    languages: list[Code] | None = Field(default=None, max_length=20)
    processes: list[Id] | None = Field(default=None, max_length=200)
    capacity: dict[Code, int] | None = Field(default=None, max_length=10)
    hourly_cost: float | None = Field(default=None, ge=0, le=1e6)
    process: Id | None = None
    language: Code | None = None
    share: float | None = Field(default=None, ge=0, le=1)
    service_s: float | None = Field(default=None, gt=0, le=1e7)
    concurrency: int | None = Field(default=None, ge=1, le=changes.COUNT_MAX)
    failure_rate: float | None = Field(default=None, ge=0, le=1)
    queue: Id | None = None
    ordering: list[OrderingKey] | None = Field(default=None, max_length=3)
    relaxation: list[RelaxStepIn] | None = Field(default=None, max_length=20)
    percent: float | None = Field(default=None, ge=-100, le=changes.PERCENT_MAX)

    def as_change(self) -> dict[str, Any]:
        out: dict[str, Any] = self.model_dump(exclude_none=True, mode="json")
        return out


class ReplayFromIn(StrictIn):
    replay_from: date | datetime | None = Field(
        default=None,
        description="Replay the items created in the `days` days from this date (midnight "
        "in the provider's zone) or instant, shifted onto the period, instead of Poisson "
        "arrivals; the window must be over",
    )

    @field_validator("replay_from", mode="before")
    @classmethod
    def _replay_from(cls, value: Any) -> Any:
        """A date or an instant, named as `replay_from` when it is neither."""
        if value is None or isinstance(value, date):
            return value
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            text = value.strip()
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise PydanticCustomError("replay_from", BAD_REPLAY_FROM) from None


class ScenarioIn(ReplayFromIn):
    name: Label
    description: str = Field(default="", max_length=services.DESCRIPTION_MAX)
    start: datetime | None = Field(
        default=None, description="Start of the simulated period; default: the next half hour"
    )
    days: int = Field(default=7, ge=1, le=services.DAYS_MAX)
    changes: list[ChangeIn] = Field(default_factory=list, max_length=services.CHANGES_MAX)
    seed: int = Field(default=1, ge=0, le=services.SEED_MAX)
    replications: int = Field(default=5, ge=1, le=services.REPLICATIONS_MAX)
    scenario: dict[str, Any] | None = Field(
        default=None,
        description="An engine scenario (as `offload twin export` writes) to start from "
        "instead of the live configuration",
    )


class LiveIn(ReplayFromIn):
    start: datetime | None = None
    days: int = Field(default=7, ge=1, le=services.DAYS_MAX)


class RunIn(StrictIn):
    seed: int | None = Field(default=None, ge=0, le=services.SEED_MAX)
    replications: int | None = Field(default=None, ge=1, le=services.REPLICATIONS_MAX)


class SweepRunIn(StrictIn):
    scenario_id: Id
    seed: int | None = Field(
        default=None, ge=0, le=services.SEED_MAX, description="Default: the scenario's"
    )


class SweepIn(StrictIn):
    runs: list[SweepRunIn] = Field(
        min_length=1,
        max_length=services.SWEEP_MAX,
        description="One run each (a scenario may appear with several seeds)",
    )
    replications: int | None = Field(default=None, ge=1, le=services.REPLICATIONS_MAX)


class ScenarioOut(Schema):
    id: int
    name: str
    description: str
    source: ScenarioSource
    start: datetime
    days: int
    changes: list[dict[str, Any]]
    notes: list[str]
    seed: int
    replications: int
    created_at: datetime


class ScenarioDetailOut(ScenarioOut):
    built: dict[str, Any] = Field(description="The engine scenario every run simulates")


class RunOut(Schema):
    id: int
    scenario_id: int
    scenario_name: str
    status: RunStatus
    progress: float
    seed: int
    replications: int
    attempt: int
    error: str
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_scenario_name(obj: Any) -> str:
        return str(obj.scenario.name)


class RunDetailOut(RunOut):
    result: dict[str, Any] | None = Field(description="The engine's Result, when succeeded")


class SweepOut(Schema):
    runs: list[RunOut]


class CellOut(Schema):
    mean: float | None
    half_width: float | None
    delta: float | None = Field(description="Mean less the first run's")


class RowOut(Schema):
    key: str
    label: str
    unit: str
    cells: list[CellOut | None]


class SeriesOut(Schema):
    run_id: int
    label: str
    starts: list[str]
    service_level: dict[str, list[float | None]]
    backlog: list[float]
    occupancy: dict[str, list[float | None]]
    asa_s: list[float | None]
    abandon_rate: list[float | None]


class ComparisonOut(Schema):
    runs: list[RunOut]
    rows: list[RowOut]
    series: list[SeriesOut]
    confidence: float | None
    notes: list[str]
