"""The digital twin's scenario and result, as frozen dataclasses (pure, no Django).

A `Scenario` is everything one simulation needs; `to_dict()` gives plain JSON
(string keys, lists, numbers, None) and `from_dict()` reads it back, so a scenario
is a JSON file and a stored scenario is a JSON column. All times are seconds; the
simulated clock runs from 0 at `Scenario.start` (an ISO 8601 instant with a zone,
or UTC epoch seconds), which calendars need to place business hours.

Shape:

- `Scenario`: name, seed, replications, start, horizon_s (arrivals stop then; the
  run goes on until the system drains or `drain_s` more seconds pass) or
  max_arrivals (arrivals stop after that many; the horizon is then the last
  arrival), interval_s (1800: the reporting and arrival-rate interval), warmup_s
  (items arriving earlier are simulated but not counted), confidence (0.99 for
  the validation tests), processes, queues, agents, bots, optional replay.
- `ProcessModel`: arrivals = expected counts per interval (one per interval,
  repeated cyclically: a constant rate is one value), AHT (exponential when aht_cv
  is None, fixed when 0, lognormal otherwise), patience (exponential mean, None =
  nobody abandons), priority and language mixes (shares), SLA targets per metric
  and priority in business seconds of the process's calendar (a spec as
  `offload.sla.BusinessCalendar.from_spec` takes; None = 24/7), bot share, and the
  queue per item language ("" is the default queue for any other language).
- `QueueModel`: a serialisable twin of `offload.work.routing.QueuePolicy`
  (`policy()` converts), so the twin routes with production's module.
- `AgentModel`: site, hourly cost, skills, languages, certified processes,
  capacity per channel (each unit a slot working one item at a time), shifts in
  seconds from the start with breaks inside them (None = always on).
- `BotModel`: processes served, concurrency, mean service time (exponential),
  failure rate (a failed item goes to the process's human queue).
- `Result`: per replication the raw `Stats` (overall and per interval), and their
  means with t-distribution confidence half widths at `confidence`.

`problems(scenario)` lists what keeps a scenario from running, in words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

from offload.work import routing

FIRST_RESPONSE = "first_response"
TURNAROUND = "turnaround"
METRICS = (FIRST_RESPONSE, TURNAROUND)
DEFAULT_INTERVAL_S = 1800.0
DEFAULT_DRAIN_S = 7 * 86_400.0

NO_HORIZON = "a scenario needs horizon_s or max_arrivals (or a replay)"
BAD_START = "start must be an ISO 8601 instant with a zone or UTC epoch seconds"


# ---------------------------------------------------------------------- helpers


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts, tuples and frozensets to lists, mapping keys to str."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _int_keys(raw: Mapping[Any, Any] | None, cast: Any = float) -> dict[int, Any]:
    return {int(k): cast(v) for k, v in (raw or {}).items()}


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def start_epoch(start: str | float | int) -> float:
    """UTC epoch seconds of a scenario's start."""
    if isinstance(start, int | float) and not isinstance(start, bool):
        return float(start)
    if isinstance(start, str):
        try:
            at = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(BAD_START) from exc
        if at.tzinfo is None:
            raise ValueError(BAD_START)
        return at.astimezone(UTC).timestamp()
    raise ValueError(BAD_START)


# ---------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class SlaTarget:
    metric: str  # first_response | turnaround
    target_s: float  # business seconds of the process's calendar
    priority: int | None = None  # None: every priority without a target of its own

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SlaTarget:
        priority = raw.get("priority")
        return cls(
            metric=str(raw["metric"]),
            target_s=float(raw["target_s"]),
            priority=None if priority is None else int(priority),
        )


@dataclass(frozen=True)
class ProcessModel:
    id: int
    name: str
    aht_s: float
    arrivals: tuple[float, ...] = ()  # expected arrivals per interval, repeated
    channel: str = "chat"
    aht_cv: float | None = None  # None: exponential; 0: fixed; > 0: lognormal
    patience_s: float | None = None  # mean of an exponential patience; None: never leaves
    priority_mix: Mapping[int, float] = field(default_factory=lambda: {3: 1.0})
    language_mix: Mapping[str, float] = field(default_factory=lambda: {"": 1.0})
    sla: tuple[SlaTarget, ...] = ()
    calendar: Mapping[str, Any] | None = None  # offload.sla spec; None: 24/7
    bot_share: float = 0.0  # share of items bots try first
    queues: Mapping[str, int] = field(default_factory=dict)  # language -> queue id; "" default

    def queue_for(self, language: str) -> int:
        return self.queues.get(language, self.queues.get("", 0))

    def target(self, metric: str, priority: int) -> float | None:
        fallback = None
        for t in self.sla:
            if t.metric != metric:
                continue
            if t.priority == priority:
                return t.target_s
            if t.priority is None:
                fallback = t.target_s
        return fallback

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ProcessModel:
        return cls(
            id=int(raw["id"]),
            name=str(raw.get("name", "")),
            aht_s=float(raw["aht_s"]),
            arrivals=tuple(float(v) for v in raw.get("arrivals", ())),
            channel=str(raw.get("channel", "chat")),
            aht_cv=_opt_float(raw.get("aht_cv")),
            patience_s=_opt_float(raw.get("patience_s")),
            priority_mix=_int_keys(raw.get("priority_mix") or {"3": 1.0}),
            language_mix={
                str(k): float(v) for k, v in (raw.get("language_mix") or {"": 1.0}).items()
            },
            sla=tuple(SlaTarget.from_dict(t) for t in raw.get("sla", ())),
            calendar=raw.get("calendar"),
            bot_share=float(raw.get("bot_share", 0.0)),
            queues={str(k): int(v) for k, v in (raw.get("queues") or {}).items()},
        )


@dataclass(frozen=True)
class RelaxStepModel:
    after_s: int
    skill_drop: int = 0
    languages: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RelaxStepModel:
        return cls(
            after_s=int(raw["after_s"]),
            skill_drop=int(raw.get("skill_drop", 0)),
            languages=tuple(str(v) for v in raw.get("languages", ())),
        )


@dataclass(frozen=True)
class QueueModel:
    id: int
    process_id: int
    channel: str = "chat"
    required_skills: Mapping[str, int] = field(default_factory=dict)
    ordering: tuple[str, ...] = routing.DEFAULT_ORDERING
    relaxation: tuple[RelaxStepModel, ...] = ()

    def policy(self) -> routing.QueuePolicy:
        return routing.QueuePolicy(
            queue_id=self.id,
            process_id=self.process_id,
            channel=self.channel,
            required_skills=dict(self.required_skills),
            ordering=tuple(self.ordering),
            relaxation=tuple(
                routing.RelaxStep(s.after_s, s.skill_drop, frozenset(s.languages))
                for s in self.relaxation
            ),
        )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> QueueModel:
        return cls(
            id=int(raw["id"]),
            process_id=int(raw["process_id"]),
            channel=str(raw.get("channel", "chat")),
            required_skills={str(k): int(v) for k, v in (raw.get("required_skills") or {}).items()},
            ordering=tuple(str(v) for v in raw.get("ordering", routing.DEFAULT_ORDERING)),
            relaxation=tuple(RelaxStepModel.from_dict(s) for s in raw.get("relaxation", ())),
        )


@dataclass(frozen=True)
class Break:
    start_s: float  # seconds from the scenario's start
    end_s: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Break:
        return cls(start_s=float(raw["start_s"]), end_s=float(raw["end_s"]))


@dataclass(frozen=True)
class Shift:
    start_s: float  # seconds from the scenario's start
    end_s: float
    breaks: tuple[Break, ...] = ()

    def windows(self) -> list[tuple[float, float]]:
        """The shift less its breaks: when the agent may start work."""
        out: list[tuple[float, float]] = []
        at = self.start_s
        for b in sorted(self.breaks, key=lambda b: b.start_s):
            if b.start_s > at:
                out.append((at, min(b.start_s, self.end_s)))
            at = max(at, b.end_s)
        if at < self.end_s:
            out.append((at, self.end_s))
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Shift:
        return cls(
            start_s=float(raw["start_s"]),
            end_s=float(raw["end_s"]),
            breaks=tuple(Break.from_dict(b) for b in raw.get("breaks", ())),
        )


@dataclass(frozen=True)
class AgentModel:
    id: int
    site: str = ""
    hourly_cost: float = 0.0
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    certified: frozenset[int] = frozenset()  # process ids
    capacity: Mapping[str, int] = field(default_factory=lambda: {"chat": 1})
    shifts: tuple[Shift, ...] | None = None  # None: always on

    def worker_view(self) -> routing.WorkerView:
        return routing.WorkerView(
            id=self.id,
            skills=dict(self.skills),
            languages=frozenset(self.languages),
            certified=frozenset(self.certified),
            free=dict(self.capacity),
        )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AgentModel:
        shifts = raw.get("shifts")
        return cls(
            id=int(raw["id"]),
            site=str(raw.get("site", "")),
            hourly_cost=float(raw.get("hourly_cost", 0.0)),
            skills={str(k): int(v) for k, v in (raw.get("skills") or {}).items()},
            languages=frozenset(str(v) for v in raw.get("languages", ())),
            certified=frozenset(int(v) for v in raw.get("certified", ())),
            capacity={str(k): int(v) for k, v in (raw.get("capacity") or {"chat": 1}).items()},
            shifts=None if shifts is None else tuple(Shift.from_dict(s) for s in shifts),
        )


@dataclass(frozen=True)
class BotModel:
    id: int
    processes: frozenset[int]
    service_s: float  # mean, exponential
    concurrency: int = 1
    failure_rate: float = 0.0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BotModel:
        return cls(
            id=int(raw["id"]),
            processes=frozenset(int(v) for v in raw.get("processes", ())),
            service_s=float(raw["service_s"]),
            concurrency=int(raw.get("concurrency", 1)),
            failure_rate=float(raw.get("failure_rate", 0.0)),
        )


@dataclass(frozen=True)
class ReplayArrival:
    at_s: float  # seconds from the scenario's start
    process_id: int
    priority: int | None = None  # None: drawn from the process's mix
    language: str | None = None  # None: drawn from the process's mix
    aht_s: float | None = None  # None: drawn from the process's AHT

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ReplayArrival:
        priority = raw.get("priority")
        language = raw.get("language")
        return cls(
            at_s=float(raw["at_s"]),
            process_id=int(raw["process_id"]),
            priority=None if priority is None else int(priority),
            language=None if language is None else str(language),
            aht_s=_opt_float(raw.get("aht_s")),
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    processes: tuple[ProcessModel, ...]
    queues: tuple[QueueModel, ...]
    agents: tuple[AgentModel, ...]
    bots: tuple[BotModel, ...] = ()
    seed: int = 1
    replications: int = 10
    start: str | float = "2026-01-05T00:00:00+00:00"  # a Monday
    horizon_s: float | None = None
    max_arrivals: int | None = None
    interval_s: float = DEFAULT_INTERVAL_S
    warmup_s: float = 0.0
    drain_s: float = DEFAULT_DRAIN_S
    confidence: float = 0.95
    replay: tuple[ReplayArrival, ...] | None = None

    def start_epoch(self) -> float:
        return start_epoch(self.start)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = to_jsonable(self)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Scenario:
        replay = raw.get("replay")
        start = raw.get("start", "2026-01-05T00:00:00+00:00")
        return cls(
            name=str(raw.get("name", "")),
            processes=tuple(ProcessModel.from_dict(p) for p in raw.get("processes", ())),
            queues=tuple(QueueModel.from_dict(q) for q in raw.get("queues", ())),
            agents=tuple(AgentModel.from_dict(a) for a in raw.get("agents", ())),
            bots=tuple(BotModel.from_dict(b) for b in raw.get("bots", ())),
            seed=int(raw.get("seed", 1)),
            replications=int(raw.get("replications", 10)),
            start=start if isinstance(start, str) else float(start),
            horizon_s=_opt_float(raw.get("horizon_s")),
            max_arrivals=None if raw.get("max_arrivals") is None else int(raw["max_arrivals"]),
            interval_s=float(raw.get("interval_s", DEFAULT_INTERVAL_S)),
            warmup_s=float(raw.get("warmup_s", 0.0)),
            drain_s=float(raw.get("drain_s", DEFAULT_DRAIN_S)),
            confidence=float(raw.get("confidence", 0.95)),
            replay=None if replay is None else tuple(ReplayArrival.from_dict(r) for r in replay),
        )


# ---------------------------------------------------------------------- result


@dataclass(frozen=True)
class IntervalStats:
    """One reporting interval of one replication (or the mean over replications).

    Arrivals, answers, abandonment, service level and ASA belong to the interval
    the item arrived in; occupancy to the interval the work was done in; backlog is
    the number of items waiting for a human or a bot at the interval's end."""

    start_s: float
    arrivals: float
    answered: float
    abandoned: float
    abandon_rate: float | None
    asa_s: float | None
    service_level: Mapping[str, float | None]
    occupancy: Mapping[str, float | None]  # per site
    backlog: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> IntervalStats:
        return cls(
            start_s=float(raw["start_s"]),
            arrivals=float(raw["arrivals"]),
            answered=float(raw["answered"]),
            abandoned=float(raw["abandoned"]),
            abandon_rate=_opt_float(raw.get("abandon_rate")),
            asa_s=_opt_float(raw.get("asa_s")),
            service_level={str(k): _opt_float(v) for k, v in raw["service_level"].items()},
            occupancy={str(k): _opt_float(v) for k, v in raw["occupancy"].items()},
            backlog=float(raw["backlog"]),
        )


@dataclass(frozen=True)
class Stats:
    """One replication's figures over the counted items (after the warm-up).

    service_level[metric] = items meeting the metric's target / items offered with
    such a target (abandoned and unfinished items miss it), as Erlang A counts it;
    asa_s = mean wait of the answered items (first taken by a human or a bot);
    abandon_rate = abandoned / offered; occupancy[site] = busy slot-seconds /
    staffed slot-seconds; cost_per_item = agents' paid hours x hourly cost / items
    completed (None when nothing was completed)."""

    arrivals: int
    answered: int
    abandoned: int
    completed: int
    unfinished: int  # still waiting or in service when the run stopped
    abandon_rate: float | None
    asa_s: float | None
    service_level: Mapping[str, float | None]
    service_level_by_process: Mapping[int, Mapping[str, float | None]]
    occupancy: Mapping[str, float | None]
    cost_per_item: float | None
    abandon_rate_by_process: Mapping[int, float | None] = field(default_factory=dict)
    intervals: tuple[IntervalStats, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Stats:
        return cls(
            arrivals=int(raw["arrivals"]),
            answered=int(raw["answered"]),
            abandoned=int(raw["abandoned"]),
            completed=int(raw["completed"]),
            unfinished=int(raw["unfinished"]),
            abandon_rate=_opt_float(raw.get("abandon_rate")),
            asa_s=_opt_float(raw.get("asa_s")),
            service_level={str(k): _opt_float(v) for k, v in raw["service_level"].items()},
            service_level_by_process={
                int(p): {str(k): _opt_float(v) for k, v in m.items()}
                for p, m in raw["service_level_by_process"].items()
            },
            occupancy={str(k): _opt_float(v) for k, v in raw["occupancy"].items()},
            cost_per_item=_opt_float(raw.get("cost_per_item")),
            abandon_rate_by_process={
                int(p): _opt_float(v) for p, v in raw.get("abandon_rate_by_process", {}).items()
            },
            intervals=tuple(IntervalStats.from_dict(i) for i in raw.get("intervals", ())),
        )


@dataclass(frozen=True)
class Estimate:
    """The mean over replications and its confidence half width (None with fewer
    than two replications or when a replication had no value)."""

    mean: float | None
    half_width: float | None
    values: tuple[float | None, ...]

    @property
    def low(self) -> float | None:
        if self.mean is None or self.half_width is None:
            return None
        return self.mean - self.half_width

    @property
    def high(self) -> float | None:
        if self.mean is None or self.half_width is None:
            return None
        return self.mean + self.half_width

    def covers(self, value: float) -> bool:
        low, high = self.low, self.high
        return low is not None and high is not None and low <= value <= high

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Estimate:
        return cls(
            mean=_opt_float(raw.get("mean")),
            half_width=_opt_float(raw.get("half_width")),
            values=tuple(_opt_float(v) for v in raw.get("values", ())),
        )


@dataclass(frozen=True)
class Summary:
    """Every overall figure of `Stats` as an `Estimate` across replications."""

    arrivals: Estimate
    answered: Estimate
    abandoned: Estimate
    abandon_rate: Estimate
    asa_s: Estimate
    service_level: Mapping[str, Estimate]
    service_level_by_process: Mapping[int, Mapping[str, Estimate]]
    occupancy: Mapping[str, Estimate]
    cost_per_item: Estimate
    abandon_rate_by_process: Mapping[int, Estimate] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Summary:
        def est(v: Any) -> Estimate:
            return Estimate.from_dict(v)

        return cls(
            arrivals=est(raw["arrivals"]),
            answered=est(raw["answered"]),
            abandoned=est(raw["abandoned"]),
            abandon_rate=est(raw["abandon_rate"]),
            asa_s=est(raw["asa_s"]),
            service_level={str(k): est(v) for k, v in raw["service_level"].items()},
            service_level_by_process={
                int(p): {str(k): est(v) for k, v in m.items()}
                for p, m in raw["service_level_by_process"].items()
            },
            occupancy={str(k): est(v) for k, v in raw["occupancy"].items()},
            cost_per_item=est(raw["cost_per_item"]),
            abandon_rate_by_process={
                int(p): est(v) for p, v in raw.get("abandon_rate_by_process", {}).items()
            },
        )


@dataclass(frozen=True)
class Result:
    scenario: str
    engine: str  # "fast" (the single-queue kernel) or "general"
    confidence: float
    overall: Summary
    intervals: tuple[IntervalStats, ...]  # means over replications
    replications: tuple[Stats, ...]
    customers: int  # arrivals simulated over all replications (warm-up included)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = to_jsonable(self)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Result:
        return cls(
            scenario=str(raw["scenario"]),
            engine=str(raw["engine"]),
            confidence=float(raw["confidence"]),
            overall=Summary.from_dict(raw["overall"]),
            intervals=tuple(IntervalStats.from_dict(i) for i in raw["intervals"]),
            replications=tuple(Stats.from_dict(s) for s in raw["replications"]),
            customers=int(raw["customers"]),
        )


# ---------------------------------------------------------------------- checks


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _process_problems(p: ProcessModel, queues: Mapping[int, QueueModel]) -> list[str]:
    where = f"processes[{p.id}]"
    out: list[str] = []
    if not (_finite(p.aht_s) and p.aht_s > 0):
        out.append(f"{where}.aht_s must be above 0")
    if p.aht_cv is not None and not (_finite(p.aht_cv) and p.aht_cv >= 0):
        out.append(f"{where}.aht_cv must be 0 or more")
    if p.patience_s is not None and not (_finite(p.patience_s) and p.patience_s > 0):
        out.append(f"{where}.patience_s must be above 0")
    if any(not (_finite(v) and v >= 0) for v in p.arrivals):
        out.append(f"{where}.arrivals must be 0 or more")
    for name, mix in (("priority_mix", p.priority_mix), ("language_mix", p.language_mix)):
        values = list(mix.values())
        if not values or any(not (_finite(v) and v >= 0) for v in values) or sum(values) <= 0:
            out.append(f"{where}.{name} needs shares of 0 or more adding up to more than 0")
    if any(not 1 <= k <= 4 for k in p.priority_mix):
        out.append(f"{where}.priority_mix: priorities are 1 to 4")
    if not (_finite(p.bot_share) and 0 <= p.bot_share <= 1):
        out.append(f"{where}.bot_share must be between 0 and 1")
    for t in p.sla:
        if t.metric not in METRICS:
            out.append(f"{where}.sla: unknown metric {t.metric!r}")
        if not (_finite(t.target_s) and t.target_s >= 0):
            out.append(f"{where}.sla: targets must be 0 or more")
    for language in sorted(p.language_mix):
        qid = p.queue_for(language)
        if qid not in queues:
            out.append(f"{where}.queues: no queue {qid} for language {language!r}")
        elif queues[qid].process_id != p.id:
            out.append(f"{where}.queues: queue {qid} belongs to process {queues[qid].process_id}")
    return out


def problems(scenario: Scenario) -> list[str]:
    """Everything that keeps the scenario from running, in words (empty: it runs).
    `engine.run` raises ValueError with these; a caller can show them first."""
    s = scenario
    out: list[str] = []
    if s.replications < 1 or s.replications > 1000:
        out.append("replications must be between 1 and 1000")
    if not (_finite(s.interval_s) and s.interval_s > 0):
        out.append("interval_s must be above 0")
    if not (_finite(s.confidence) and 0 < s.confidence < 1):
        out.append("confidence must be between 0 and 1")
    if not (_finite(s.warmup_s) and s.warmup_s >= 0):
        out.append("warmup_s must be 0 or more")
    if not (_finite(s.drain_s) and s.drain_s >= 0):
        out.append("drain_s must be 0 or more")
    if s.horizon_s is None and s.max_arrivals is None and s.replay is None:
        out.append(NO_HORIZON)
    if s.horizon_s is not None and not (_finite(s.horizon_s) and s.horizon_s > 0):
        out.append("horizon_s must be above 0")
    if s.max_arrivals is not None and s.max_arrivals < 1:
        out.append("max_arrivals must be at least 1")
    only_count = s.max_arrivals is not None and s.horizon_s is None and s.replay is None
    if only_count and not any(sum(p.arrivals) > 0 for p in s.processes):
        out.append("max_arrivals needs a process with arrivals")
    try:
        start_epoch(s.start)
    except ValueError:
        out.append(BAD_START)
    if not s.processes:
        out.append("a scenario needs at least one process")
    for name, ids in (
        ("processes", [p.id for p in s.processes]),
        ("queues", [q.id for q in s.queues]),
        ("agents", [a.id for a in s.agents]),
        ("bots", [b.id for b in s.bots]),
    ):
        if len(set(ids)) != len(ids):
            out.append(f"{name}: ids must be unique")
    queues = {q.id: q for q in s.queues}
    for p in s.processes:
        out.extend(_process_problems(p, queues))
    for a in s.agents:
        if any(c < 0 for c in a.capacity.values()):
            out.append(f"agents[{a.id}].capacity must be 0 or more")
        if not (_finite(a.hourly_cost) and a.hourly_cost >= 0):
            out.append(f"agents[{a.id}].hourly_cost must be 0 or more")
        for shift in a.shifts or ():
            if not (
                _finite(shift.start_s) and _finite(shift.end_s) and shift.end_s > shift.start_s
            ):
                out.append(f"agents[{a.id}].shifts: a shift must end after it starts")
            if any(b.end_s <= b.start_s for b in shift.breaks):
                out.append(f"agents[{a.id}].shifts: a break must end after it starts")
    for b in s.bots:
        if b.concurrency < 1:
            out.append(f"bots[{b.id}].concurrency must be at least 1")
        if not (_finite(b.service_s) and b.service_s > 0):
            out.append(f"bots[{b.id}].service_s must be above 0")
        if not (_finite(b.failure_rate) and 0 <= b.failure_rate <= 1):
            out.append(f"bots[{b.id}].failure_rate must be between 0 and 1")
    known = {p.id: p for p in s.processes}
    for r in s.replay or ():
        if r.process_id not in known:
            out.append(f"replay: no process {r.process_id}")
            break
        if not (_finite(r.at_s) and r.at_s >= 0):
            out.append("replay: at_s must be 0 or more")
            break
        if r.language is not None and known[r.process_id].queue_for(r.language) not in queues:
            out.append(f"replay: process {r.process_id} has no queue for {r.language!r}")
            break
    return out
