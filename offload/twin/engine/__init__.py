"""The digital twin's discrete-event simulation: pure Python, no Django.

`run(scenario)` simulates `scenario.replications` independent replications (seeded
from `scenario.seed`, so the same scenario gives the same `Result`) and summarises
them with t-distribution confidence intervals at `scenario.confidence`.

It dispatches to the fast kernel (fast.py) when the scenario is one FCFS queue
served by every agent alike, 24/7 and without bots (`fast.applies` says exactly
when), and to the general event-driven engine (sim.py) otherwise; both draw the
same random items and compute figures with the same code, so on a scenario both
can run they agree. docs/twin.md describes the model and its semantics.
"""

from __future__ import annotations

from collections.abc import Callable

from offload.twin.engine import draws, fast, model, sim, stats
from offload.twin.engine.model import Result, Scenario, Stats

FAST = "fast"
GENERAL = "general"
ENGINES = (FAST, GENERAL)

UNKNOWN_ENGINE = "engine must be one of: fast, general"
FAST_DOES_NOT_APPLY = "the fast kernel does not apply to this scenario (see fast.applies)"

__all__ = ["ENGINES", "FAST", "GENERAL", "Result", "Scenario", "engine_for", "run"]


def engine_for(scenario: Scenario) -> str:
    """The engine `run` uses for this scenario by default."""
    return FAST if fast.applies(scenario) else GENERAL


def run(
    scenario: Scenario,
    *,
    progress: Callable[[float], None] | None = None,
    engine: str | None = None,
) -> Result:
    """Simulate the scenario. `progress`, if given, is called with the fraction
    done (0..1) every few percent; `engine` forces "fast" or "general" (the
    default picks the fast kernel whenever it applies). Raises ValueError naming
    every problem of a scenario that cannot run (`model.problems`)."""
    wrong = model.problems(scenario)
    if wrong:
        raise ValueError("; ".join(wrong))
    chosen = engine or engine_for(scenario)
    if chosen not in ENGINES:
        raise ValueError(UNKNOWN_ENGINE)
    if chosen == FAST and not fast.applies(scenario):
        raise ValueError(FAST_DOES_NOT_APPLY)
    reps: list[Stats] = []
    customers = 0
    count = scenario.replications
    for r, stream in enumerate(draws.replication_streams(scenario.seed, count)):
        if chosen == FAST:
            one, n = fast.replicate(scenario, stream)
        else:

            def inner(fraction: float, r: int = r) -> None:
                if progress is not None:
                    progress((r + fraction) / count)

            one, n = sim.replicate(scenario, stream, progress=inner if progress else None)
        reps.append(one)
        customers += n
        if progress is not None:
            progress((r + 1) / count)
    return Result(
        scenario=scenario.name,
        engine=chosen,
        confidence=scenario.confidence,
        overall=stats.summarise(reps, scenario.confidence),
        intervals=stats.mean_intervals(reps),
        replications=tuple(reps),
        customers=customers,
    )
