"""`offload bench erlang [REPEATS]`: minimum agents for a whole plan against pyworkforce.

A plan of 96 half-hour intervals x 50 queues (4,800 answers) with seeded random
inputs: 20-400 calls per interval (whole calls), AHT uniform in 120-600 s, 80 % of
calls answered in 20 s, occupancy at most 85 %. Ours answers the whole plan in one
call of `erlang.agents_required_plan` (REPEATS times, default 30, the median time
counts); pyworkforce 0.5.1's `ErlangC.required_positions` answers the same 4,800
one queue-interval at a time (3 times, the median time counts), and every one of
its `raw_positions` is compared with ours. Our own scalar `agents_required` in a
plain loop is timed too (once), to show what the batch adds. Pure: no database is
read.
"""

from __future__ import annotations

import json
import statistics
import sys
from time import perf_counter
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pyworkforce.queuing import ErlangC

from offload.workforce import erlang

SEED = 20261123
QUEUES = 50
INTERVALS = 96
INTERVAL_S = 1800
TARGET_S = 20.0
SERVICE_LEVEL = 0.8
MAX_OCCUPANCY = 0.85
DEFAULT_REPEATS = 30
PEER_REPEATS = 3


def inputs(seed: int = SEED) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Calls (whole numbers, 20-400) and AHT in seconds (120-600), queues x intervals."""
    rng = np.random.default_rng(seed)
    calls = rng.integers(20, 400, size=(QUEUES, INTERVALS), endpoint=True).astype(np.float64)
    aht = rng.uniform(120.0, 600.0, size=(QUEUES, INTERVALS))
    return calls, aht


def ours(calls: NDArray[np.float64], aht: NDArray[np.float64]) -> NDArray[np.int64]:
    return erlang.agents_required_plan(
        calls, INTERVAL_S, aht, TARGET_S, SERVICE_LEVEL, max_occupancy=MAX_OCCUPANCY
    )


def peer(calls: NDArray[np.float64], aht: NDArray[np.float64]) -> list[int]:
    """pyworkforce in minutes: the same queue, target as its `asa`, no shrinkage."""
    answers = []
    for n, handle in zip(calls.ravel().tolist(), aht.ravel().tolist(), strict=True):
        queue = ErlangC(
            transactions=n, asa=TARGET_S / 60, aht=handle / 60, interval=INTERVAL_S // 60
        )
        found = queue.required_positions(service_level=SERVICE_LEVEL, max_occupancy=MAX_OCCUPANCY)
        answers.append(int(found["raw_positions"]))
    return answers


def main(repeats: int = DEFAULT_REPEATS) -> dict[str, Any]:
    calls, aht = inputs()
    answers = calls.size
    print(f"plan: {QUEUES} queues x {INTERVALS} intervals = {answers:,} answers")

    ours(calls, aht)  # warm: numpy's first calls
    times = []
    for _ in range(repeats):
        began = perf_counter()
        plan = ours(calls, aht)
        times.append(perf_counter() - began)
    ours_s = statistics.median(times)
    print(f"ours (batch): median {ours_s * 1000:.2f} ms over {repeats} runs")

    began = perf_counter()
    scalar = [  # once: only the plain loop's order of magnitude
        erlang.agents_required(n, INTERVAL_S, h, TARGET_S, SERVICE_LEVEL, MAX_OCCUPANCY)
        for n, h in zip(calls.ravel().tolist(), aht.ravel().tolist(), strict=True)
    ]
    scalar_s = perf_counter() - began
    print(f"ours (scalar loop): {scalar_s * 1000:.1f} ms")

    peer_times = []
    for _ in range(PEER_REPEATS):
        began = perf_counter()
        theirs = peer(calls, aht)
        peer_times.append(perf_counter() - began)
    peer_s = statistics.median(peer_times)
    print(f"pyworkforce 0.5.1: median {peer_s * 1000:.1f} ms over {PEER_REPEATS} runs")

    flat = plan.ravel().tolist()
    mismatches = sum(a != b for a, b in zip(flat, theirs, strict=True))
    scalar_mismatches = sum(a != b for a, b in zip(flat, scalar, strict=True))
    answers_per_s = answers / ours_s
    peer_answers_per_s = answers / peer_s
    figures = {
        "bench": "erlang",
        "answers": answers,
        "repeats": repeats,
        "answers_per_s": round(answers_per_s),
        "scalar_answers_per_s": round(answers / scalar_s),
        "peer_answers_per_s": round(peer_answers_per_s),
        "ratio_vs_pyworkforce": round(answers_per_s / peer_answers_per_s, 1),
        "scalar_ratio_vs_pyworkforce": round(answers / scalar_s / peer_answers_per_s, 1),
        "mismatches": mismatches,
        "scalar_mismatches": scalar_mismatches,
        "agents_total": int(plan.sum()),
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_REPEATS)
