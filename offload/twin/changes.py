"""Changes to a digital-twin scenario, as data (pure, no Django).

A change is a small JSON object with a `kind` and the fields of that kind; `parse`
reads one (a `ChangeError` naming the field when it is wrong), `apply` returns a new
engine `Scenario` with the change made, and `apply_all` makes a list of them in
order, naming a bad field as `changes[i].field`. The kinds (docs/twin.md, Scenarios):

- `add_agents` {count, site, like?, skills?, languages?, processes?, capacity?,
  hourly_cost?}: `count` new agents at `site`, copied from agent `like` and/or with
  the given skills, languages, certified processes and capacity per channel; their
  hourly cost is the site's (its agents'), else `like`'s, else `hourly_cost`; their
  shifts are the site's agents' shifts taken in turn (always on if it has none).
- `remove_agents` {site, count}: the site's `count` most recently added agents go.
- `move_work` {process, site, language?, capacity?}: the site's agents serve the
  process (or only its items in `language`) and no other site's agents do. With a
  language, that language's items become a process of their own (same AHT, SLA,
  calendar; the language's share of the arrivals) with that language's queue, so
  the rest of the process stays where it is. The site's agents are certified on
  it, speak the language, are trained up to its queue's required skill levels and
  get `capacity` (default 1) on its channel where they have none.
- `bot_share` {process, share, service_s?, concurrency?, failure_rate?}: bots try
  `share` (0..1) of the process's items first; with no bot serving the process, one
  is added when `service_s` is given.
- `routing_rule` {queue, ordering?, relaxation?}: the queue's ordering keys and/or
  relaxation steps ({after_s, skill_drop, languages}).
- `volume` {process?, percent} and `aht` {process?, percent}: arrivals or handling
  time of the process (every process when left out) changed by `percent` (+20 is
  20 % more). On a replay, `volume` thins or copies the process's replayed arrivals
  with a generator seeded by the scenario's seed, the process and the percent (so
  the same scenario always gets the same arrivals): with factor f = 1 + percent/100,
  each arrival is kept floor(f) times and once more with probability f - floor(f)
  (-25 keeps each with probability 0.75; +50 keeps each and copies half of them);
  a copy keeps the item's process, priority, language and handle time and arrives at
  a uniform instant of the original's interval (`interval_s`, within the horizon),
  so the replayed shape per interval is kept, without simultaneous twins.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from offload.twin.engine.model import (
    AgentModel,
    BotModel,
    ProcessModel,
    QueueModel,
    RelaxStepModel,
    ReplayArrival,
    Scenario,
)
from offload.work import routing

ADD_AGENTS = "add_agents"
REMOVE_AGENTS = "remove_agents"
MOVE_WORK = "move_work"
BOT_SHARE = "bot_share"
ROUTING_RULE = "routing_rule"
VOLUME = "volume"
AHT = "aht"
KINDS = (ADD_AGENTS, REMOVE_AGENTS, MOVE_WORK, BOT_SHARE, ROUTING_RULE, VOLUME, AHT)

COUNT_MAX = 1000
CAPACITY_MAX = 100
PERCENT_MAX = 1000.0
SKILL_LEVEL_MAX = 5

BAD_KIND = "must be one of: " + ", ".join(KINDS)
NOT_AN_OBJECT = "a change must be a JSON object"
NOT_A_FIELD = "is not a field of a {kind} change"
REQUIRED = "is required"
NOT_AN_INTEGER = "must be a whole number"
NOT_A_NUMBER = "must be a number"
NOT_A_STRING = "must be a text"
NOT_A_LIST = "must be a list"
NOT_A_MAPPING = "must be an object"
OUT_OF_RANGE = "must be from {lo} to {hi}"
NO_SUCH_SITE = "no agent of the scenario works at site '{site}'"
NO_SUCH_AGENT = "no agent {id} in the scenario"
NO_SUCH_PROCESS = "no process {id} in the scenario"
NO_SUCH_QUEUE = "no queue {id} in the scenario"
TOO_FEW_AGENTS = "site '{site}' has only {n} agents"
NEEDS_PROCESSES = "give processes (or like: an agent to copy)"
NEEDS_COST = "site '{site}' has no agents to take a cost from; give hourly_cost (or like)"
NO_LANGUAGE_ITEMS = "process {id} gets no items in language '{language}'"
NO_BOT = "no bot serves process {id}; give service_s to add one"
BAD_ORDERING = "keys must be distinct, each one of: " + ", ".join(routing.ORDERING_KEYS)
NOTHING_TO_CHANGE = "give ordering or relaxation (or both)"
BAD_STEPS = "after_s must not decrease from one step to the next"


class ChangeError(ValueError):
    """A change that cannot be read or made, naming its field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------- the kinds


@dataclass(frozen=True)
class AddAgents:
    count: int
    site: str
    like: int | None = None
    skills: Mapping[str, int] | None = None
    languages: tuple[str, ...] | None = None
    processes: tuple[int, ...] | None = None
    capacity: Mapping[str, int] | None = None
    hourly_cost: float | None = None
    kind: str = ADD_AGENTS


@dataclass(frozen=True)
class RemoveAgents:
    site: str
    count: int
    kind: str = REMOVE_AGENTS


@dataclass(frozen=True)
class MoveWork:
    process: int
    site: str
    language: str | None = None
    capacity: int = 1
    kind: str = MOVE_WORK


@dataclass(frozen=True)
class BotShare:
    process: int
    share: float
    service_s: float | None = None
    concurrency: int = 1
    failure_rate: float = 0.0
    kind: str = BOT_SHARE


@dataclass(frozen=True)
class RoutingRule:
    queue: int
    ordering: tuple[str, ...] | None = None
    relaxation: tuple[RelaxStepModel, ...] | None = None
    kind: str = ROUTING_RULE


@dataclass(frozen=True)
class Scale:
    """`volume` or `aht`: one process (None: every process) changed by `percent`."""

    kind: str
    percent: float
    process: int | None = None


Change = AddAgents | RemoveAgents | MoveWork | BotShare | RoutingRule | Scale

FIELDS: dict[str, frozenset[str]] = {
    ADD_AGENTS: frozenset(
        {"count", "site", "like", "skills", "languages", "processes", "capacity", "hourly_cost"}
    ),
    REMOVE_AGENTS: frozenset({"site", "count"}),
    MOVE_WORK: frozenset({"process", "site", "language", "capacity"}),
    BOT_SHARE: frozenset({"process", "share", "service_s", "concurrency", "failure_rate"}),
    ROUTING_RULE: frozenset({"queue", "ordering", "relaxation"}),
    VOLUME: frozenset({"process", "percent"}),
    AHT: frozenset({"process", "percent"}),
}


# ---------------------------------------------------------------------- reading


def _get(raw: Mapping[str, Any], name: str, required: bool) -> Any:
    value = raw.get(name)
    if value is None and required:
        raise ChangeError(name, REQUIRED)
    return value


def _int(raw: Mapping[str, Any], name: str, lo: int, hi: int, *, required: bool = True) -> Any:
    value = _get(raw, name, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ChangeError(name, NOT_AN_INTEGER)
    if not lo <= value <= hi:
        raise ChangeError(name, OUT_OF_RANGE.format(lo=lo, hi=hi))
    return value


def _float(
    raw: Mapping[str, Any], name: str, lo: float, hi: float, *, required: bool = True
) -> Any:
    value = _get(raw, name, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ChangeError(name, NOT_A_NUMBER)
    if not lo <= value <= hi:
        raise ChangeError(name, OUT_OF_RANGE.format(lo=lo, hi=hi))
    return float(value)


def _str(raw: Mapping[str, Any], name: str, *, required: bool = True) -> Any:
    value = _get(raw, name, required)
    if value is None:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ChangeError(name, NOT_A_STRING if not isinstance(value, str) else REQUIRED)
    return value.strip()


def _str_list(raw: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ChangeError(name, NOT_A_LIST + " of texts")
    return tuple(v.strip() for v in value if v.strip())


def _id_list(raw: Mapping[str, Any], name: str) -> tuple[int, ...] | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ChangeError(name, NOT_A_LIST + " of ids")
    return tuple(dict.fromkeys(value))


def _levels(raw: Mapping[str, Any], name: str, hi: int) -> dict[str, int] | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ChangeError(name, NOT_A_MAPPING)
    out: dict[str, int] = {}
    for key, level in value.items():
        try:
            out[str(key)] = _int({"level": level}, "level", 0, hi)
        except ChangeError as exc:
            raise ChangeError(f"{name}.{key}", exc.message) from exc
    return out


def _relaxation(raw: Mapping[str, Any], name: str) -> tuple[RelaxStepModel, ...] | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ChangeError(name, NOT_A_LIST)
    steps: list[RelaxStepModel] = []
    for i, step in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(step, Mapping):
            raise ChangeError(where, NOT_A_MAPPING)
        unknown = sorted(set(step) - {"after_s", "skill_drop", "languages"})
        if unknown:
            raise ChangeError(f"{where}.{unknown[0]}", "is not a field of a relaxation step")
        try:
            steps.append(
                RelaxStepModel(
                    after_s=_int(step, "after_s", 0, 365 * 86_400),
                    skill_drop=_int(step, "skill_drop", 0, SKILL_LEVEL_MAX, required=False) or 0,
                    languages=_str_list(step, "languages") or (),
                )
            )
        except ChangeError as exc:
            raise ChangeError(f"{where}.{exc.field}", exc.message) from exc
    if any(b.after_s < a.after_s for a, b in itertools.pairwise(steps)):
        raise ChangeError(name, BAD_STEPS)
    return tuple(steps)


def parse(raw: Any) -> Change:
    """One change from its JSON form; ChangeError names the bad field."""
    if not isinstance(raw, Mapping):
        raise ChangeError("kind", NOT_AN_OBJECT)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ChangeError("kind", BAD_KIND)
    unknown = sorted(set(raw) - FIELDS[kind] - {"kind"})
    if unknown:
        raise ChangeError(unknown[0], NOT_A_FIELD.format(kind=kind))
    if kind == ADD_AGENTS:
        return AddAgents(
            count=_int(raw, "count", 1, COUNT_MAX),
            site=_str(raw, "site"),
            like=_int(raw, "like", 1, 2**63 - 1, required=False),
            skills=_levels(raw, "skills", SKILL_LEVEL_MAX),
            languages=_str_list(raw, "languages"),
            processes=_id_list(raw, "processes"),
            capacity=_levels(raw, "capacity", CAPACITY_MAX),
            hourly_cost=_float(raw, "hourly_cost", 0.0, 1e6, required=False),
        )
    if kind == REMOVE_AGENTS:
        return RemoveAgents(site=_str(raw, "site"), count=_int(raw, "count", 1, COUNT_MAX))
    if kind == MOVE_WORK:
        return MoveWork(
            process=_int(raw, "process", 1, 2**63 - 1),
            site=_str(raw, "site"),
            language=_str(raw, "language", required=False) or None,
            capacity=_int(raw, "capacity", 1, CAPACITY_MAX, required=False) or 1,
        )
    if kind == BOT_SHARE:
        concurrency = _int(raw, "concurrency", 1, COUNT_MAX, required=False)
        return BotShare(
            process=_int(raw, "process", 1, 2**63 - 1),
            share=_float(raw, "share", 0.0, 1.0),
            service_s=_float(raw, "service_s", 0.001, 1e7, required=False),
            concurrency=concurrency or 1,
            failure_rate=_float(raw, "failure_rate", 0.0, 1.0, required=False) or 0.0,
        )
    if kind == ROUTING_RULE:
        ordering = _str_list(raw, "ordering")
        if ordering is not None and (
            not ordering
            or len(set(ordering)) != len(ordering)
            or not set(ordering) <= set(routing.ORDERING_KEYS)
        ):
            raise ChangeError("ordering", BAD_ORDERING)
        relaxation = _relaxation(raw, "relaxation")
        if ordering is None and relaxation is None:
            raise ChangeError("ordering", NOTHING_TO_CHANGE)
        return RoutingRule(
            queue=_int(raw, "queue", 1, 2**63 - 1), ordering=ordering, relaxation=relaxation
        )
    return Scale(
        kind=kind,
        percent=_float(raw, "percent", -100.0 if kind == VOLUME else -99.0, PERCENT_MAX),
        process=_int(raw, "process", 1, 2**63 - 1, required=False),
    )


def to_dict(change: Change) -> dict[str, Any]:
    """The change's JSON form (None fields left out); parse(to_dict(c)) == c."""
    out: dict[str, Any] = {"kind": change.kind}
    for f in dataclasses.fields(change):
        value = getattr(change, f.name)
        if f.name == "kind" or value is None:
            continue
        if f.name == "relaxation":
            value = [
                {"after_s": s.after_s, "skill_drop": s.skill_drop, "languages": list(s.languages)}
                for s in value
            ]
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out


def _process_name(scenario: Scenario, process_id: int | None) -> str:
    if process_id is None:
        return "every process"
    found = next((p for p in scenario.processes if p.id == process_id), None)
    return found.name if found is not None else f"process {process_id}"


def describe(change: Change, scenario: Scenario | None = None) -> str:
    """One line a person reads: "Add 5 agents at Monterrey"."""

    def name(pid: int | None) -> str:
        if scenario is None:
            return "every process" if pid is None else f"process {pid}"
        return _process_name(scenario, pid)

    if isinstance(change, AddAgents):
        like = f" like agent {change.like}" if change.like is not None else ""
        return f"Add {change.count} agent{'s' * (change.count != 1)} at {change.site}{like}"
    if isinstance(change, RemoveAgents):
        return f"Remove {change.count} agent{'s' * (change.count != 1)} at {change.site}"
    if isinstance(change, MoveWork):
        language = f" ({change.language})" if change.language else ""
        return f"Move {name(change.process)}{language} to {change.site}"
    if isinstance(change, BotShare):
        return f"Bots take {change.share:.0%} of {name(change.process)}"
    if isinstance(change, RoutingRule):
        parts = []
        if change.ordering is not None:
            parts.append("order by " + ", ".join(change.ordering))
        if change.relaxation is not None:
            parts.append(f"{len(change.relaxation)} relaxation step(s)")
        return f"Queue {change.queue}: " + "; ".join(parts)
    what = "Volume" if change.kind == VOLUME else "AHT"
    return f"{what} of {name(change.process)} {change.percent:+g} %"


# ---------------------------------------------------------------------- making them


def _next_worker_id(scenario: Scenario) -> int:
    ids = [a.id for a in scenario.agents] + [b.id for b in scenario.bots]
    return max(ids, default=0) + 1


def _site_agents(scenario: Scenario, site: str) -> list[AgentModel]:
    return sorted((a for a in scenario.agents if a.site == site), key=lambda a: a.id)


def _process(scenario: Scenario, process_id: int, name: str = "process") -> ProcessModel:
    found = next((p for p in scenario.processes if p.id == process_id), None)
    if found is None:
        raise ChangeError(name, NO_SUCH_PROCESS.format(id=process_id))
    return found


def _add_agents(scenario: Scenario, change: AddAgents) -> Scenario:
    at_site = _site_agents(scenario, change.site)
    like: AgentModel | None = None
    if change.like is not None:
        like = next((a for a in scenario.agents if a.id == change.like), None)
        if like is None:
            raise ChangeError("like", NO_SUCH_AGENT.format(id=change.like))
    known = {p.id: p for p in scenario.processes}
    for pid in change.processes or ():
        if pid not in known:
            raise ChangeError("processes", NO_SUCH_PROCESS.format(id=pid))
    if like is None and not change.processes:
        raise ChangeError("processes", NEEDS_PROCESSES)
    if change.hourly_cost is not None:
        cost = change.hourly_cost
    elif at_site:
        cost = at_site[0].hourly_cost
    elif like is not None:
        cost = like.hourly_cost
    else:
        raise ChangeError("hourly_cost", NEEDS_COST.format(site=change.site))
    processes = (
        frozenset(change.processes) if change.processes is not None else like.certified  # type: ignore[union-attr]
    )
    if change.capacity is not None:
        capacity: Mapping[str, int] = dict(change.capacity)
    elif like is not None:
        capacity = dict(like.capacity)
    else:
        capacity = {known[pid].channel: 1 for pid in sorted(processes)}
    skills = dict(change.skills) if change.skills is not None else dict(like.skills if like else {})
    languages = (
        frozenset(change.languages)
        if change.languages is not None
        else frozenset(like.languages if like else ())
    )
    first = _next_worker_id(scenario)
    added = []
    for i in range(change.count):
        if at_site:
            shifts = at_site[i % len(at_site)].shifts
        else:
            shifts = like.shifts if like is not None else None
        added.append(
            AgentModel(
                id=first + i,
                site=change.site,
                hourly_cost=cost,
                skills=skills,
                languages=languages,
                certified=processes,
                capacity=capacity,
                shifts=shifts,
            )
        )
    return dataclasses.replace(scenario, agents=(*scenario.agents, *added))


def _remove_agents(scenario: Scenario, change: RemoveAgents) -> Scenario:
    at_site = _site_agents(scenario, change.site)
    if not at_site:
        raise ChangeError("site", NO_SUCH_SITE.format(site=change.site))
    if change.count > len(at_site):
        raise ChangeError("count", TOO_FEW_AGENTS.format(site=change.site, n=len(at_site)))
    gone = {a.id for a in at_site[len(at_site) - change.count :]}
    return dataclasses.replace(
        scenario, agents=tuple(a for a in scenario.agents if a.id not in gone)
    )


def _required(scenario: Scenario, queue_ids: set[int]) -> dict[str, int]:
    """The highest level each skill is required at by these queues."""
    out: dict[str, int] = {}
    for q in scenario.queues:
        if q.id in queue_ids:
            for skill, level in q.required_skills.items():
                out[skill] = max(out.get(skill, 0), level)
    return out


def _serve(
    agent: AgentModel,
    *,
    process_id: int,
    channel: str,
    required: Mapping[str, int],
    language: str | None,
    capacity: int,
) -> AgentModel:
    """The agent certified on the process, trained to its levels, speaking the language."""
    skills = dict(agent.skills)
    for skill, level in required.items():
        skills[skill] = max(skills.get(skill, 0), level)
    slots = dict(agent.capacity)
    if slots.get(channel, 0) <= 0:
        slots[channel] = capacity
    return dataclasses.replace(
        agent,
        certified=agent.certified | {process_id},
        skills=skills,
        languages=agent.languages | ({language} if language else set()),
        capacity=slots,
    )


def _split_language(
    scenario: Scenario, process: ProcessModel, language: str
) -> tuple[Scenario, ProcessModel]:
    """The process's items in `language` as a process of their own (returned too)."""
    share = process.language_mix.get(language, 0.0)
    total = sum(process.language_mix.values())
    new_id = max(p.id for p in scenario.processes) + 1
    old_queue = process.queue_for(language)
    others_use = any(
        qid == old_queue for lang, qid in process.queues.items() if lang != language
    ) or (language not in process.queues)
    queue = next(q for q in scenario.queues if q.id == old_queue) if old_queue else None
    queues = list(scenario.queues)
    if queue is None:
        queue = QueueModel(id=0, process_id=process.id, channel=process.channel)
    if others_use or queue.id == 0:
        queue_id = max((q.id for q in scenario.queues), default=0) + 1
        queues.append(dataclasses.replace(queue, id=queue_id, process_id=new_id))
    else:
        queue_id = queue.id
        queues = [
            dataclasses.replace(q, process_id=new_id) if q.id == queue_id else q for q in queues
        ]
    part = share / total
    split = dataclasses.replace(
        process,
        id=new_id,
        name=f"{process.name} ({language})",
        arrivals=tuple(a * part for a in process.arrivals),
        language_mix={language: 1.0},
        queues={"": queue_id, language: queue_id},
    )
    rest = dataclasses.replace(
        process,
        arrivals=tuple(a * (1 - part) for a in process.arrivals),
        language_mix={k: v for k, v in process.language_mix.items() if k != language},
        queues={k: v for k, v in process.queues.items() if k != language},
    )
    processes = tuple(rest if p.id == process.id else p for p in scenario.processes)
    replay = scenario.replay
    if replay is not None:
        replay = tuple(
            dataclasses.replace(r, process_id=new_id)
            if r.process_id == process.id and r.language == language
            else r
            for r in replay
        )
    bots = tuple(
        dataclasses.replace(b, processes=b.processes | {new_id}) if process.id in b.processes else b
        for b in scenario.bots
    )
    moved = dataclasses.replace(
        scenario,
        processes=(*processes, split),
        queues=tuple(queues),
        bots=bots,
        replay=replay,
    )
    return moved, split


def _move_work(scenario: Scenario, change: MoveWork) -> Scenario:
    process = _process(scenario, change.process)
    if not _site_agents(scenario, change.site):
        raise ChangeError("site", NO_SUCH_SITE.format(site=change.site))
    language = change.language
    whole = language is None
    if language is not None:
        share = process.language_mix.get(language, 0.0)
        if share <= 0:
            raise ChangeError(
                "language", NO_LANGUAGE_ITEMS.format(id=process.id, language=language)
            )
        whole = share >= sum(process.language_mix.values())
    if whole:
        target = process
    else:
        assert language is not None
        scenario, target = _split_language(scenario, process, language)
    queue_ids = set(target.queues.values()) | {
        q.id for q in scenario.queues if q.process_id == target.id
    }
    required = _required(scenario, queue_ids)
    agents = []
    for agent in scenario.agents:
        if agent.site == change.site:
            agent = _serve(
                agent,
                process_id=target.id,
                channel=target.channel,
                required=required,
                language=language,
                capacity=change.capacity,
            )
        elif whole:
            agent = dataclasses.replace(agent, certified=agent.certified - {target.id})
        agents.append(agent)
    return dataclasses.replace(scenario, agents=tuple(agents))


def _bot_share(scenario: Scenario, change: BotShare) -> Scenario:
    process = _process(scenario, change.process)
    bots = scenario.bots
    if not any(process.id in b.processes for b in bots):
        if change.service_s is None:
            raise ChangeError("process", NO_BOT.format(id=process.id))
        bots = (
            *bots,
            BotModel(
                id=_next_worker_id(scenario),
                processes=frozenset({process.id}),
                service_s=change.service_s,
                concurrency=change.concurrency,
                failure_rate=change.failure_rate,
            ),
        )
    processes = tuple(
        dataclasses.replace(p, bot_share=change.share) if p.id == process.id else p
        for p in scenario.processes
    )
    return dataclasses.replace(scenario, processes=processes, bots=bots)


def _routing_rule(scenario: Scenario, change: RoutingRule) -> Scenario:
    if not any(q.id == change.queue for q in scenario.queues):
        raise ChangeError("queue", NO_SUCH_QUEUE.format(id=change.queue))

    def edit(q: QueueModel) -> QueueModel:
        if q.id != change.queue:
            return q
        if change.ordering is not None:
            q = dataclasses.replace(q, ordering=change.ordering)
        if change.relaxation is not None:
            q = dataclasses.replace(q, relaxation=change.relaxation)
        return q

    return dataclasses.replace(scenario, queues=tuple(edit(q) for q in scenario.queues))


def _scale(scenario: Scenario, change: Scale) -> Scenario:
    if change.process is not None:
        _process(scenario, change.process)
    factor = 1 + change.percent / 100

    def chosen(pid: int) -> bool:
        return change.process is None or pid == change.process

    if change.kind == VOLUME:
        processes = tuple(
            dataclasses.replace(p, arrivals=tuple(a * factor for a in p.arrivals))
            if chosen(p.id)
            else p
            for p in scenario.processes
        )
        replay = scenario.replay
        if replay is not None:
            replay = _replay_scaled(scenario, replay, change, factor)
        return dataclasses.replace(scenario, processes=processes, replay=replay)
    processes = tuple(
        dataclasses.replace(p, aht_s=p.aht_s * factor) if chosen(p.id) else p
        for p in scenario.processes
    )
    replay = scenario.replay
    if replay is not None:
        replay = tuple(
            dataclasses.replace(r, aht_s=r.aht_s * factor)
            if r.aht_s is not None and chosen(r.process_id)
            else r
            for r in replay
        )
    return dataclasses.replace(scenario, processes=processes, replay=replay)


def _replay_scaled(
    scenario: Scenario, replay: tuple[ReplayArrival, ...], change: Scale, factor: float
) -> tuple[ReplayArrival, ...]:
    """The replay with the chosen processes' arrivals thinned or copied (module doc):
    one draw per arrival in a fixed order, from a generator seeded by the scenario's
    seed, the process and the percent."""
    rng = np.random.default_rng(
        [scenario.seed, change.process or 0, round(change.percent * 1000) + 10**9]
    )
    whole = math.floor(factor)
    part = factor - whole
    interval = scenario.interval_s
    horizon = scenario.horizon_s
    out: list[ReplayArrival] = []
    for r in replay:
        if change.process is not None and r.process_id != change.process:
            out.append(r)
            continue
        copies = whole + (1 if float(rng.random()) < part else 0)
        if copies == 0:
            continue
        out.append(r)
        lo = math.floor(r.at_s / interval) * interval
        hi = lo + interval if horizon is None else min(lo + interval, horizon)
        for _ in range(copies - 1):
            at = lo + float(rng.random()) * (hi - lo) if hi > lo else r.at_s
            out.append(dataclasses.replace(r, at_s=round(at, 3)))
    out.sort(key=lambda r: (r.at_s, r.process_id))
    return tuple(out)


APPLY: dict[type[Any], Callable[[Scenario, Any], Scenario]] = {
    AddAgents: _add_agents,
    RemoveAgents: _remove_agents,
    MoveWork: _move_work,
    BotShare: _bot_share,
    RoutingRule: _routing_rule,
    Scale: _scale,
}


def apply(scenario: Scenario, change: Change) -> Scenario:
    """A new scenario with the change made; ChangeError names the field it cannot."""
    return APPLY[type(change)](scenario, change)


@dataclass(frozen=True)
class Applied:
    scenario: Scenario
    changes: tuple[Change, ...] = field(default_factory=tuple)


def apply_all(
    scenario: Scenario, raw_changes: Sequence[Any], *, prefix: str = "changes"
) -> Applied:
    """Parse and make each change in order; a bad one raises ChangeError naming
    `changes[i].field`."""
    if not isinstance(raw_changes, list | tuple):
        raise ChangeError(prefix, NOT_A_LIST)
    made: list[Change] = []
    for i, raw in enumerate(raw_changes):
        try:
            change = parse(raw)
            scenario = apply(scenario, change)
        except ChangeError as exc:
            raise ChangeError(f"{prefix}[{i}].{exc.field}", exc.message) from exc
        made.append(change)
    return Applied(scenario=scenario, changes=tuple(made))
