"""The twin against queueing theory (Erlang C, Erlang A) and against Ciw.

Each scenario is simulated with a fixed seed, so each check is deterministic: the
theoretical value must lie inside the simulation's 99 % confidence interval over
its replications, through the fast kernel and through the general engine; against
Ciw, the two simulations' means must differ by less than their combined 99 % half
widths (a two-skill centre with English-only, Spanish-only and bilingual agents,
routed in Ciw by ciw_skills.SkilledNode, and a shared pool with priorities).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import ciw
import numpy as np
import pytest

from offload.twin import engine
from offload.twin.engine import draws, examples, sim, stats
from offload.twin.engine.model import (
    FIRST_RESPONSE,
    AgentModel,
    Estimate,
    ProcessModel,
    QueueModel,
    Scenario,
    SlaTarget,
)
from offload.twin.engine.tests import ciw_skills
from offload.twin.engine.tests.ciw_skills import AgentGroup, CustomerClass
from offload.workforce import erlang

CALLS_PER_HOUR = 200.0
AHT_S = 180.0
AGENTS = 14
TARGET_S = 20.0
PATIENCE_S = 300.0


def small_mmc(*, patience_s: float | None, seed: int) -> Scenario:
    # 20 replications of 4,000 arrivals (20 hours each), the first half hour warm-up.
    return examples.mmc(
        agents=AGENTS,
        calls_per_hour=CALLS_PER_HOUR,
        aht_s=AHT_S,
        patience_s=patience_s,
        target_s=TARGET_S,
        max_arrivals=4000,
        replications=20,
        warmup_s=1800.0,
        seed=seed,
        confidence=0.99,
    )


@pytest.mark.parametrize("engine_name", [engine.FAST, engine.GENERAL])
def test_mmc_reproduces_erlang_c_service_level(engine_name: str) -> None:
    # given an M/M/14 queue at 10 Erlangs and Erlang C's P(wait <= 20 s)
    scenario = small_mmc(patience_s=None, seed=11)
    theory = erlang.service_level(CALLS_PER_HOUR, 3600.0, AHT_S, AGENTS, TARGET_S)

    # when it is simulated
    result = engine.run(scenario, engine=engine_name)

    # then the theory lies in the 99 % confidence interval, and nobody abandoned
    level = result.overall.service_level[FIRST_RESPONSE]
    assert theory == pytest.approx(0.88835, abs=1e-5)
    assert level.covers(theory), (level.low, theory, level.high)
    assert result.overall.abandon_rate.mean == 0.0
    assert result.engine == engine_name


@pytest.mark.parametrize("engine_name", [engine.FAST, engine.GENERAL])
def test_mmc_with_patience_reproduces_erlang_a(engine_name: str) -> None:
    # given M/M/14+M with a 300 s mean patience and Erlang A's figures
    scenario = small_mmc(patience_s=PATIENCE_S, seed=12)
    theory = erlang.erlang_a(CALLS_PER_HOUR, 3600.0, AHT_S, PATIENCE_S, AGENTS, TARGET_S)

    # when it is simulated
    result = engine.run(scenario, engine=engine_name)

    # then both abandonment and service level lie in their 99 % intervals
    abandon = result.overall.abandon_rate
    level = result.overall.service_level[FIRST_RESPONSE]
    assert abandon.covers(theory.abandon), (abandon.low, theory.abandon, abandon.high)
    assert level.covers(theory.service_level), (level.low, theory.service_level, level.high)
    # and the occupancy is Erlang A's (carried load / agents) to within a point
    occupancy = result.overall.occupancy["main"].mean
    assert occupancy == pytest.approx(theory.occupancy, abs=0.01)


def test_fast_kernel_is_the_default_for_the_mmc_shape() -> None:
    # given the M/M/c+M scenario and a two-process one
    scenario = small_mmc(patience_s=PATIENCE_S, seed=1)

    # when/then run() picks the fast kernel only where it applies
    assert engine.engine_for(scenario) == engine.FAST
    assert engine.engine_for(two_class_scenario(seed=1)) == engine.GENERAL


# ---------------------------------------------------------------------- Ciw


def agree(ours: Estimate, theirs: Estimate) -> bool:
    """The two means differ by less than their combined 99 % half widths."""
    assert ours.mean is not None
    assert theirs.mean is not None
    assert ours.half_width is not None
    assert theirs.half_width is not None
    return abs(ours.mean - theirs.mean) <= math.hypot(ours.half_width, theirs.half_width)


# Two skills: English and Spanish calls, each in its own queue, taken by
# English-only, Spanish-only and bilingual agents. Same priority, different
# first-response targets, so a bilingual agent's pick across the two queues goes
# by due time (arrival + target), then age.
CLASSES = (
    CustomerClass("en", per_hour=100.0, aht_s=240.0, patience_s=180.0, target_s=20.0),
    CustomerClass("es", per_hour=50.0, aht_s=300.0, patience_s=300.0, target_s=60.0),
)
GROUPS = (
    AgentGroup("en", 6, frozenset({"en"})),
    AgentGroup("es", 3, frozenset({"es"})),
    AgentGroup("bilingual", 4, frozenset({"en", "es"})),
)
SKILLS_HORIZON_S = 8 * 3600.0
SKILLS_WARMUP_S = 3600.0
SKILLS_REPLICATIONS = 40


def skills_scenario(*, seed: int, pooled: bool = False) -> Scenario:
    """The two-skill centre in the twin: one process and one queue per language,
    agents speaking their group's languages (every agent both when `pooled`), one
    site per group so occupancy is reported per group."""
    processes = tuple(
        ProcessModel(
            id=k,
            name=f"{c.name} calls",
            channel="voice",
            arrivals=(c.per_hour / 2,),  # per half hour
            aht_s=c.aht_s,
            patience_s=c.patience_s,
            priority_mix={c.priority: 1.0},
            language_mix={c.name: 1.0},
            sla=(SlaTarget(FIRST_RESPONSE, c.target_s),),
            queues={c.name: k},
        )
        for k, c in enumerate(CLASSES, start=1)
    )
    members = [g for g in GROUPS for _ in range(g.size)]  # in Ciw's server order
    agents = tuple(
        AgentModel(
            id=i,
            site=g.name,
            languages=frozenset(c.name for c in CLASSES) if pooled else g.skills,
            certified=frozenset(p.id for p in processes),
            capacity={"voice": 1},
        )
        for i, g in enumerate(members, start=1)
    )
    return Scenario(
        name="two skills" + (" pooled" if pooled else ""),
        seed=seed,
        replications=SKILLS_REPLICATIONS,
        horizon_s=SKILLS_HORIZON_S,
        warmup_s=SKILLS_WARMUP_S,
        confidence=0.99,
        processes=processes,
        queues=tuple(QueueModel(id=p.id, process_id=p.id, channel="voice") for p in processes),
        agents=agents,
    )


def waits_by_process(scenario: Scenario, result: engine.Result) -> dict[int, Estimate]:
    """Per process, the mean wait of the answered items (the twin's Result has it
    over all processes only): the same replications `run` made, replayed through
    the general engine from the same streams (each one's Stats checked equal)."""
    waits: dict[int, list[float | None]] = {p.id: [] for p in scenario.processes}
    streams = draws.replication_streams(scenario.seed, scenario.replications)
    for one, stream in zip(result.replications, streams, strict=True):
        replication = sim.Simulation(scenario, stream)
        replication.run()
        assert replication.stats() == one
        arrival = replication.items.arrival
        waited = np.asarray(replication.answered_at) - arrival
        counted = (arrival >= scenario.warmup_s) & ~np.isnan(waited)
        for k, p in enumerate(scenario.processes):
            waits[p.id].append(float(waited[counted & (replication.items.process == k)].mean()))
    return {pid: stats.estimate(v, scenario.confidence) for pid, v in waits.items()}


@functools.cache
def ciw_skills_figures() -> tuple[ciw_skills.Figures, ...]:
    """Ciw's replications of the centre (seeds 200..239), run once per session."""
    return tuple(
        ciw_skills.replicate(
            CLASSES, GROUPS, horizon_s=SKILLS_HORIZON_S, warmup_s=SKILLS_WARMUP_S, seed=seed
        )
        for seed in range(200, 200 + SKILLS_REPLICATIONS)
    )


def disagreements(
    result: engine.Result, runs: Sequence[ciw_skills.Figures], waits: dict[int, Estimate] | None
) -> list[str]:
    """Every figure on which the twin and Ciw disagree (empty: they agree)."""
    out: list[str] = []

    def check(name: str, ours: Estimate, theirs: list[float]) -> None:
        other = stats.estimate(theirs, 0.99)
        if not agree(ours, other):
            out.append(
                f"{name}: twin {ours.mean:.4f} ± {ours.half_width:.4f}, "
                f"Ciw {other.mean:.4f} ± {other.half_width:.4f}"
            )

    overall = result.overall
    for k, c in enumerate(CLASSES, start=1):
        check(
            f"{c.name} service level",
            overall.service_level_by_process[k][FIRST_RESPONSE],
            [r.by_class[c.name].service_level for r in runs],
        )
        check(
            f"{c.name} abandonment",
            overall.abandon_rate_by_process[k],
            [r.by_class[c.name].abandon_rate for r in runs],
        )
        if waits is not None:
            check(f"{c.name} mean wait", waits[k], [r.by_class[c.name].asa_s for r in runs])
    check("mean wait", overall.asa_s, [r.asa_s for r in runs])
    for g in GROUPS:
        check(f"{g.name} occupancy", overall.occupancy[g.name], [r.occupancy[g.name] for r in runs])
    return out


def test_ciw_skilled_node_reproduces_erlang_a() -> None:
    # given M/M/14+M (the Erlang A case above) as one class and one group of
    # servers in Ciw with the skilled node, 12 replications of 10 hours
    calls = (CustomerClass("calls", CALLS_PER_HOUR, AHT_S, PATIENCE_S, TARGET_S),)
    everyone = (AgentGroup("all", AGENTS, frozenset({"calls"})),)
    theory = erlang.erlang_a(CALLS_PER_HOUR, 3600.0, AHT_S, PATIENCE_S, AGENTS, TARGET_S)

    # when Ciw runs it
    runs = [
        ciw_skills.replicate(calls, everyone, horizon_s=10 * 3600.0, warmup_s=1800.0, seed=seed)
        for seed in range(300, 312)
    ]

    # then abandonment and service level lie in Ciw's 99 % intervals
    abandon = stats.estimate([r.by_class["calls"].abandon_rate for r in runs], 0.99)
    level = stats.estimate([r.by_class["calls"].service_level for r in runs], 0.99)
    assert abandon.covers(theory.abandon), (abandon.low, theory.abandon, abandon.high)
    assert level.covers(theory.service_level), (level.low, theory.service_level, level.high)
    # and occupancy is Erlang A's to within two points (the drain after the
    # horizon, counted as the twin counts it, pulls it down by about one)
    occupancy = stats.estimate([r.occupancy["all"] for r in runs], 0.99).mean
    assert occupancy == pytest.approx(theory.occupancy, abs=0.02)


def test_two_skill_scenario_agrees_with_ciw() -> None:
    # given the English/Spanish centre in the twin and in Ciw (skilled servers,
    # the same push and pull rules), 40 replications of 8 hours each
    scenario = skills_scenario(seed=31)
    runs = ciw_skills_figures()

    # when the twin runs it (through the general engine)
    result = engine.run(scenario)
    waits = waits_by_process(scenario, result)

    # then per language service level, abandonment and mean wait, the overall
    # mean wait and each agent group's occupancy agree within the intervals
    assert result.engine == engine.GENERAL
    assert disagreements(result, runs, waits) == []
    # and skills show: the bilingual agents, who may take both queues, are busier
    # than either single-language group, clearly beyond the intervals
    occupancy = result.overall.occupancy
    bilingual = occupancy["bilingual"].low
    assert bilingual is not None
    for group in ("en", "es"):
        single = occupancy[group].high
        assert single is not None
        assert bilingual > single, group


def test_ciw_cross_check_fails_a_twin_that_ignores_skills() -> None:
    # given the same centre where every agent speaks both languages
    pooled = skills_scenario(seed=31, pooled=True)

    # when the twin runs it and it is held against Ciw's skilled model
    result = engine.run(pooled)
    wrong = disagreements(result, ciw_skills_figures(), None)

    # then the cross-check catches it: every group's occupancy, and Spanish
    # service level and abandonment, are off
    names = {line.split(":")[0] for line in wrong}
    assert {"en occupancy", "es occupancy", "bilingual occupancy"} <= names
    assert {"es service level", "es abandonment"} <= names


# A shared pool: two processes (skills) served by one pool of agents certified on
# both, told apart by priority; Ciw's stock node runs it (non-preemptive priority
# classes), without the custom routing above.
RATE = {1: 100.0, 2: 60.0}  # arrivals an hour
AHT = {1: 180.0, 2: 300.0}
PATIENCE = {1: 240.0, 2: 600.0}
SERVERS = 11
HORIZON_S = 8 * 3600.0
WARMUP_S = 3600.0
REPLICATIONS = 12


def two_class_scenario(*, seed: int) -> Scenario:
    """Two processes (skills) with their own queues, AHT and patience, served by
    one pool of agents certified on both; process 1 is priority 1, process 2
    priority 3, so a freed agent takes process 1's items first (routing's
    DEFAULT_ORDERING: priority, then due time, then age)."""
    processes = tuple(
        ProcessModel(
            id=pid,
            name=f"class {pid}",
            channel="voice",
            arrivals=(RATE[pid] / 2,),  # per half hour
            aht_s=AHT[pid],
            patience_s=PATIENCE[pid],
            priority_mix={1 if pid == 1 else 3: 1.0},
            sla=(SlaTarget(FIRST_RESPONSE, TARGET_S),),
            queues={"": pid},
        )
        for pid in (1, 2)
    )
    return Scenario(
        name="two classes",
        seed=seed,
        replications=REPLICATIONS,
        horizon_s=HORIZON_S,
        warmup_s=WARMUP_S,
        confidence=0.99,
        processes=processes,
        queues=(
            QueueModel(id=1, process_id=1, channel="voice", required_skills={"billing": 1}),
            QueueModel(id=2, process_id=2, channel="voice", required_skills={"tech": 1}),
        ),
        agents=tuple(
            AgentModel(
                id=i + 1,
                site="main",
                skills={"billing": 2, "tech": 2},
                languages=frozenset({"en"}),
                certified=frozenset({1, 2}),
                capacity={"voice": 1},
            )
            for i in range(SERVERS)
        ),
    )


def ciw_replication(seed: int) -> dict[int, tuple[float, float]]:
    """One Ciw run of the same model: per class (abandon rate, service level) over
    the customers arriving between the warm-up and the horizon."""
    network = ciw.create_network(
        arrival_distributions={f"c{k}": [ciw.dists.Exponential(RATE[k] / 3600.0)] for k in (1, 2)},
        service_distributions={f"c{k}": [ciw.dists.Exponential(1 / AHT[k])] for k in (1, 2)},
        reneging_time_distributions={
            f"c{k}": [ciw.dists.Exponential(1 / PATIENCE[k])] for k in (1, 2)
        },
        priority_classes={"c1": 0, "c2": 1},
        number_of_servers=[SERVERS],
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    # Past the horizon long enough for everyone who arrived by then to be done.
    simulation.simulate_until_max_time(HORIZON_S + 4 * 3600.0)
    out: dict[int, tuple[float, float]] = {}
    for k in (1, 2):
        records = [
            r
            for r in simulation.get_all_records(only=["service", "renege"])
            if r.customer_class == f"c{k}" and WARMUP_S <= r.arrival_date <= HORIZON_S
        ]
        reneged = sum(r.record_type == "renege" for r in records)
        met = sum(r.record_type == "service" and r.waiting_time <= TARGET_S for r in records)
        out[k] = (reneged / len(records), met / len(records))
    return out


def test_shared_pool_with_priorities_agrees_with_ciw() -> None:
    # given the two-class model in the twin and in Ciw, 12 replications each
    scenario = two_class_scenario(seed=21)
    runs = [ciw_replication(seed) for seed in range(100, 100 + REPLICATIONS)]

    # when the twin runs it (through the general engine)
    result = engine.run(scenario)

    # then each class's abandonment and service level agree within the intervals
    assert result.engine == engine.GENERAL
    for k in (1, 2):
        ours_ab = result.overall.abandon_rate_by_process[k]
        ours_sl = result.overall.service_level_by_process[k][FIRST_RESPONSE]
        theirs_ab = stats.estimate([run[k][0] for run in runs], 0.99)
        theirs_sl = stats.estimate([run[k][1] for run in runs], 0.99)
        assert agree(ours_ab, theirs_ab), (k, ours_ab.mean, theirs_ab.mean)
        assert agree(ours_sl, theirs_sl), (k, ours_sl.mean, theirs_sl.mean)
    # and priority shows: class 1 is served better than class 2 in both
    ours = result.overall.service_level_by_process
    assert ours[1][FIRST_RESPONSE].mean > ours[2][FIRST_RESPONSE].mean  # type: ignore[operator]
    assert np.mean([run[1][1] for run in runs]) > np.mean([run[2][1] for run in runs])
