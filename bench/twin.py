"""`offload bench twin [ARRIVALS]`: the twin's engine against SimPy on M/M/c+M.

The model of issue 6: 14 agents, 200 arrivals an hour, AHT 180 s (exponential),
patience 300 s (exponential), service level = answered within 20 s over all
arrivals. ARRIVALS (default 1,000,000) go through `engine.run(scenario)` (the
twin's own entry point, which picks its fast kernel for this shape) as 10
replications of ARRIVALS / 10. SimPy runs the same model (a `simpy.Resource` of 14,
each customer a process waiting on `request | timeout(patience)`) on the same
parameters in the same run, 10 replications of ARRIVALS / 50 arrivals each (SimPy is
slow; customers per second is a rate, so it is fair to measure it on fewer). Its
random numbers are drawn with numpy beforehand, so it is timed on the simulation
alone while the twin's time includes its draws and figures. Both are compared with
Erlang A (`offload.workforce.erlang.erlang_a`) with 99 % confidence intervals over
the replications. The two run alternately three times (the machine is shared, so a
change of load hits both) and each side's best time counts; every round gives the
same figures (same seeds). Then the multi-skill centre of `engine.examples.multiskill`
(four processes, two languages, four sites, 60 agents on shifts with breaks, a
bot) goes through the general engine for its customers per second.
Pure: no database is read.
"""

from __future__ import annotations

import json
import math
import sys
from time import perf_counter
from typing import Any

import numpy as np
import simpy

from offload.twin import engine
from offload.twin.engine import examples, stats
from offload.workforce import erlang

DEFAULT_ARRIVALS = 1_000_000
REPLICATIONS = 10
PEER_SHARE = 5  # SimPy runs ARRIVALS / PEER_SHARE
AGENTS = 14
CALLS_PER_HOUR = 200.0
AHT_S = 180.0
PATIENCE_S = 300.0
TARGET_S = 20.0
SEED = 20260601
CONFIDENCE = 0.99
ROUNDS = 3  # each side's best time of three alternating rounds counts


def simpy_replication(arrivals: int, seed: int) -> tuple[float, float]:
    """One SimPy replication: (abandon rate, service level) over all arrivals."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(3600.0 / CALLS_PER_HOUR, arrivals).tolist()
    services = rng.exponential(AHT_S, arrivals).tolist()
    patiences = rng.exponential(PATIENCE_S, arrivals).tolist()
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)
    counts = {"abandoned": 0, "met": 0}

    def customer(i: int) -> Any:
        arrived = env.now
        with agents.request() as request:
            got = yield request | env.timeout(patiences[i])
            if request in got:
                if env.now - arrived <= TARGET_S:
                    counts["met"] += 1
                yield env.timeout(services[i])
            else:
                counts["abandoned"] += 1

    def source() -> Any:
        for i in range(arrivals):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(source())
    env.run()
    return counts["abandoned"] / arrivals, counts["met"] / arrivals


def _interval(e: Any) -> str:
    return f"{e.mean:.5f} ± {e.half_width:.5f}"


def main(arrivals: int = DEFAULT_ARRIVALS) -> dict[str, Any]:
    theory = erlang.erlang_a(CALLS_PER_HOUR, 3600.0, AHT_S, PATIENCE_S, AGENTS, TARGET_S)
    scenario = examples.mmc(
        agents=AGENTS,
        calls_per_hour=CALLS_PER_HOUR,
        aht_s=AHT_S,
        patience_s=PATIENCE_S,
        target_s=TARGET_S,
        max_arrivals=arrivals // REPLICATIONS,
        replications=REPLICATIONS,
        seed=SEED,
        confidence=CONFIDENCE,
    )
    peer_arrivals = max(1, arrivals // PEER_SHARE // REPLICATIONS)
    seeds = np.random.SeedSequence(SEED).generate_state(REPLICATIONS).tolist()
    ours_times: list[float] = []
    peer_times: list[float] = []
    for round_ in range(ROUNDS):
        # Alternate the two so that a change of load on the shared machine hits both.
        began = perf_counter()
        result = engine.run(scenario)
        ours_times.append(perf_counter() - began)
        peer_values: list[tuple[float, float]] = []
        began = perf_counter()
        for seed in seeds:
            peer_values.append(simpy_replication(peer_arrivals, int(seed)))
        peer_times.append(perf_counter() - began)
        print(
            f"round {round_ + 1}: twin {result.customers:,} customers in "
            f"{ours_times[-1]:.2f} s, simpy {peer_arrivals * REPLICATIONS:,} in "
            f"{peer_times[-1]:.2f} s"
        )
    ours_s = min(ours_times)
    peer_s = min(peer_times)
    ours_rate = result.customers / ours_s
    abandon = result.overall.abandon_rate
    level = result.overall.service_level["first_response"]
    print(
        f"twin ({result.engine}): {result.customers:,} customers in {ours_s:.2f} s (best); "
        f"abandon {_interval(abandon)}, service level {_interval(level)}"
    )
    peer_rate = peer_arrivals * REPLICATIONS / peer_s
    peer_abandon = stats.estimate([a for a, _ in peer_values], CONFIDENCE)
    peer_level = stats.estimate([s for _, s in peer_values], CONFIDENCE)
    print(
        f"simpy: {peer_arrivals * REPLICATIONS:,} customers in {peer_s:.2f} s (best); "
        f"abandon {_interval(peer_abandon)}, service level {_interval(peer_level)}"
    )
    print(f"erlang A: abandon {theory.abandon:.5f}, service level {theory.service_level:.5f}")

    multi = examples.multiskill(days=7, replications=2)
    multi_times: list[float] = []
    for _ in range(ROUNDS):
        began = perf_counter()
        multi_result = engine.run(multi)
        multi_times.append(perf_counter() - began)
    multi_s = min(multi_times)
    multi_rate = multi_result.customers / multi_s
    print(
        f"multi-skill ({multi_result.engine}): {multi_result.customers:,} customers "
        f"in {multi_s:.2f} s (best of {ROUNDS})"
    )

    def within(e: Any, value: float) -> bool:
        return bool(e.covers(value))

    figures = {
        "bench": "twin",
        "customers": result.customers,
        "customers_per_s": round(ours_rate),
        "peer_customers": peer_arrivals * REPLICATIONS,
        "peer_customers_per_s": round(peer_rate),
        "ratio_vs_simpy": round(ours_rate / peer_rate, 1),
        "multiskill_customers": multi_result.customers,
        "multiskill_customers_per_s": round(multi_rate),
        "abandon": round(float(abandon.mean or math.nan), 5),
        "abandon_half_width": round(float(abandon.half_width or math.nan), 5),
        "service_level": round(float(level.mean or math.nan), 5),
        "service_level_half_width": round(float(level.half_width or math.nan), 5),
        "erlang_a_abandon": round(theory.abandon, 5),
        "erlang_a_service_level": round(theory.service_level, 5),
        "simpy_abandon": round(float(peer_abandon.mean or math.nan), 5),
        "simpy_abandon_half_width": round(float(peer_abandon.half_width or math.nan), 5),
        "simpy_service_level": round(float(peer_level.mean or math.nan), 5),
        "simpy_service_level_half_width": round(float(peer_level.half_width or math.nan), 5),
        "twin_matches_erlang_a": within(abandon, theory.abandon)
        and within(level, theory.service_level),
        "simpy_matches_erlang_a": within(peer_abandon, theory.abandon)
        and within(peer_level, theory.service_level),
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ARRIVALS)
