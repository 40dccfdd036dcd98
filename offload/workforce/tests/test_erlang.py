"""The staffing formulas against published values, independent references (the
textbook factorial sums, a log-space Erlang B, a birth-death solution of the M/M/N+M
queue) and each other (the batch against the scalar answer)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from offload.workforce import erlang

# The textbook example: 100 calls in 30 minutes, AHT 180 s (10 Erlangs), 20 s target.
CALLS, INTERVAL, AHT, TARGET = 100, 1800, 180, 20


def textbook_erlang_c(traffic: float, agents: int) -> float:
    """A^N/N! N/(N-A) / (sum_{k<N} A^k/k! + A^N/N! N/(N-A)): fine for small N only."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    return top / (sum(traffic**k / math.factorial(k) for k in range(agents)) + top)


def log_space_erlang_b(traffic: float, agents: int) -> float:
    """B = p(N) / sum_{k<=N} p(k) for Poisson(A) weights p, summed in logs."""
    logs = [k * math.log(traffic) - math.lgamma(k + 1) for k in range(agents + 1)]
    top = max(logs)
    return math.exp(logs[-1] - top - math.log(sum(math.exp(v - top) for v in logs)))


# ------------------------------------------------------------------ Erlang C


def test_erlang_c_published_example():
    # given the textbook queue with 14 agents
    # when its figures are computed
    p_wait = erlang.erlang_c(10, 14)
    sl = erlang.service_level(CALLS, INTERVAL, AHT, 14, TARGET)
    speed = erlang.asa(CALLS, INTERVAL, AHT, 14)
    occ = erlang.occupancy(CALLS, INTERVAL, AHT, 14)
    # then they are the published ones
    assert round(p_wait, 4) == 0.1741
    assert round(sl, 4) == 0.8884
    assert round(speed, 2) == 7.84
    assert round(occ, 3) == 0.714
    # and agree with the factorial formula to float precision
    assert p_wait == pytest.approx(textbook_erlang_c(10, 14), rel=1e-12)
    assert sl == pytest.approx(1 - p_wait * math.exp(-4 * 20 / 180), rel=1e-12)
    assert speed == pytest.approx(p_wait * 180 / 4, rel=1e-12)


def test_agents_required_13_miss_80_20_so_14():
    # given the textbook queue and an 80 % in 20 s target
    # when 13 and 14 agents are tried and the minimum is asked for
    with_13 = erlang.service_level(CALLS, INTERVAL, AHT, 13, TARGET)
    with_14 = erlang.service_level(CALLS, INTERVAL, AHT, 14, TARGET)
    needed = erlang.agents_required(CALLS, INTERVAL, AHT, TARGET, 0.8)
    # then 13 miss it, 14 make it, and 14 is the answer
    assert round(with_13, 4) == 0.7956
    assert with_14 >= 0.8
    assert needed == 14


def test_scheduled_fte_grosses_up_for_shrinkage():
    # given 14 agents on the phones and 30 % shrinkage
    # when scheduled FTE is computed
    # then 20 must be scheduled (14 / 0.7 = 20 exactly, not 21 for float noise)
    assert erlang.scheduled_fte(14, 0.3) == 20
    assert erlang.scheduled_fte(15, 0.3) == 22
    assert erlang.scheduled_fte(14, 0) == 14


def test_erlang_stable_at_900_erlangs_and_950_agents():
    # given a very large queue
    # when Erlang B and C are computed
    b = erlang.erlang_b(900, 950)
    c = erlang.erlang_c(900, 950)
    # then they are finite probabilities equal to the log-space reference
    assert 0 < b < 1
    assert 0 < c < 1
    reference = log_space_erlang_b(900, 950)
    assert b == pytest.approx(reference, rel=1e-10)
    assert c == pytest.approx(950 * reference / (950 - 900 * (1 - reference)), rel=1e-10)
    assert round(c, 6) == 0.062098


def test_erlang_b_for_thousands_of_agents_does_not_underflow_to_nan():
    # given far more agents than traffic
    # when Erlang B is computed
    b = erlang.erlang_b(1, 5000)
    # then it underflows cleanly to zero, and Erlang C with it
    assert b == 0.0
    assert erlang.erlang_c(1, 5000) == 0.0


def test_erlang_c_unstable_queue_always_waits():
    # given no more agents than traffic
    # then every call waits, none is answered in time and the ASA is infinite
    assert erlang.erlang_c(10, 10) == 1.0
    assert erlang.service_level(CALLS, INTERVAL, AHT, 10, TARGET) == 0.0
    assert erlang.asa(CALLS, INTERVAL, AHT, 9) == math.inf
    assert erlang.occupancy(CALLS, INTERVAL, AHT, 9) == 1.0


def test_zero_calls_need_no_agents():
    # given an interval with no calls
    # then no agents are needed and the figures are the trivial ones
    assert erlang.agents_required(0, INTERVAL, AHT, TARGET, 0.8, 0.85) == 0
    assert erlang.service_level(0, INTERVAL, AHT, 0, TARGET) == 1.0
    assert erlang.asa(0, INTERVAL, AHT, 0) == 0.0
    assert erlang.occupancy(0, INTERVAL, AHT, 3) == 0.0
    assert erlang.erlang_c(0, 0) == 0.0


def test_max_occupancy_forces_more_agents_than_the_service_level():
    # given 400 calls of 300 s in 30 minutes (66.7 Erlangs): 74 agents reach 80/20
    # but run at 90 % occupancy
    alone = erlang.agents_required(400, INTERVAL, 300, TARGET, 0.8)
    assert alone == 74
    assert erlang.service_level(400, INTERVAL, 300, 74, TARGET) >= 0.8
    assert erlang.occupancy(400, INTERVAL, 300, 74) > 0.85
    # when occupancy is capped at 85 %
    capped = erlang.agents_required(400, INTERVAL, 300, TARGET, 0.8, max_occupancy=0.85)
    # then the cap binds: 79 = ceil(66.67 / 0.85) agents
    assert capped == 79
    assert erlang.occupancy(400, INTERVAL, 300, 79) <= 0.85
    assert erlang.occupancy(400, INTERVAL, 300, 78) > 0.85


def test_max_occupancy_at_an_exact_boundary_is_met():
    # given 8.5 Erlangs (85 calls of 180 s in 30 minutes) and an 85 % cap: 10 agents
    # run at exactly 85 %, whatever the last bit of 8.5 / 0.85 is
    # when a loose service level leaves the cap to decide
    needed = erlang.agents_required(85, INTERVAL, 180, TARGET, 0.01, max_occupancy=0.85)
    # then 10 agents are enough
    assert needed == 10


def test_service_level_of_one_terminates():
    # given the strictest target: everyone answered at once
    # when the minimum is asked for
    needed = erlang.agents_required(CALLS, INTERVAL, AHT, 0, 1.0)
    # then a finite count is found that rounds P(wait) away entirely
    assert 20 < needed < 60
    assert erlang.service_level(CALLS, INTERVAL, AHT, needed, 0) == 1.0
    assert erlang.service_level(CALLS, INTERVAL, AHT, needed - 1, 0) < 1.0


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"calls": -1}, "calls"),
        ({"interval_s": 0}, "interval_s"),
        ({"aht_s": 0}, "aht_s"),
        ({"aht_s": -5}, "aht_s"),
        ({"target_s": -1}, "target_s"),
        ({"service_level": 0}, "service_level"),
        ({"service_level": 1.2}, "service_level"),
        ({"max_occupancy": 0}, "max_occupancy"),
        ({"max_occupancy": 1.5}, "max_occupancy"),
        ({"calls": math.nan}, "calls"),
        ({"aht_s": math.inf}, "aht_s"),
    ],
)
def test_agents_required_refuses_bad_input_naming_the_argument(kwargs, argument):
    # given one bad argument among good ones
    arguments = {
        "calls": CALLS,
        "interval_s": INTERVAL,
        "aht_s": AHT,
        "target_s": TARGET,
        "service_level": 0.8,
        "max_occupancy": 0.85,
    } | kwargs
    # when the minimum is asked for, alone and as a plan
    # then a ValueError names the argument
    with pytest.raises(ValueError, match=argument):
        erlang.agents_required(**arguments)
    with pytest.raises(ValueError, match=argument):
        erlang.agents_required_plan(**arguments)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: erlang.erlang_b(-1, 3), "traffic"),
        (lambda: erlang.erlang_c(1, -3), "agents"),
        (lambda: erlang.service_level(1, 1800, 180, 2.5, 20), "agents"),  # type: ignore[arg-type]
        (lambda: erlang.scheduled_fte(10, 1), "shrinkage"),
        (lambda: erlang.scheduled_fte(10, -0.1), "shrinkage"),
        (lambda: erlang.erlang_a(1, 1800, 180, 0, 3, 20), "patience_s"),
        (lambda: erlang.erlang_a(1, 1800, 180, 60, 3, -1), "target_s"),
    ],
)
def test_formulas_refuse_bad_input_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# ------------------------------------------------------------------ the batch


def test_plan_answers_each_element_like_the_scalar_function():
    # given a small plan: 2 queues x 3 intervals, one interval without calls
    calls = np.array([[100, 0, 400], [35.5, 250, 20]])
    aht = np.array([[180], [420]])
    # when the plan is answered at once
    plan = erlang.agents_required_plan(calls, 1800, aht, 20, 0.8, 0.85)
    # then it has the plan's shape and each answer is the scalar one
    assert plan.shape == (2, 3)
    assert plan.tolist() == [[14, 0, 48], [12, 69, 8]]
    for (q, i), value in np.ndenumerate(plan):
        assert value == erlang.agents_required(
            float(calls[q, i]), 1800, float(aht[q, 0]), 20, 0.8, 0.85
        )


def test_plan_refuses_arrays_that_do_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        erlang.agents_required_plan([1, 2, 3], 1800, [180, 200], 20, 0.8)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(0, 500, allow_nan=False),  # calls
            st.sampled_from([900, 1800, 3600]),  # interval
            st.floats(10, 900, allow_nan=False),  # AHT
            st.floats(0, 120, allow_nan=False),  # target
        ),
        min_size=1,
        max_size=25,
    ),
    goal=st.floats(0.05, 0.99),
    cap=st.one_of(st.none(), st.floats(0.5, 1.0)),
)
def test_plan_equals_scalar_for_random_inputs(rows, goal, cap):
    # given random queues, a random service level and maybe an occupancy cap
    calls, interval, aht, target = (np.array(column) for column in zip(*rows, strict=True))
    # when the plan is answered at once
    plan = erlang.agents_required_plan(calls, interval, aht, target, goal, cap)
    # then every answer is the scalar answer
    expected = [erlang.agents_required(c, i, a, t, goal, cap) for c, i, a, t in rows]
    assert plan.tolist() == expected


@settings(max_examples=40, deadline=None)
@given(
    calls=st.floats(1, 400),
    aht=st.floats(30, 600),
    target=st.floats(0, 60),
    goal=st.floats(0.1, 0.95),
    cap=st.one_of(st.none(), st.floats(0.6, 1.0)),
)
def test_agents_required_is_the_minimum(calls, aht, target, goal, cap):
    # given a random queue
    # when the minimum is asked for
    n = erlang.agents_required(calls, 1800, aht, target, goal, cap)

    # then n meets the goal and the cap and n - 1 misses one of them
    def meets(agents: int) -> bool:
        sl = erlang.service_level(calls, 1800, aht, agents, target)
        occ_ok = cap is None or calls * aht / 1800 / agents <= cap + 1e-9
        return bool(sl >= goal and occ_ok and agents > calls * aht / 1800)

    assert meets(n)
    assert n == 1 or not meets(n - 1)


# ------------------------------------------------------------------ Erlang A


def birth_death_erlang_a(
    calls: float,
    interval_s: float,
    aht_s: float,
    patience_s: float,
    agents: int,
    target_s: float,
    depth: int = 400,
) -> tuple[float, float, float, float]:
    """M/M/N+M solved directly: the stationary law of the birth-death chain truncated
    `depth` places into the queue, and each waiting arrival's fate from the transient
    law (matrix exponential) of its own place in line."""
    lam, mu, theta = calls / interval_s, 1 / aht_s, 1 / patience_s
    size = agents + depth + 1
    log_weights = np.zeros(size)
    for k in range(1, size):
        death = min(k, agents) * mu + max(k - agents, 0) * theta
        log_weights[k] = log_weights[k - 1] + math.log(lam / death)
    weights = np.exp(log_weights - log_weights.max())
    pi = weights / weights.sum()
    queue = np.maximum(np.arange(size) - agents, 0)
    p_wait = pi[agents:].sum()
    abandon = theta * (queue * pi).sum() / lam
    mean_wait = (queue * pi).sum() / lam
    # A waiting arrival with j ahead: states j..0 ahead, then answered or abandoned.
    answered, gone = depth + 1, depth + 2
    q = np.zeros((depth + 3, depth + 3))
    for j in range(depth + 1):
        if j > 0:
            q[j, j - 1] = agents * mu + j * theta
        else:
            q[j, answered] = agents * mu
        q[j, gone] = theta
        q[j, j] = -q[j].sum()
    in_time = expm(q * target_s)[: depth + 1, answered]
    service_level = pi[:agents].sum() + (pi[agents:] * in_time).sum()
    return float(p_wait), float(abandon), float(service_level), float(mean_wait)


@pytest.mark.parametrize(
    ("calls", "aht", "patience", "agents", "target"),
    [
        (100, 180, 60, 14, 20),
        (100, 180, 60, 8, 20),
        (100, 180, 600, 11, 30),
        (300, 240, 90, 35, 15),
        (50, 300, 30, 5, 0),
    ],
)
def test_erlang_a_matches_the_birth_death_chain(calls, aht, patience, agents, target):
    # given an M/M/N+M queue
    # when Erlang A is computed in closed form
    got = erlang.erlang_a(calls, 1800, aht, patience, agents, target)
    # then it equals the direct solution of the chain
    p_wait, abandon, service_level, mean_wait = birth_death_erlang_a(
        calls, 1800, aht, patience, agents, target
    )
    assert got.p_wait == pytest.approx(p_wait, rel=1e-9)
    assert got.abandon == pytest.approx(abandon, rel=1e-9)
    assert got.service_level == pytest.approx(service_level, rel=1e-8)
    assert got.asa_s == pytest.approx(mean_wait, rel=1e-9)
    carried = calls * aht / 1800 * (1 - abandon)
    assert got.occupancy == pytest.approx(carried / agents, rel=1e-9)


def test_erlang_a_textbook_queue_with_a_minute_of_patience():
    # given the textbook queue, 14 agents and callers who wait 60 s on average
    got = erlang.erlang_a(CALLS, INTERVAL, AHT, 60, 14, TARGET)
    # then fewer wait than in Erlang C, 3 % abandon and more are answered in time
    assert round(got.p_wait, 6) == 0.111527
    assert round(got.abandon, 6) == 0.030322
    assert round(got.service_level, 6) == 0.943776
    assert round(got.asa_s, 4) == 1.8193
    assert got.p_wait < erlang.erlang_c(10, 14)


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    # given ever more patient callers
    c = erlang.erlang_c(10, 14)
    sl = erlang.service_level(CALLS, INTERVAL, AHT, 14, TARGET)
    speed = erlang.asa(CALLS, INTERVAL, AHT, 14)
    for patience in (1e4, 1e5, 1e6, 1e7):
        # when Erlang A is computed
        got = erlang.erlang_a(CALLS, INTERVAL, AHT, patience, 14, TARGET)
        # then it approaches Erlang C as 1 / patience (the gaps times the patience
        # settle near 16 s for P(wait) and 2,860 s^2 for the ASA)
        assert 0 < c - got.p_wait < 17 / patience
        assert 0 < got.service_level - sl < 17 / patience
        assert 0 < speed - got.asa_s < 2900 / patience
        assert 0 < got.abandon < 8 / patience  # abandon = mean wait / patience
    # and infinite patience is Erlang C itself
    assert erlang.erlang_a(CALLS, INTERVAL, AHT, math.inf, 14, TARGET).p_wait == c


def test_erlang_a_stable_for_hundreds_of_agents():
    # given 900 Erlangs with 880 agents (overloaded: only abandonment keeps it
    # stable) and with 950 agents
    over = erlang.erlang_a(5400, INTERVAL, 300, 120, 880, TARGET)
    under = erlang.erlang_a(5400, INTERVAL, 300, 120, 950, TARGET)
    # then every figure is a finite probability, and the closed forms agree with
    # the chain
    for got in (over, under):
        for value in (got.p_wait, got.abandon, got.service_level, got.occupancy):
            assert 0 <= value <= 1  # and so finite, not NaN
    p_wait, abandon, service_level, _ = birth_death_erlang_a(5400, 1800, 300, 120, 880, 20)
    assert over.p_wait == pytest.approx(p_wait, rel=1e-8)
    assert over.abandon == pytest.approx(abandon, rel=1e-8)
    assert over.service_level == pytest.approx(service_level, rel=1e-7)
    assert under.abandon < over.abandon


def test_erlang_a_edges():
    # no calls: nobody waits
    quiet = erlang.erlang_a(0, INTERVAL, AHT, 60, 3, TARGET)
    assert (quiet.p_wait, quiet.abandon, quiet.service_level, quiet.asa_s) == (0, 0, 1, 0)
    # no agents: everybody waits out their patience and leaves
    empty = erlang.erlang_a(CALLS, INTERVAL, AHT, 60, 0, TARGET)
    assert (empty.p_wait, empty.abandon, empty.service_level, empty.asa_s) == (1, 1, 0, 60)
    # far more agents than traffic: the incomplete gamma underflows, the series does not
    idle = erlang.erlang_a(1, INTERVAL, AHT, 600, 400, TARGET)
    assert idle.p_wait == 0.0
    assert idle.service_level == 1.0


def test_erlang_a_with_a_subnormal_erlang_b_does_not_overflow():
    # given 1 Erlang and 171 agents: Erlang B is about 3e-310, below the normal floats
    # (a regression: 1 / (1 + e^z) overflowed in e^z)
    got = erlang.erlang_a(10, INTERVAL, AHT, 60, 171, TARGET)
    # then P(wait) is as tiny, and the rest exact
    assert 0 < got.p_wait < 1e-300
    assert got.service_level == 1.0
    assert got.abandon < 1e-300


@settings(max_examples=80, deadline=None)
@given(
    calls=st.floats(1, 2000),
    aht=st.floats(30, 900),
    patience=st.floats(5, 3600),
    agents=st.integers(1, 400),
    target=st.floats(0, 120),
)
def test_erlang_a_figures_are_consistent(calls, aht, patience, agents, target):
    # given a random M/M/N+M queue
    got = erlang.erlang_a(calls, 1800, aht, patience, agents, target)
    more = erlang.erlang_a(calls, 1800, aht, patience, agents + 1, target)
    # then only callers who wait can abandon, or be answered late
    assert 0 <= got.abandon <= got.p_wait <= 1
    assert 0 <= got.service_level <= 1 - got.abandon + 1e-12
    # and abandonment never makes waiting likelier than Erlang C
    assert got.p_wait <= erlang.erlang_c(calls * aht / 1800, agents) + 1e-12
    # and the mean wait is the abandonment rate over theta (Little's law)
    assert got.asa_s == pytest.approx(got.abandon * patience, rel=1e-12)
    # and one agent more never makes things worse
    assert more.abandon <= got.abandon + 1e-12
    assert more.service_level >= got.service_level - 1e-12
