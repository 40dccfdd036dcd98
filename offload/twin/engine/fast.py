"""The fast kernel: one queue, one skill, first come first served, 24/7.

When a scenario has that shape (`applies` says exactly when), the multi-server
queue is the Kiefer-Wolfowitz recursion over the servers' next free instants, kept
in a heap: an item arriving at `a` with patience `p` starts at
`max(a, earliest free)`; it abandons if that is more than `p` after `a` (and then
takes no server); otherwise that server is next free at start + service. Under
FCFS an item's start depends only on the items before it, so this is exact, and a
loop of a few float operations per item is all the Python there is; the random
draws (draws.py, the same as the general engine's) are vectorised with numpy, and
so are the figures (stats.py, also shared).

Each slot of an agent's capacity on the channel is a server.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from offload.twin.engine import draws, stats
from offload.twin.engine.model import Scenario, Stats
from offload.work import routing


def applies(scenario: Scenario) -> bool:
    """One process (bots not used: no bot share or no bot serving it), 24/7, one
    priority, every item language sent to the same queue, and every agent
    always on, in one site, with capacity on the channel and allowed to take every
    item of that queue at once (no relaxation wait), so every agent is a server of
    one FCFS queue."""
    if len(scenario.processes) != 1 or not scenario.agents:
        return False
    process = scenario.processes[0]
    if process.calendar is not None or len(process.priority_mix) != 1:
        return False
    if scenario.replay is not None and any(
        r.priority is not None and r.priority not in process.priority_mix for r in scenario.replay
    ):
        return False
    if process.bot_share > 0 and any(process.id in b.processes for b in scenario.bots):
        return False
    languages = set(process.language_mix)
    if scenario.replay is not None:
        languages |= {r.language for r in scenario.replay if r.language is not None}
    queue_ids = {process.queue_for(lang) for lang in languages}
    if len(queue_ids) != 1:
        return False
    policies = [q.policy() for q in scenario.queues if q.id in queue_ids]
    if len(policies) != 1 or policies[0].process_id != process.id:
        return False
    if len({a.site for a in scenario.agents}) != 1:
        return False
    for agent in scenario.agents:
        if agent.shifts is not None or agent.capacity.get(process.channel, 0) <= 0:
            return False
        mine = routing.grants(policies, agent.worker_view())
        if any(routing.wait_needed(mine, lang) != 0 for lang in languages):
            return False
    return True


def replicate(scenario: Scenario, stream: np.random.SeedSequence) -> tuple[Stats, int]:
    """One replication: its stats and the number of items simulated."""
    process = scenario.processes[0]
    items = draws.draw(scenario, stream)
    arrival = items.arrival
    n = len(arrival)
    slots = sum(a.capacity.get(process.channel, 0) for a in scenario.agents)

    free = [0.0] * slots  # each server's next free instant, a heap
    heapreplace = heapq.heapreplace
    start: list[float] = []
    push = start.append
    for a, patience, service in zip(
        arrival.tolist(), items.patience.tolist(), items.service.tolist(), strict=True
    ):
        f = free[0]
        if f > a:  # every server busy: wait for the earliest, if patient enough
            push(f)
            if f - a <= patience:
                heapreplace(free, f + service)
        else:  # a server is idle: start at once
            push(a)
            heapreplace(free, a + service)

    begin = np.asarray(start)
    wait = begin - arrival
    served = wait <= items.patience
    abandoned = ~served
    answered_at = np.where(served, begin, math.nan)
    done_at = answered_at + items.service
    metrics = [
        m for m in ("first_response", "turnaround") if any(t.metric == m for t in process.sla)
    ]
    priority = next(iter(process.priority_mix))
    met: dict[str, stats.Bools] = {}
    targeted: dict[str, stats.Bools] = {}
    for m in metrics:
        target = process.target(m, priority)
        if target is None:
            met[m] = np.zeros(n, dtype=bool)
            targeted[m] = np.zeros(n, dtype=bool)
            continue
        took = wait if m == "first_response" else wait + items.service
        met[m] = served & (took <= target)
        targeted[m] = np.ones(n, dtype=bool)
    leave = np.where(served, begin, arrival + items.patience)
    end = max(
        items.horizon,
        float(np.nanmax(done_at)) if served.any() else 0.0,
        float(leave.max()) if n else 0.0,
    )
    site = scenario.agents[0].site
    busy = stats.Coverage(begin[served], done_at[served], np.ones(int(served.sum())))
    staffed = stats.Coverage.of([(0.0, end, float(slots))])
    paid_hours = max(0.0, end - scenario.warmup_s) / 3600
    paid = paid_hours * sum(a.hourly_cost for a in scenario.agents)
    waiting = wait > 0
    result = stats.replication_stats(
        outcomes=stats.Outcomes(
            arrival=arrival,
            process=np.zeros(n, dtype=np.int64),
            answered_at=answered_at,
            abandoned=abandoned,
            done_at=done_at,
            met=met,
            targeted=targeted,
            wait_enter=arrival[waiting],
            wait_leave=leave[waiting],
        ),
        process_ids=[process.id],
        metrics=metrics,
        busy={site: busy},
        staffed={site: staffed},
        paid_cost=paid,
        warmup_s=scenario.warmup_s,
        horizon=items.horizon,
        end=end,
        interval_s=scenario.interval_s,
    )
    return result, n
