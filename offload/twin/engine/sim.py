"""The general engine: an event-driven simulation of the full multi-skill model.

Events sit in a heap of (time, kind, sequence, ...): at one instant the end of a
shift or the start of a break comes first, then completions (an agent's, then a
bot's), then the start of a shift or the end of a break, then abandonment (so an
item whose patience runs out as an agent frees is served), then relaxation;
arrivals are read in order from the replication's draws, after the events of their
instant. Routing is production's module, `offload.work.routing`:

- each agent's `routing.grants` are computed once (skills, languages and
  certifications do not change within a run) with its full capacity; a queue whose
  channel has no free slot left is skipped at pick time, which is what `grants`
  does with the agent's current free capacity;
- waiting items sit in one sorted list per (queue, item language), ordered by
  `routing.sort_key(item, routing.DEFAULT_ORDERING)` (a pull across queues);
- pull: an agent freeing a slot (or coming back on shift) takes the item with the
  lowest sort key among those it may take now (`now - queued_at >=
  routing.wait_needed(grants, language)`), exactly `routing.Router.pick`'s choice
  (a test replays every pick through `Router.pick` and compares);
- push: an arriving item (or one a bot failed) goes to the eligible idle agent who
  has been idle longest; if none, it waits. When a relaxation step widens who may
  take a waiting item, the longest-idle agent newly allowed pulls then.

Agents work only inside their shifts less breaks (they finish what they hold);
each unit of capacity on a channel is a slot working one item. Bots take the items
drawn for them (bot share) first, in arrival order per process, up to their
concurrency; a bot failure (probability failure_rate) sends the item to the
process's human queue. An item waiting (for a bot or a human) longer than its
patience leaves; its patience counts afresh when it enters the human queue after a
bot failure. SLA metrics are measured in business time of the process's calendar:
first response at the first take (by a bot or a human), turnaround at completion.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from offload.sla import BusinessCalendar
from offload.twin.engine import draws, stats
from offload.twin.engine.model import FIRST_RESPONSE, METRICS, TURNAROUND, Scenario, Stats
from offload.work import routing

# Event kinds, in the order simultaneous events are handled.
SHIFT_OFF = 0
DONE = 1
BOT_DONE = 2
SHIFT_ON = 3
ABANDON = 4
RELAX = 5

UNKNOWN_QUEUE = "process {process} sends items to queue {queue}, which the scenario lacks"

Key = tuple[float, ...]
Checker = Callable[["Simulation", int, int | None, float], None]


@dataclass
class _Agent:
    index: int
    id: int
    site: str
    free: dict[str, int]
    capacity: dict[str, int]
    # (bucket, wait needed, channel) for every bucket the agent may ever take from
    buckets: list[tuple[list[tuple[Key, int]], float, str]] = field(default_factory=list)
    channels: set[str] = field(default_factory=set)  # channels it may ever work on
    on: bool = False
    idle_since: float = 0.0
    windows: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class _Bot:
    index: int
    id: int
    processes: frozenset[int]
    service_s: float
    failure_rate: float
    free: int


def _epoch_dt(epoch: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=epoch)


class _Clock:
    """Business-time arithmetic in simulated seconds for one process's calendar."""

    def __init__(self, spec: object, origin: float) -> None:
        self.calendar = None if spec is None else BusinessCalendar.from_spec(spec)
        self.origin = origin

    def due(self, at: float, target: float) -> float:
        if self.calendar is None:
            return at + target
        due = self.calendar.add(_epoch_dt(self.origin + at), timedelta(seconds=target))
        return due.timestamp() - self.origin

    def elapsed(self, start: float, end: float) -> float:
        if self.calendar is None:
            return end - start
        return self.calendar.elapsed(
            _epoch_dt(self.origin + start), _epoch_dt(self.origin + end)
        ).total_seconds()


def replicate(
    scenario: Scenario,
    stream: np.random.SeedSequence,
    *,
    progress: Callable[[float], None] | None = None,
    check: Checker | None = None,
) -> tuple[Stats, int]:
    """One replication: its stats and the number of items simulated. `check`, when
    given, is called with (simulation, agent index, picked item or None, now) at
    every pull, before the item is taken, so a test can compare the pick with
    `routing.Router.pick` over `waiting_views()` and `worker_view()`."""
    sim = Simulation(scenario, stream, progress, check)
    sim.run()
    return sim.stats(), sim.n


class Simulation:
    """One replication's state. `run()` simulates it, `stats()` sums it up; tests
    read the per-item lists (answered_at, done_at, abandoned, agent_busy, ...)."""

    def __init__(
        self,
        scenario: Scenario,
        stream: np.random.SeedSequence,
        progress: Callable[[float], None] | None = None,
        check: Checker | None = None,
    ) -> None:
        self.scenario = scenario
        self.progress = progress
        self.check = check
        items = draws.draw(scenario, stream)
        self.items = items
        self.n = n = len(items.arrival)
        processes = scenario.processes
        self.processes = processes
        self.arrival = items.arrival.tolist()
        self.proc = items.process.tolist()
        self.priority = items.priority.tolist()
        self.language = items.language
        self.service = items.service.tolist()
        self.patience = items.patience.tolist()
        self.to_bot = items.to_bot.tolist()
        self.bot_service = items.bot_service.tolist()
        self.bot_fail_u = items.bot_fail_u.tolist()
        origin = scenario.start_epoch()
        self.clocks = [_Clock(p.calendar, origin) for p in processes]
        self.metrics = [m for m in METRICS if any(t.metric == m for p in processes for t in p.sla)]

        # Outcomes.
        nan = math.nan
        self.answered_at = [nan] * n
        self.done_at = [nan] * n
        self.abandoned = [False] * n
        self.waiting_since = [nan] * n  # nan: not waiting
        self.spell = [0] * n  # bumps when an item stops waiting, voiding its events
        self.key: list[Key] = [()] * n
        self.due: list[float | None] = [None] * n
        self.where: list[list[tuple[Key, int]] | deque[int] | None] = [None] * n
        self.queued_at = [0.0] * n
        self.wait_enter: list[float] = []
        self.wait_leave: list[float] = []
        self.spell_of: list[int] = [-1] * n  # index into wait_enter of the open spell
        self.busy: dict[str, list[tuple[float, float, float]]] = {}
        self.overtime: dict[str, list[tuple[float, float, float]]] = {}
        self.agent_busy: list[list[tuple[float, float]]] = []
        self.bot_pending: dict[int, deque[int]] = {p.id: deque() for p in processes}

        # Queues and buckets.
        policies = {q.id: q.policy() for q in scenario.queues}
        self.router = routing.Router(policies)
        self.policies = policies
        self.bucket: dict[tuple[int, str], list[tuple[Key, int]]] = {}
        self.idle_for: dict[tuple[int, str], list[tuple[int, float]]] = {}
        self.relax_waits: dict[tuple[int, str], list[float]] = {}
        for p in processes:
            # The languages this process's items can have: its mix, and the replay's.
            languages = set(p.language_mix) | {
                r.language
                for r in scenario.replay or ()
                if r.process_id == p.id and r.language is not None
            }
            for lang in sorted(languages):
                qid = p.queue_for(lang)
                if qid not in policies:
                    raise ValueError(UNKNOWN_QUEUE.format(process=p.id, queue=qid))
                self.bucket.setdefault((qid, lang), [])
                self.idle_for.setdefault((qid, lang), [])
        self.agents: list[_Agent] = []
        for i, a in enumerate(scenario.agents):
            agent = _Agent(i, a.id, a.site, dict(a.capacity), dict(a.capacity))
            by_queue: dict[int, list[routing.Grant]] = {}
            for g in routing.grants(policies.values(), a.worker_view()):
                by_queue.setdefault(g.queue_id, []).append(g)
            for (qid, lang), items_list in self.bucket.items():
                mine = by_queue.get(qid)
                if not mine:
                    continue
                wait = routing.wait_needed(mine, lang)
                if wait == routing.NEVER:
                    continue
                channel = policies[qid].channel
                agent.buckets.append((items_list, wait, channel))
                agent.channels.add(channel)
                self.idle_for[(qid, lang)].append((i, wait))
            if a.shifts is None:
                agent.windows = [(0.0, math.inf)]
            else:
                agent.windows = _merged(sorted(w for s in a.shifts for w in s.windows()))
            self.agents.append(agent)
            self.agent_busy.append([])
            self.busy.setdefault(a.site, [])
            self.overtime.setdefault(a.site, [])
        for key, pairs in self.idle_for.items():
            pairs.sort(key=lambda pair: pair[1])  # by wait, so a scan can stop early
            self.relax_waits[key] = sorted({w for _, w in pairs if w > 0})
        self.idle_agents = {
            key: [(self.agents[i], w) for i, w in pairs] for key, pairs in self.idle_for.items()
        }
        self.channel_of = {qid: policy.channel for qid, policy in policies.items()}
        self.bots = [
            _Bot(i, b.id, b.processes, b.service_s, b.failure_rate, b.concurrency)
            for i, b in enumerate(scenario.bots)
        ]
        self.bots_for = {p.id: [b for b in self.bots if p.id in b.processes] for p in processes}

        self.events: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        for agent in self.agents:
            for start, end in agent.windows:
                self._push(start, SHIFT_ON, agent.index, 0)
                if end != math.inf:
                    self._push(end, SHIFT_OFF, agent.index, 0)
        self.open = 0  # items arrived and neither completed nor abandoned
        self.end = 0.0

    # ------------------------------------------------------------------ events

    def waiting_views(self) -> list[routing.ItemView]:
        return _views(self)

    def worker_view(self, index: int) -> routing.WorkerView:
        model = self.scenario.agents[index]
        agent = self.agents[index]
        return routing.WorkerView(
            id=model.id,
            skills=dict(model.skills),
            languages=frozenset(model.languages),
            certified=frozenset(model.certified),
            free=dict(agent.free),
        )

    def _push(self, at: float, kind: int, a: int, b: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, kind, self.seq, a, b))

    def run(self) -> None:
        arrival = self.arrival
        n = self.n
        events = self.events
        pop = heapq.heappop
        stop = self.items.horizon + self.scenario.drain_s
        i = 0
        step = max(1, n // 20)
        now = 0.0
        while True:
            next_arrival = arrival[i] if i < n else math.inf
            if events and events[0][0] <= next_arrival:
                at, kind, _, a, b = pop(events)
                if at > stop:
                    break
                now = at
                if kind == DONE:
                    self._done(a, b, now)
                elif kind == SHIFT_ON:
                    self._shift_on(a, now)
                elif kind == SHIFT_OFF:
                    self.agents[a].on = False
                elif kind == BOT_DONE:
                    self._bot_done(a, b, now)
                elif kind == ABANDON and self.spell[a] == b:
                    self._abandon(a, now)
                elif kind == RELAX and self.spell[a] == b:
                    self._relax(a, now)
                if i >= n and self.open == 0:
                    break
            elif i < n:
                now = next_arrival
                self._arrive(i, now)
                i += 1
                if self.progress is not None and i % step == 0:
                    self.progress(i / n)
            else:
                break
        self.end = max(self.items.horizon, now)

    # ------------------------------------------------------------------ items

    def _arrive(self, item: int, now: float) -> None:
        self.open += 1
        process = self.processes[self.proc[item]]
        clock = self.clocks[self.proc[item]]
        priority = self.priority[item]
        target = process.target(FIRST_RESPONSE, priority)
        if target is None:
            target = process.target(TURNAROUND, priority)
        due = None if target is None else clock.due(self.arrival[item], target)
        view = routing.ItemView(
            id=item,
            queue_id=process.queue_for(self.language[item]),
            priority=priority,
            language=self.language[item],
            created_at=self.arrival[item],
            queued_at=self.arrival[item],
            due_at=due,
        )
        self.due[item] = due
        self.key[item] = routing.sort_key(view, routing.DEFAULT_ORDERING)
        if self.to_bot[item] and self.bots_for[process.id]:
            bot = self._free_bot(process.id)
            if bot is not None:
                self._bot_take(bot, item, now)
            else:
                self._wait(item, now, self.bot_pending[process.id])
            return
        self._to_humans(item, now)

    def _to_humans(self, item: int, now: float) -> None:
        qid = self.processes[self.proc[item]].queue_for(self.language[item])
        key = (qid, self.language[item])
        self.queued_at[item] = now
        agent = self._idle_agent(key, 0.0)
        if agent is not None:
            self._take(agent, item, now)
            return
        bucket = self.bucket[key]
        self._wait(item, now, bucket)
        for wait in self.relax_waits[key]:
            at = now + wait
            if at - now < wait:  # rounding: be sure the wait has passed then
                at = math.nextafter(at, math.inf)
            self._push(at, RELAX, item, self.spell[item])

    def _wait(self, item: int, now: float, where: list[tuple[Key, int]] | deque[int]) -> None:
        self.waiting_since[item] = now
        self.where[item] = where
        if isinstance(where, deque):
            where.append(item)
        else:
            bisect.insort(where, (self.key[item], item))
        self.spell_of[item] = len(self.wait_enter)
        self.wait_enter.append(now)
        self.wait_leave.append(math.inf)
        patience = self.patience[item]
        if patience != math.inf:
            self._push(now + patience, ABANDON, item, self.spell[item])

    def _unwait(self, item: int, now: float) -> None:
        where = self.where[item]
        if isinstance(where, deque):
            where.remove(item)
        elif where is not None:
            entry = (self.key[item], item)
            where.pop(bisect.bisect_left(where, entry))
        self.where[item] = None
        self.waiting_since[item] = math.nan
        self.spell[item] += 1
        self.wait_leave[self.spell_of[item]] = now

    def _abandon(self, item: int, now: float) -> None:
        self._unwait(item, now)
        self.abandoned[item] = True
        self.open -= 1

    def _relax(self, item: int, now: float) -> None:
        if self.waiting_since[item] != self.waiting_since[item]:
            return
        qid = self.processes[self.proc[item]].queue_for(self.language[item])
        agent = self._idle_agent((qid, self.language[item]), now - self.queued_at[item])
        if agent is not None:
            self._pull(agent, now)

    # ------------------------------------------------------------------ agents

    def _idle_agent(self, key: tuple[int, str], waited: float) -> int | None:
        """The agent idle longest among those who may take an item of this bucket
        after `waited` seconds and have a free slot on its channel."""
        channel = self.channel_of[key[0]]
        best: _Agent | None = None
        best_since = math.inf
        for agent, wait in self.idle_agents[key]:
            if wait > waited:
                break
            if agent.on and agent.idle_since < best_since and agent.free.get(channel, 0) > 0:
                best, best_since = agent, agent.idle_since
        return None if best is None else best.index

    def _pick(self, agent: _Agent, now: float) -> int | None:
        best: int | None = None
        best_key: Key = ()
        free = agent.free
        queued_at = self.queued_at
        for bucket, wait, channel in agent.buckets:
            if not bucket or free.get(channel, 0) <= 0:
                continue
            if wait <= 0:
                key, item = bucket[0]
            else:
                found: tuple[Key, int] | None = None
                for entry in bucket:
                    if best is not None and entry[0] >= best_key:
                        break
                    if now - queued_at[entry[1]] >= wait:
                        found = entry
                        break
                if found is None:
                    continue
                key, item = found
            if best is None or key < best_key:
                best, best_key = item, key
        return best

    def _pull(self, index: int, now: float) -> None:
        agent = self.agents[index]
        while agent.on:
            item = self._pick(agent, now)
            if self.check is not None:
                self.check(self, index, item, now)
            if item is None:
                return
            self._unwait(item, now)
            self._take(index, item, now)

    def _take(self, index: int, item: int, now: float) -> None:
        agent = self.agents[index]
        channel = self.processes[self.proc[item]].channel
        agent.free[channel] -= 1
        if self.answered_at[item] != self.answered_at[item]:
            self.answered_at[item] = now
        self._push(now + self.service[item], DONE, index, item)
        self.agent_busy[index].append((now, now + self.service[item]))

    def _done(self, index: int, item: int, now: float) -> None:
        agent = self.agents[index]
        channel = self.processes[self.proc[item]].channel
        agent.free[channel] += 1
        self.done_at[item] = now
        self.open -= 1
        agent.idle_since = now
        if agent.on:
            self._pull(index, now)

    def _shift_on(self, index: int, now: float) -> None:
        agent = self.agents[index]
        agent.on = True
        agent.idle_since = now
        self._pull(index, now)

    # ------------------------------------------------------------------ bots

    def _free_bot(self, process_id: int) -> _Bot | None:
        for bot in self.bots_for[process_id]:
            if bot.free > 0:
                return bot
        return None

    def _bot_take(self, bot: _Bot, item: int, now: float) -> None:
        bot.free -= 1
        if self.answered_at[item] != self.answered_at[item]:
            self.answered_at[item] = now
        at = now + self.bot_service[item] * bot.service_s
        self._push(at, BOT_DONE, bot.index, item)

    def _bot_done(self, index: int, item: int, now: float) -> None:
        bot = self.bots[index]
        bot.free += 1
        if self.bot_fail_u[item] < bot.failure_rate:
            self._to_humans(item, now)
        else:
            self.done_at[item] = now
            self.open -= 1
        # The bot takes the item waiting longest for any of its processes.
        best: deque[int] | None = None
        for pid in sorted(bot.processes):
            pending = self.bot_pending.get(pid)
            if pending and (
                best is None or self.waiting_since[pending[0]] < self.waiting_since[best[0]]
            ):
                best = pending
        if best is not None:
            waiting = best[0]
            self._unwait(waiting, now)
            self._bot_take(bot, waiting, now)

    # ------------------------------------------------------------------ figures

    def stats(self) -> Stats:
        scenario = self.scenario
        n = self.n
        end = self.end
        arrival = self.items.arrival
        answered_at = np.asarray(self.answered_at, dtype=float)
        done_at = np.asarray(self.done_at, dtype=float)
        met: dict[str, stats.Bools] = {}
        targeted: dict[str, stats.Bools] = {}
        process = self.items.process
        priority = self.items.priority
        for m in self.metrics:
            stop = answered_at if m == FIRST_RESPONSE else done_at
            target = np.full(n, math.nan)
            for p, process_model in enumerate(self.processes):
                for prio in np.unique(priority[process == p]).tolist():
                    t = process_model.target(m, int(prio))
                    if t is not None:
                        target[(process == p) & (priority == prio)] = t
            took = stop - arrival  # 24/7: business time is real time
            for p, clock in enumerate(self.clocks):
                if clock.calendar is None:
                    continue
                for item in np.flatnonzero((process == p) & ~np.isnan(stop)).tolist():
                    took[item] = clock.elapsed(self.arrival[item], float(stop[item]))
            has = ~np.isnan(target)
            with np.errstate(invalid="ignore"):
                met[m] = has & ~np.isnan(took) & (took <= target)
            targeted[m] = has

        busy: dict[str, list[tuple[float, float, float]]] = {s: [] for s in self.busy}
        staffed: dict[str, list[tuple[float, float, float]]] = {s: [] for s in self.busy}
        paid = 0.0
        warmup = scenario.warmup_s
        for agent, model in zip(self.agents, scenario.agents, strict=True):
            slots = float(sum(agent.capacity.get(ch, 0) for ch in agent.channels))
            windows = [(s, min(e, end)) for s, e in agent.windows if s < end]
            staffed[agent.site].extend((s, e, slots) for s, e in windows if e > s)
            overtime = 0.0
            for s, e in self.agent_busy[agent.index]:
                busy[agent.site].append((s, e, 1.0))
                for os_, oe in _outside(s, e, windows):
                    staffed[agent.site].append((os_, oe, 1.0))
                    overtime += max(0.0, oe - max(os_, warmup))
            if model.shifts is None:
                hours = max(0.0, end - warmup)
            else:
                hours = sum(max(0.0, s.end_s - max(s.start_s, warmup)) for s in model.shifts)
            paid += (hours + overtime) / 3600 * model.hourly_cost
        return stats.replication_stats(
            outcomes=stats.Outcomes(
                arrival=arrival,
                process=self.items.process,
                answered_at=answered_at,
                abandoned=np.asarray(self.abandoned, dtype=bool),
                done_at=done_at,
                met=met,
                targeted=targeted,
                wait_enter=np.asarray(self.wait_enter, dtype=float),
                wait_leave=np.asarray(self.wait_leave, dtype=float),
            ),
            process_ids=[p.id for p in self.processes],
            metrics=self.metrics,
            busy={s: stats.Coverage.of(v) for s, v in busy.items()},
            staffed={s: stats.Coverage.of(v) for s, v in staffed.items()},
            paid_cost=paid,
            warmup_s=warmup,
            horizon=self.items.horizon,
            end=end,
            interval_s=scenario.interval_s,
        )


def _merged(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted windows with the overlapping or touching ones joined (two shifts
    booked back to back are one stretch of availability)."""
    out: list[tuple[float, float]] = []
    for start, end in windows:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _outside(s: float, e: float, windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Parts of [s, e) outside the sorted, disjoint windows."""
    out: list[tuple[float, float]] = []
    at = s
    for ws, we in windows:
        if we <= at:
            continue
        if ws >= e:
            break
        if ws > at:
            out.append((at, ws))
        at = max(at, we)
        if at >= e:
            break
    if at < e:
        out.append((at, e))
    return out


def _views(sim: Simulation) -> list[routing.ItemView]:
    """Every item waiting for a human, as routing sees it (for checks in tests)."""
    out: list[routing.ItemView] = []
    for (qid, lang), bucket in sim.bucket.items():
        for _, item in bucket:
            out.append(
                routing.ItemView(
                    id=item,
                    queue_id=qid,
                    priority=sim.priority[item],
                    language=lang,
                    created_at=sim.arrival[item],
                    queued_at=sim.queued_at[item],
                    due_at=sim.due[item],
                )
            )
    return out
