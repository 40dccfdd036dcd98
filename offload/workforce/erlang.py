"""Pure core (no Django): staffing formulas, Erlang B, C and A.

All times are in seconds. A queue's *traffic* (offered load, in Erlangs) is
`calls * aht_s / interval_s`; its *agents* are the positions answering it.

- Erlang B (`erlang_b`) is computed by its recursion, never as A^N/N!, so it is
  stable to thousands of agents.
- Erlang C (`erlang_c`, `service_level`, `asa`, `occupancy`, `agents_required`)
  is the M/M/N queue: Poisson arrivals, exponential handling, no abandonment.
- Erlang A (`erlang_a`) is the M/M/N+M queue (Palm): callers also abandon after
  an exponentially distributed patience (Garnett, Mandelbaum & Reiman 2002;
  Mandelbaum & Zeltyn). It is computed with regularised incomplete gamma
  functions in logs, so it is stable for hundreds of agents and any patience.
- `agents_required_plan` answers `agents_required` for a whole plan of arrays at
  once: every queue-interval steps its agent count together, one Erlang B
  recursion step per count, all in numpy.
- Shrinkage turns agents into scheduled FTE (`scheduled_fte`) after the queueing
  answer: the queue sees only the agents on the phones.

docs/workforce.md documents every function.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import SupportsIndex

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

# An agent count meets a maximum occupancy when traffic / agents <= max_occupancy
# up to this much float noise: 8.5 Erlangs at 85 % is 10 agents, whatever the last bit
# of 8.5 / 0.85 says.
OCCUPANCY_SLACK = 1e-9
# Below this a regularised incomplete gamma is recomputed from its series (in logs).
TINY = 1e-280

NEGATIVE_CALLS = "calls must be zero or more"
BAD_INTERVAL = "interval_s must be more than zero"
BAD_AHT = "aht_s must be more than zero"
NEGATIVE_TARGET = "target_s must be zero or more"
BAD_SERVICE_LEVEL = "service_level must be more than 0 and at most 1"
BAD_MAX_OCCUPANCY = "max_occupancy must be more than 0 and at most 1"
BAD_PATIENCE = "patience_s must be more than zero"
NEGATIVE_AGENTS = "agents must be a whole number, zero or more"
NEGATIVE_TRAFFIC = "traffic must be zero or more"
BAD_SHRINKAGE = "shrinkage must be at least 0 and less than 1"
NOT_FINITE = "{name} must be a finite number"
SHAPES = "calls, interval_s, aht_s and target_s must broadcast to one shape"


# ------------------------------------------------------------------ validation


def _finite(name: str, value: float) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(NOT_FINITE.format(name=name))
    return number


def _agents(agents: SupportsIndex) -> int:
    if isinstance(agents, bool):
        raise ValueError(NEGATIVE_AGENTS)
    try:
        count = operator.index(agents)
    except TypeError:
        raise ValueError(NEGATIVE_AGENTS) from None
    if count < 0:
        raise ValueError(NEGATIVE_AGENTS)
    return count


def _queue(calls: float, interval_s: float, aht_s: float) -> float:
    """The traffic in Erlangs, after checking each argument."""
    calls = _finite("calls", calls)
    interval_s = _finite("interval_s", interval_s)
    aht_s = _finite("aht_s", aht_s)
    if calls < 0:
        raise ValueError(NEGATIVE_CALLS)
    if interval_s <= 0:
        raise ValueError(BAD_INTERVAL)
    if aht_s <= 0:
        raise ValueError(BAD_AHT)
    return calls * aht_s / interval_s


def _target(target_s: float) -> float:
    target_s = _finite("target_s", target_s)
    if target_s < 0:
        raise ValueError(NEGATIVE_TARGET)
    return target_s


def _fraction(value: float, message: str) -> float:
    if not math.isfinite(float(value)) or not 0 < value <= 1:
        raise ValueError(message)
    return float(value)


# ------------------------------------------------------------------ Erlang B and C


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability of `agents` servers offered `traffic` Erlangs (M/M/N/N).

    The recursion B(n) = A B(n-1) / (n + A B(n-1)), B(0) = 1: every step is in
    [0, 1], so nothing overflows at any size.
    """
    traffic = _finite("traffic", traffic)
    if traffic < 0:
        raise ValueError(NEGATIVE_TRAFFIC)
    agents = _agents(agents)
    b = 1.0
    for n in range(1, agents + 1):
        ab = traffic * b
        b = ab / (n + ab)
    return b


def _c_from_b(traffic: float, agents: int, b: float) -> float:
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    return agents * b / (agents - traffic * (1 - b))


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a call waits (M/M/N): 1 when agents <= traffic, 0 with no traffic."""
    b = erlang_b(traffic, agents)
    return _c_from_b(float(traffic), int(agents), b)


def _sl(traffic: float, agents: int, aht_s: float, target_s: float, c: float) -> float:
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return max(0.0, 1.0 - c * math.exp(-(agents - traffic) * (target_s / aht_s)))


def service_level(
    calls: float, interval_s: float, aht_s: float, agents: int, target_s: float
) -> float:
    """Fraction of calls answered within `target_s` (Erlang C): 1 - C e^-(N-A)t/AHT."""
    traffic = _queue(calls, interval_s, aht_s)
    target_s = _target(target_s)
    agents = _agents(agents)
    return _sl(traffic, agents, float(aht_s), target_s, erlang_c(traffic, agents))


def asa(calls: float, interval_s: float, aht_s: float, agents: int) -> float:
    """Average speed of answer in seconds (Erlang C): C AHT / (N - A); infinite when N <= A."""
    traffic = _queue(calls, interval_s, aht_s)
    agents = _agents(agents)
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return erlang_c(traffic, agents) * float(aht_s) / (agents - traffic)


def occupancy(calls: float, interval_s: float, aht_s: float, agents: int) -> float:
    """Fraction of the agents' time spent handling calls: A / N, at most 1.

    No agents: 0 with no calls, else 1 (the queue grows without bound).
    """
    traffic = _queue(calls, interval_s, aht_s)
    agents = _agents(agents)
    if traffic == 0:
        return 0.0
    if agents == 0:
        return 1.0
    return min(1.0, traffic / agents)


def _occupancy_floor(traffic: float, max_occupancy: float | None) -> int:
    """The fewest agents whose occupancy is at most `max_occupancy`."""
    if max_occupancy is None:
        return 0
    return max(0, math.ceil(traffic / max_occupancy - OCCUPANCY_SLACK))


def agents_required(
    calls: float,
    interval_s: float,
    aht_s: float,
    target_s: float,
    service_level: float,
    max_occupancy: float | None = None,
) -> int:
    """The fewest agents that answer `service_level` of the calls within `target_s`
    (Erlang C) with occupancy at most `max_occupancy` (if given). No calls: 0.

    Steps up from the first stable count (more agents than traffic) with the Erlang B
    recursion, so each step costs O(1).
    """
    traffic = _queue(calls, interval_s, aht_s)
    target_s = _target(target_s)
    goal = _fraction(service_level, BAD_SERVICE_LEVEL)
    cap = None if max_occupancy is None else _fraction(max_occupancy, BAD_MAX_OCCUPANCY)
    if traffic == 0:
        return 0
    rate = target_s / float(aht_s)
    start = max(math.floor(traffic) + 1, _occupancy_floor(traffic, cap))
    b = 1.0
    n = 0
    while True:
        n += 1
        ab = traffic * b
        b = ab / (n + ab)
        if n < start:
            continue
        c = n * b / (n - traffic * (1 - b))
        if 1.0 - c * math.exp(-(n - traffic) * rate) >= goal:
            return n


def scheduled_fte(agents: int, shrinkage: float) -> int:
    """Agents grossed up for shrinkage (breaks, training, absence): ceil(N / (1 - s))."""
    agents = _agents(agents)
    shrinkage = _finite("shrinkage", shrinkage)
    if not 0 <= shrinkage < 1:
        raise ValueError(BAD_SHRINKAGE)
    # The slack keeps 14 / 0.7 at 20, not 21 for the last bit of 0.7.
    return math.ceil(agents / (1 - shrinkage) - OCCUPANCY_SLACK)


# ------------------------------------------------------------------ the batch


def _array(name: str, values: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(NOT_FINITE.format(name=name))
    return array


def agents_required_plan(
    calls: ArrayLike,
    interval_s: ArrayLike,
    aht_s: ArrayLike,
    target_s: ArrayLike,
    service_level: float,
    max_occupancy: float | None = None,
) -> NDArray[np.int64]:
    """`agents_required` for every element of a plan (queues x intervals, any shape;
    the arguments broadcast together), in one pass.

    Two vectorised passes of the Erlang B recursion, each step one numpy operation
    over many elements: first every element steps up to its first candidate count
    (more agents than traffic, and enough for the occupancy cap), leaving the
    recursion there; then all of them step their own count up together, and each is
    answered, and drops out, at the first count that reaches the service level. The
    arithmetic is the scalar function's, operation for operation.
    """
    calls_a = _array("calls", calls)
    interval_a = _array("interval_s", interval_s)
    aht_a = _array("aht_s", aht_s)
    target_a = _array("target_s", target_s)
    if np.any(calls_a < 0):
        raise ValueError(NEGATIVE_CALLS)
    if np.any(interval_a <= 0):
        raise ValueError(BAD_INTERVAL)
    if np.any(aht_a <= 0):
        raise ValueError(BAD_AHT)
    if np.any(target_a < 0):
        raise ValueError(NEGATIVE_TARGET)
    goal = _fraction(service_level, BAD_SERVICE_LEVEL)
    cap = None if max_occupancy is None else _fraction(max_occupancy, BAD_MAX_OCCUPANCY)
    try:
        calls_b, interval_b, aht_b, target_b = np.broadcast_arrays(
            calls_a, interval_a, aht_a, target_a
        )
    except ValueError:
        raise ValueError(SHAPES) from None
    shape = calls_b.shape
    traffic_all = (calls_b * aht_b / interval_b).ravel()
    rate_all = (target_b / aht_b).ravel()  # the exponent's rate per agent above traffic
    answer = np.zeros(traffic_all.size, dtype=np.int64)

    lanes = np.flatnonzero(traffic_all > 0)
    if not lanes.size:
        return answer.reshape(shape)
    traffic = traffic_all[lanes]
    start = np.floor(traffic) + 1
    if cap is not None:
        start = np.maximum(start, np.ceil(traffic / cap - OCCUPANCY_SLACK))
    # Sorted by first count, the lanes still below theirs are always a tail.
    order = np.argsort(start, kind="stable")
    lanes, traffic, start = lanes[order], traffic[order], start[order]
    rate = rate_all[lanes]

    # Erlang B up to each lane's first count; a lane leaves at its own.
    b = np.ones(traffic.size)
    last = int(start[-1])
    leave = np.searchsorted(start, np.arange(1, last + 1), side="right")
    frozen = 0
    for n in range(1, last + 1):
        ab = traffic[frozen:] * b[frozen:]
        b[frozen:] = ab / (n + ab)
        frozen = int(leave[n - 1])

    # From there every lane steps its own count up together, until it is met.
    counts = start.copy()
    while lanes.size:
        c = counts * b / (counts - traffic * (1 - b))
        met = 1.0 - c * np.exp(-(counts - traffic) * rate) >= goal
        if met.any():
            answer[lanes[met]] = counts[met]
            keep = ~met
            lanes, traffic, rate, b = lanes[keep], traffic[keep], rate[keep], b[keep]
            counts = counts[keep]
        counts = counts + 1
        ab = traffic * b
        b = ab / (counts + ab)
    return answer.reshape(shape)


# ------------------------------------------------------------------ Erlang A


@dataclass(frozen=True, slots=True)
class ErlangA:
    """The M/M/N+M queue's figures, each over all arrivals.

    p_wait: probability an arrival finds every agent busy (it waits, or abandons).
    abandon: probability an arrival abandons before it is answered.
    service_level: probability an arrival is answered within the target.
    asa_s: mean time in queue in seconds (answered or not), = abandon x patience.
    occupancy: fraction of the agents' time spent on answered calls.
    """

    p_wait: float
    abandon: float
    service_level: float
    asa_s: float
    occupancy: float


def _log_p(a: float, z: float) -> float:
    """log P(a, z), the regularised lower incomplete gamma, without underflow.

    scipy's value when it is not tiny, else its series
    P(a, z) = z^a e^-z / Gamma(a+1) * sum_k z^k / ((a+1)...(a+k)), summed in floats
    (it converges fast exactly when P is tiny: z well below a).
    """
    if z <= 0:
        return -math.inf
    p = float(special.gammainc(a, z))
    if p > TINY:
        return math.log(p)
    total, term, k = 1.0, 1.0, 0
    while term > total * 1e-17:
        k += 1
        term *= z / (a + k)
        total += term
    return a * math.log(z) - z - float(special.gammaln(a + 1)) + math.log(total)


def erlang_a(
    calls: float,
    interval_s: float,
    aht_s: float,
    patience_s: float,
    agents: int,
    target_s: float,
) -> ErlangA:
    """Erlang A (M/M/N+M): Erlang C with callers who abandon after an exponential
    patience of mean `patience_s` (infinite patience is Erlang C).

    With rate lambda = calls / interval, mu = 1 / AHT, theta = 1 / patience,
    x = N mu / theta, y = lambda / theta, E = Erlang B(lambda / mu, N), and
    A(x, y) = x e^y y^-x gamma(x, y) = 1 + sum_j y^j / ((x+1)...(x+j)):

        P(wait)   = E A / (1 + (A - 1) E)
        P(ab)     = P(wait) (1 - (1 - 1/A) x / y)
        P(V > t)  = P(wait) P(x, y e^-theta t) / P(x, y)       (virtual wait)
        answered within t = 1 - P(ab) - P(wait) (x / y) P(x+1, y e^-theta t) / P(x, y)
        E[wait]   = P(ab) / theta

    with P the regularised lower incomplete gamma (computed in logs).
    """
    traffic = _queue(calls, interval_s, aht_s)
    patience = float(patience_s)
    if math.isnan(patience) or patience <= 0:
        raise ValueError(BAD_PATIENCE)
    agents = _agents(agents)
    target_s = _target(target_s)
    aht = float(aht_s)
    if traffic == 0:
        return ErlangA(p_wait=0.0, abandon=0.0, service_level=1.0, asa_s=0.0, occupancy=0.0)
    if math.isinf(patience):
        c = erlang_c(traffic, agents)
        return ErlangA(
            p_wait=c,
            abandon=0.0,
            service_level=_sl(traffic, agents, aht, target_s, c),
            asa_s=asa(calls, interval_s, aht_s, agents),
            occupancy=occupancy(calls, interval_s, aht_s, agents),
        )
    if agents == 0:
        # Nobody answers: every caller waits out their patience and leaves.
        return ErlangA(p_wait=1.0, abandon=1.0, service_level=0.0, asa_s=patience, occupancy=0.0)

    x = agents * patience / aht
    y = float(calls) / float(interval_s) * patience
    e = erlang_b(traffic, agents)
    log_p_xy = _log_p(x, y)
    # log A(x, y) = y - x log y + log Gamma(x+1) + log P(x, y)
    log_a = y - x * math.log(y) + float(special.gammaln(x + 1)) + log_p_xy
    if e == 0:
        p_wait = 0.0
    elif e == 1:
        p_wait = 1.0
    else:
        # E A / (1 + (A-1) E) = 1 / (1 + e^z), z = log((1-E) / (E A)): in logs so a
        # huge A or a tiny E is fine, and as a logistic that cannot overflow.
        z = math.log1p(-e) - math.log(e) - log_a
        p_wait = 1.0 / (1.0 + math.exp(z)) if z <= 0 else math.exp(-z) / (1.0 + math.exp(-z))
    inv_a = math.exp(-log_a)
    abandon_if_wait = min(1.0, max(0.0, 1.0 - (1.0 - inv_a) * x / y))
    abandon = p_wait * abandon_if_wait
    w = y * math.exp(-target_s / patience)
    late = 0.0
    if w > 0 and p_wait > 0:
        late = p_wait * (x / y) * math.exp(_log_p(x + 1, w) - log_p_xy)
    answered_in_time = min(1.0, max(0.0, 1.0 - abandon - late))
    return ErlangA(
        p_wait=p_wait,
        abandon=abandon,
        service_level=answered_in_time,
        asa_s=abandon * patience,
        occupancy=min(1.0, traffic * (1.0 - abandon) / agents),
    )
