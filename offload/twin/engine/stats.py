"""From one replication's per-item outcomes to its `Stats`, and from replications to
means with confidence intervals (pure, numpy). Both engines end here, so their
figures are computed by the same code.

Counting rules (docs/twin.md says the same):

- an item counts when it arrives at or after the warm-up; the interval it arrived
  in holds its arrival, answer, abandonment, service level and wait;
- service level per metric = counted items meeting their target / counted items
  with a target for that metric (an abandoned or unfinished item misses);
- occupancy per site = busy slot-seconds / staffed slot-seconds, staffed being the
  agents' shift windows less breaks times their slots (on the channels they may
  work), plus the time they spend
  finishing held work outside those windows (so it never exceeds 1); overall over
  [warm-up, end of run], per interval over the interval;
- backlog at an interval's end = items waiting (for a human or a bot) then;
- cost per item = agents' paid cost after the warm-up / counted items completed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from offload.twin.engine.model import Estimate, IntervalStats, Stats, Summary

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass
class Coverage:
    """Weighted spans [start, end): busy segments or staffed windows of one site."""

    start: Floats
    end: Floats
    weight: Floats

    @classmethod
    def of(cls, spans: Sequence[tuple[float, float, float]]) -> Coverage:
        if not spans:
            return cls(np.empty(0), np.empty(0), np.empty(0))
        a = np.asarray(spans, dtype=float)
        return cls(a[:, 0], a[:, 1], a[:, 2])

    def upto(self, t: Floats) -> Floats:
        """Weighted length covered in [-inf, t] for each t (vectorised)."""
        if len(self.start) == 0:
            return np.zeros(len(t))
        s, ws = _sorted(self.start, self.weight)
        e, we = _sorted(self.end, self.weight)
        ps_w = np.concatenate([[0.0], np.cumsum(ws)])
        ps_ws = np.concatenate([[0.0], np.cumsum(ws * s)])
        pe_w = np.concatenate([[0.0], np.cumsum(we)])
        pe_we = np.concatenate([[0.0], np.cumsum(we * e)])
        i = np.searchsorted(s, t, side="right")
        j = np.searchsorted(e, t, side="right")
        out: Floats = (ps_w[i] * t - ps_ws[i]) - (pe_w[j] * t - pe_we[j])
        return out


def _sorted(values: Floats, weights: Floats) -> tuple[Floats, Floats]:
    """Values in ascending order with their weights (no sort when already in order,
    as the fast kernel's starts are)."""
    if len(values) < 2 or bool(np.all(values[1:] >= values[:-1])):
        return values, weights
    order = np.argsort(values, kind="stable")
    return values[order], weights[order]


def _ascending(values: Floats) -> Floats:
    if len(values) < 2 or bool(np.all(values[1:] >= values[:-1])):
        return values
    out: Floats = np.sort(values)
    return out


@dataclass
class Outcomes:
    """Per item, in any order (all of a replication's items, warm-up included)."""

    arrival: Floats
    process: Ints  # index into the scenario's processes
    answered_at: Floats  # nan: never taken
    abandoned: Bools
    done_at: Floats  # nan: never completed
    met: Mapping[str, Bools]  # per metric: the target was met
    targeted: Mapping[str, Bools]  # per metric: the item had a target
    wait_enter: Floats  # waiting spells (an item may wait twice: bot, then human)
    wait_leave: Floats  # inf: still waiting when the run stopped


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den > 0 else None


def replication_stats(
    *,
    outcomes: Outcomes,
    process_ids: Sequence[int],
    metrics: Sequence[str],
    busy: Mapping[str, Coverage],
    staffed: Mapping[str, Coverage],
    paid_cost: float,
    warmup_s: float,
    horizon: float,
    end: float,
    interval_s: float,
) -> Stats:
    o = outcomes
    counted = o.arrival >= warmup_s
    arrivals = int(counted.sum())
    answered_mask = counted & ~np.isnan(o.answered_at)
    abandoned_mask = counted & o.abandoned
    done_mask = counted & ~np.isnan(o.done_at)
    answered = int(answered_mask.sum())
    waits = (o.answered_at - o.arrival)[answered_mask]

    def levels(mask: Bools) -> dict[str, float | None]:
        return {
            m: _ratio(float((o.met[m] & mask).sum()), float((o.targeted[m] & mask).sum()))
            for m in metrics
        }

    by_process = {pid: levels(counted & (o.process == i)) for i, pid in enumerate(process_ids)}
    abandon_by_process = {
        pid: _ratio(
            float((abandoned_mask & (o.process == i)).sum()),
            float((counted & (o.process == i)).sum()),
        )
        for i, pid in enumerate(process_ids)
    }

    # Intervals over the arrivals' horizon.
    n_bins = max(1, math.ceil(horizon / interval_s)) if horizon > 0 else 1
    edges = np.arange(n_bins + 1, dtype=float) * interval_s
    bin_of = np.floor(o.arrival / interval_s).astype(np.int64)
    in_bins = counted & (bin_of < n_bins)

    def per_bin(mask: Bools, weights: Floats | None = None) -> Floats:
        out: Floats = np.bincount(
            bin_of[mask], weights=None if weights is None else weights[mask], minlength=n_bins
        )[:n_bins].astype(float)
        return out

    b_arr = per_bin(in_bins)
    b_ans = per_bin(in_bins & answered_mask)
    b_ab = per_bin(in_bins & abandoned_mask)
    wait_all = np.where(answered_mask, o.answered_at - o.arrival, 0.0)
    b_wait = per_bin(in_bins & answered_mask, wait_all)
    b_met = {m: per_bin(in_bins & o.met[m]) for m in metrics}
    b_tgt = {m: per_bin(in_bins & o.targeted[m]) for m in metrics}
    lo = np.maximum(edges, warmup_s)
    b_busy = {s: np.diff(busy[s].upto(edges)) for s in staffed}
    b_staff = {s: np.diff(staffed[s].upto(edges)) for s in staffed}
    # Backlog at each interval's end.
    enter = _ascending(o.wait_enter)
    leave = _ascending(o.wait_leave)
    backlog = (
        np.searchsorted(enter, edges[1:], side="right")
        - np.searchsorted(leave, edges[1:], side="right")
    ).astype(float)
    # Plain lists: indexing them is much cheaper than indexing numpy arrays.
    starts, arr, ans, ab, wt = (x.tolist() for x in (edges, b_arr, b_ans, b_ab, b_wait))
    met_l = {m: b_met[m].tolist() for m in metrics}
    tgt_l = {m: b_tgt[m].tolist() for m in metrics}
    busy_l = {s: b_busy[s].tolist() for s in staffed}
    staff_l = {s: b_staff[s].tolist() for s in staffed}
    backlog_l = backlog.tolist()
    intervals = tuple(
        IntervalStats(
            start_s=starts[k],
            arrivals=arr[k],
            answered=ans[k],
            abandoned=ab[k],
            abandon_rate=_ratio(ab[k], arr[k]),
            asa_s=_ratio(wt[k], ans[k]),
            service_level={m: _ratio(met_l[m][k], tgt_l[m][k]) for m in metrics},
            occupancy={s: _ratio(busy_l[s][k], staff_l[s][k]) for s in staffed},
            backlog=backlog_l[k],
        )
        for k in range(n_bins)
        if starts[k + 1] > lo[0] or warmup_s <= 0
    )

    span = np.asarray([warmup_s, end], dtype=float)
    occupancy: dict[str, float | None] = {}
    for site, cover in staffed.items():
        s0, s1 = cover.upto(span)
        b0, b1 = busy[site].upto(span)
        occupancy[site] = _ratio(b1 - b0, s1 - s0)
    completed = int(done_mask.sum())
    return Stats(
        arrivals=arrivals,
        answered=answered,
        abandoned=int(abandoned_mask.sum()),
        completed=completed,
        unfinished=arrivals - completed - int(abandoned_mask.sum()),
        abandon_rate=_ratio(float(abandoned_mask.sum()), arrivals),
        asa_s=float(waits.mean()) if answered else None,
        service_level=levels(counted),
        service_level_by_process=by_process,
        occupancy=occupancy,
        cost_per_item=_ratio(paid_cost, completed),
        abandon_rate_by_process=abandon_by_process,
        intervals=intervals,
    )


# ---------------------------------------------------------------------- summary


def estimate(values: Sequence[float | None], confidence: float) -> Estimate:
    """Mean of the replications' values and the t-distribution half width."""
    known = [float(v) for v in values if v is not None]
    if not known:
        return Estimate(None, None, tuple(values))
    mean = sum(known) / len(known)
    half: float | None = None
    if len(known) >= 2:
        sd = float(np.std(known, ddof=1))
        # Imported here: scipy.stats takes half a second to import, and every process
        # that loads Django reaches this module; only a finished run needs it.
        from scipy import stats as sps

        q = float(sps.t.ppf((1 + confidence) / 2, len(known) - 1))
        half = q * sd / math.sqrt(len(known))
    return Estimate(mean, half, tuple(values))


def summarise(reps: Sequence[Stats], confidence: float) -> Summary:
    def est(pick: list[float | None]) -> Estimate:
        return estimate(pick, confidence)

    metrics = list(reps[0].service_level) if reps else []
    sites = list(reps[0].occupancy) if reps else []
    pids = list(reps[0].service_level_by_process) if reps else []
    return Summary(
        arrivals=est([float(r.arrivals) for r in reps]),
        answered=est([float(r.answered) for r in reps]),
        abandoned=est([float(r.abandoned) for r in reps]),
        abandon_rate=est([r.abandon_rate for r in reps]),
        asa_s=est([r.asa_s for r in reps]),
        service_level={m: est([r.service_level[m] for r in reps]) for m in metrics},
        service_level_by_process={
            p: {m: est([r.service_level_by_process[p][m] for r in reps]) for m in metrics}
            for p in pids
        },
        occupancy={s: est([r.occupancy[s] for r in reps]) for s in sites},
        cost_per_item=est([r.cost_per_item for r in reps]),
        abandon_rate_by_process={
            p: est([r.abandon_rate_by_process[p] for r in reps]) for p in pids
        },
    )


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def mean_intervals(reps: Sequence[Stats]) -> tuple[IntervalStats, ...]:
    """Interval by interval, the mean over replications (intervals line up: they
    start at 0 and have the same length; a shorter replication's missing ones are
    skipped)."""
    longest = max((len(r.intervals) for r in reps), default=0)
    out: list[IntervalStats] = []
    for k in range(longest):
        rows = [r.intervals[k] for r in reps if k < len(r.intervals)]
        first = rows[0]
        out.append(
            IntervalStats(
                start_s=first.start_s,
                arrivals=sum(x.arrivals for x in rows) / len(rows),
                answered=sum(x.answered for x in rows) / len(rows),
                abandoned=sum(x.abandoned for x in rows) / len(rows),
                abandon_rate=_mean([x.abandon_rate for x in rows]),
                asa_s=_mean([x.asa_s for x in rows]),
                service_level={
                    m: _mean([x.service_level[m] for x in rows]) for m in first.service_level
                },
                occupancy={s: _mean([x.occupancy[s] for x in rows]) for s in first.occupancy},
                backlog=sum(x.backlog for x in rows) / len(rows),
            )
        )
    return tuple(out)
