"""Random draws of one replication, shared by both engines (pure, numpy).

Each process has its own random streams, spawned from the scenario's seed by
replication and process (`numpy.random.SeedSequence`), one for arrival times and
one for the items' marks (service time, patience, priority, language, bot choice,
bot service time, bot failure), drawn in that order for all the process's items at
once. Adding a process leaves the others' draws alone, and the fast kernel and the
general engine see exactly the same items, so on a scenario both can run they give
the same answers (a test checks it).

Arrivals: per interval of `interval_s`, the process's expected count (its
`arrivals`, repeated cyclically) is the mean of a Poisson count, and that many
instants are uniform in the interval: a Poisson process whose rate is constant
within an interval. A replay replaces the Poisson arrivals of every process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from offload.twin.engine.model import ProcessModel, Scenario

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

NO_ARRIVALS = "a scenario needs horizon_s, max_arrivals or a replay"


@dataclass
class Items:
    """The items of one replication, in arrival order (ties by process order)."""

    arrival: Floats
    process: Ints  # index into scenario.processes
    priority: Ints
    language: list[str]
    service: Floats
    patience: Floats  # inf: never abandons
    to_bot: Bools
    bot_service: Floats  # unit mean: the serving bot scales it by its own mean
    bot_fail_u: Floats  # uniform in [0, 1): the bot fails when below its failure rate
    horizon: float  # arrivals stop here


@dataclass
class _Marks:
    service: Floats
    patience: Floats
    priority: Ints
    language: list[str]
    to_bot: Bools
    bot_service: Floats
    bot_fail_u: Floats


def replication_streams(seed: int, replications: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(replications)


def _poisson_times(
    rng: np.random.Generator, rates: tuple[float, ...], interval_s: float, first: int, count: int
) -> Floats:
    """Arrival instants over `count` whole intervals from interval `first`."""
    if not rates or count <= 0:
        return np.empty(0)
    cycle = np.asarray(rates, dtype=float)
    k = np.arange(first, first + count)
    means = cycle[k % len(cycle)]
    counts = rng.poisson(means)
    total = int(counts.sum())
    offsets = np.repeat(k.astype(float) * interval_s, counts)
    times: Floats = np.sort(offsets + rng.random(total) * interval_s)
    return times


def _times_until(
    rng: np.random.Generator, process: ProcessModel, interval_s: float, horizon: float
) -> Floats:
    whole = int(horizon // interval_s)
    times = _poisson_times(rng, process.arrivals, interval_s, 0, whole)
    part = horizon - whole * interval_s
    if part > 0 and process.arrivals:
        mean = process.arrivals[whole % len(process.arrivals)] * part / interval_s
        n = int(rng.poisson(mean))
        extra = np.sort(whole * interval_s + rng.random(n) * part)
        times = np.concatenate([times, extra])
    return times


def _marks(
    rng: np.random.Generator,
    process: ProcessModel,
    n: int,
    service_override: Floats | None = None,
) -> _Marks:
    mean = process.aht_s
    if process.aht_cv is None:
        service = rng.exponential(mean, n)
    elif process.aht_cv == 0:
        service = np.full(n, mean)
    else:
        sigma2 = math.log1p(process.aht_cv**2)
        service = rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), n)
    if service_override is not None:
        service = np.where(np.isnan(service_override), service, service_override)
    if process.patience_s is None:
        patience = np.full(n, math.inf)
    else:
        patience = rng.exponential(process.patience_s, n)
    priorities = sorted(process.priority_mix)
    if len(priorities) == 1:
        priority = np.full(n, priorities[0], dtype=np.int64)
    else:
        weights = np.asarray([process.priority_mix[p] for p in priorities], dtype=float)
        priority = np.asarray(priorities, dtype=np.int64)[
            rng.choice(len(priorities), n, p=weights / weights.sum())
        ]
    languages = sorted(process.language_mix)
    if len(languages) == 1:
        language = [languages[0]] * n
    else:
        lw = np.asarray([process.language_mix[x] for x in languages], dtype=float)
        picks = rng.choice(len(languages), n, p=lw / lw.sum()).tolist()
        language = [languages[i] for i in picks]
    if process.bot_share > 0:
        to_bot = rng.random(n) < process.bot_share
        bot_service = rng.exponential(1.0, n)
        bot_fail_u = rng.random(n)
    else:
        to_bot = np.zeros(n, dtype=bool)
        bot_service = np.zeros(n)
        bot_fail_u = np.ones(n)
    return _Marks(service, patience, priority, language, to_bot, bot_service, bot_fail_u)


def draw(scenario: Scenario, stream: np.random.SeedSequence) -> Items:
    """The replication's items, in arrival order."""
    processes = scenario.processes
    children = stream.spawn(len(processes))
    pairs = [c.spawn(2) for c in children]
    times_rng = [np.random.default_rng(t) for t, _ in pairs]
    marks_rng = [np.random.default_rng(m) for _, m in pairs]
    per_times: list[Floats] = []
    overrides: list[Floats | None] = []
    replay_rows: list[list[tuple[float, int | None, str | None]]] = [[] for _ in processes]
    index = {p.id: i for i, p in enumerate(processes)}

    if scenario.replay is not None:
        times_lists: list[list[float]] = [[] for _ in processes]
        service_lists: list[list[float]] = [[] for _ in processes]
        for r in sorted(scenario.replay, key=lambda r: r.at_s):
            i = index[r.process_id]
            times_lists[i].append(r.at_s)
            service_lists[i].append(math.nan if r.aht_s is None else r.aht_s)
            replay_rows[i].append((r.at_s, r.priority, r.language))
        per_times = [np.asarray(t, dtype=float) for t in times_lists]
        last = max((r.at_s for r in scenario.replay), default=0.0)
        horizon = scenario.horizon_s if scenario.horizon_s is not None else last
        per_times = [t[t <= horizon] for t in per_times]
        overrides = [
            np.asarray(s[: len(t)], dtype=float)
            for s, t in zip(service_lists, per_times, strict=True)
        ]
    elif scenario.horizon_s is not None:
        horizon = scenario.horizon_s
        per_times = [
            _times_until(rng, p, scenario.interval_s, horizon)
            for rng, p in zip(times_rng, processes, strict=True)
        ]
        overrides = [None] * len(processes)
    elif scenario.max_arrivals is not None:
        wanted = scenario.max_arrivals
        per_cycle = sum(
            sum(p.arrivals) / len(p.arrivals) for p in processes if p.arrivals
        )  # expected arrivals per interval
        if per_cycle <= 0:
            raise ValueError(NO_ARRIVALS)
        count = math.ceil(wanted / per_cycle * 1.05) + 10
        chunks: list[list[Floats]] = [[] for _ in processes]
        first = 0
        while True:
            for i, (rng, p) in enumerate(zip(times_rng, processes, strict=True)):
                chunks[i].append(_poisson_times(rng, p.arrivals, scenario.interval_s, first, count))
            first += count
            if sum(sum(len(c) for c in ch) for ch in chunks) >= wanted:
                break
        per_times = [np.concatenate(ch) for ch in chunks]
        merged = np.sort(np.concatenate(per_times))
        horizon = float(merged[wanted - 1]) if wanted > 0 else 0.0
        # Keep the first `wanted` arrivals (ties at the cut are kept alike).
        per_times = [t[t <= horizon] for t in per_times]
        overrides = [None] * len(processes)
    else:
        raise ValueError(NO_ARRIVALS)

    marks = [
        _marks(rng, p, len(t), o)
        for rng, p, t, o in zip(marks_rng, processes, per_times, overrides, strict=True)
    ]
    for i, rows in enumerate(replay_rows):
        if not rows:
            continue
        for j, (_, priority, language) in enumerate(rows[: len(per_times[i])]):
            if priority is not None:
                marks[i].priority[j] = priority
            if language is not None:
                marks[i].language[j] = language

    arrival = np.concatenate([*per_times, np.empty(0)])
    process = np.concatenate(
        [np.full(len(t), i, dtype=np.int64) for i, t in enumerate(per_times)]
        + [np.empty(0, dtype=np.int64)]
    )
    # One process's instants are already in order; several are merged stably.
    order: Ints | None = None
    if len(per_times) > 1:
        order = np.argsort(arrival, kind="stable")

    def cat(arrays: list[npt.NDArray[np.generic]], dtype: type) -> npt.NDArray[np.generic]:
        joined = np.concatenate([*arrays, np.empty(0, dtype=dtype)])
        return joined if order is None else joined[order]

    languages = [x for m in marks for x in m.language]
    items = Items(
        arrival=arrival if order is None else arrival[order],
        process=process if order is None else process[order],
        priority=cat([m.priority for m in marks], np.int64).astype(np.int64),
        language=languages if order is None else [languages[i] for i in order.tolist()],
        service=cat([m.service for m in marks], float).astype(float),
        patience=cat([m.patience for m in marks], float).astype(float),
        to_bot=cat([m.to_bot for m in marks], bool).astype(bool),
        bot_service=cat([m.bot_service for m in marks], float).astype(float),
        bot_fail_u=cat([m.bot_fail_u for m in marks], float).astype(float),
        horizon=float(horizon),
    )
    return items
