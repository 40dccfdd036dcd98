"""Pure core (no Django): forecasts of a 30-minute series (volume, or handle time).

Two models, chosen per series by a backtest:

- **seasonal naive**: each interval repeats the same interval one week before;
- **MSTL**: the series split into a daily (48) and a weekly (336) seasonal component
  plus trend and remainder (`statsmodels.tsa.seasonal.MSTL`); the seasonal components
  go on as seasonal naive of themselves, the rest (trend + remainder) as a damped
  additive-trend exponential smoothing (Holt), and the forecast is their sum.

The backtest holds out the last week, fits each candidate on what comes before and
scores it by WAPE (sum of absolute errors over the sum of actuals); the lowest wins,
seasonal naive on a tie (the simpler model). Negative values are clamped to 0.

Too little history for that (docs/forecasting.md):

- MSTL needs more than two full weeks to fit (statsmodels drops a period that is not
  under half the series), so more than three weeks (two and a bit to fit, one held
  out) before it is a candidate; with less, seasonal naive is the only model;
- under one week: the same interval of the last day (daily naive);
- under one day: the flat mean of what exists (0 for nothing).

A series may have gaps (NaN): handle time is unknown in an interval nothing was
handled in. The models fit on the series with each gap filled by the mean of the
known values; WAPE is scored on the intervals whose actual is known.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

DAY = 48  # 30-minute intervals in a day
WEEK = 7 * DAY  # ... in a week
HOLDOUT = WEEK
MSTL_MIN = 2 * WEEK + 1  # intervals MSTL needs to keep its weekly period

SEASONAL_NAIVE = "seasonal_naive"
MSTL = "mstl"
DAILY_NAIVE = "daily_naive"
FLAT_MEAN = "flat_mean"
MODELS = (SEASONAL_NAIVE, MSTL, DAILY_NAIVE, FLAT_MEAN)

Model = Callable[[Array, int], Array]

# STL's LOESS evaluated every 10th point of the trend and low-pass smoothers and
# interpolated between (Cleveland et al.'s "jumps"): 7-15 times faster on 8 weeks of
# intervals, the components within 0.002 (trend) and 0.03 (seasons) of the full
# computation on a series of 0-40 items an interval (offload bench forecast).
STL_KWARGS = {"trend_jump": 10, "low_pass_jump": 10}


def _as_array(values: Sequence[float] | Array) -> Array:
    return np.asarray(values, dtype=np.float64)


def fill_gaps(history: Sequence[float] | Array) -> Array:
    """The series with each NaN replaced by the mean of its known values (0 if none)."""
    values = _as_array(history).copy()
    known = ~np.isnan(values)
    values[~known] = float(values[known].mean()) if known.any() else 0.0
    return values


def seasonal_naive(history: Array, horizon: int, period: int = WEEK) -> Array:
    """Each coming interval equals the one `period` intervals before (repeated)."""
    last = history[-period:]
    return np.resize(last, horizon).astype(np.float64)


def daily_naive(history: Array, horizon: int) -> Array:
    return seasonal_naive(history, horizon, DAY)


def flat_mean(history: Array, horizon: int) -> Array:
    level = float(history.mean()) if len(history) else 0.0
    return np.full(horizon, level, dtype=np.float64)


def mstl(history: Array, horizon: int) -> Array:
    """MSTL with daily and weekly seasons; seasonal naive seasons + Holt on the rest."""
    from statsmodels.tsa import seasonal as decompositions
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    if len(history) < MSTL_MIN:
        raise ValueError(f"MSTL needs at least {MSTL_MIN} intervals, got {len(history)}")
    result = decompositions.MSTL(history, periods=(DAY, WEEK), stl_kwargs=STL_KWARGS).fit()
    seasonal = np.asarray(result.seasonal, dtype=np.float64)  # columns: daily, weekly
    ahead = seasonal_naive(seasonal[:, 0], horizon, DAY) + seasonal_naive(
        seasonal[:, 1], horizon, WEEK
    )
    rest = np.asarray(result.trend, dtype=np.float64) + np.asarray(result.resid, dtype=np.float64)
    with warnings.catch_warnings():
        # The optimiser's convergence notes are not the caller's business: the
        # backtest judges the result.
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(rest, trend="add", damped_trend=True).fit()
        level = np.asarray(fitted.forecast(horizon), dtype=np.float64)
    return ahead + level


CANDIDATES: dict[str, Model] = {SEASONAL_NAIVE: seasonal_naive, MSTL: mstl}


def wape(actual: Sequence[float] | Array, forecast: Sequence[float] | Array) -> float | None:
    """Sum of absolute errors over the sum of absolute actuals, on intervals whose
    actual is known (not NaN); None when those actuals sum to 0."""
    a, f = _as_array(actual), _as_array(forecast)
    known = ~np.isnan(a)
    total = float(np.abs(a[known]).sum())
    if total == 0:
        return None
    return float(np.abs(a[known] - f[known]).sum() / total)


def clamp(values: Array) -> Array:
    return np.maximum(values, 0.0)


def backtest(
    history: Sequence[float] | Array, model: Model, holdout: int = HOLDOUT
) -> float | None:
    """WAPE of `model` fitted on all but the last `holdout` intervals, on those."""
    values = _as_array(history)
    train, test = fill_gaps(values[:-holdout]), values[-holdout:]
    return wape(test, clamp(model(train, holdout)))


@dataclass(frozen=True)
class SeriesForecast:
    values: Array  # the next `horizon` intervals, >= 0
    model: str  # one of MODELS
    wape: float | None  # the chosen model's backtest WAPE (None: no backtest, or no actuals)
    backtest: dict[str, float | None] = field(default_factory=dict)  # WAPE per candidate


def candidates_for(length: int, holdout: int = HOLDOUT) -> list[str]:
    """The models a series of `length` intervals can be backtested with."""
    if length < WEEK + holdout:
        return []
    out = [SEASONAL_NAIVE]
    if length >= MSTL_MIN + holdout:
        out.append(MSTL)
    return out


def _rank(score: float | None) -> float:
    return np.inf if score is None else score


def forecast_series(
    history: Sequence[float] | Array, horizon: int, *, holdout: int = HOLDOUT
) -> SeriesForecast:
    """The next `horizon` intervals after `history`, by the model that backtests best."""
    values = _as_array(history)
    filled = fill_gaps(values)
    names = candidates_for(len(values), holdout)
    if not names:
        if len(values) >= WEEK:
            name, model = SEASONAL_NAIVE, CANDIDATES[SEASONAL_NAIVE]
        elif len(values) >= DAY:
            name, model = DAILY_NAIVE, daily_naive
        else:
            name, model = FLAT_MEAN, flat_mean
        return SeriesForecast(clamp(model(filled, horizon)), name, None, {})
    scores = {name: backtest(values, CANDIDATES[name], holdout) for name in names}
    # Lowest WAPE wins; names are in order of simplicity, and min keeps the first on a tie.
    best = min(names, key=lambda n: _rank(scores[n]))
    return SeriesForecast(clamp(CANDIDATES[best](filled, horizon)), best, scores[best], scores)


# ------------------------------------------------------------------ intraday

RATIO_MIN = 0.25
RATIO_MAX = 4.0


@dataclass(frozen=True)
class Reforecast:
    ratio: float  # actual over forecast arrivals in the elapsed intervals (clamped)
    values: Array  # the day's intervals: actuals so far, the scaled forecast after


def reforecast_rest(
    forecast: Sequence[float] | Array, actual: Sequence[float] | Array, elapsed: int
) -> Reforecast:
    """The rest of the day, re-forecast from how the day has gone so far.

    The first `elapsed` intervals are over: they keep their actuals. The remaining
    forecast is scaled by actual / forecast arrivals of the elapsed intervals,
    clamped to [RATIO_MIN, RATIO_MAX] so one odd early interval cannot wreck the day;
    1 when nothing has elapsed or nothing was forecast so far.
    """
    f, a = _as_array(forecast), _as_array(actual)
    if not 0 <= elapsed <= len(f):
        raise ValueError(f"elapsed must be from 0 to {len(f)}, got {elapsed}")
    expected = float(f[:elapsed].sum())
    ratio = float(a[:elapsed].sum()) / expected if elapsed and expected > 0 else 1.0
    ratio = min(max(ratio, RATIO_MIN), RATIO_MAX)
    values = np.concatenate([a[:elapsed], f[elapsed:] * ratio])
    return Reforecast(ratio, values)


# ------------------------------------------------------------------ intervals and adjustments

INTERVAL = timedelta(minutes=30)


def interval_floor(moment: datetime) -> datetime:
    """The start of the 30-minute interval `moment` falls in (same time zone)."""
    return moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)


def interval_starts(start: datetime, end: datetime) -> list[datetime]:
    """Every interval start from `start` (aligned) up to, not including, `end`."""
    out, at = [], interval_floor(start)
    while at < end:
        out.append(at)
        at += INTERVAL
    return out


PERCENT = "percent"
ABSOLUTE = "absolute"


@dataclass(frozen=True)
class Adjustment:
    start: datetime
    end: datetime  # exclusive
    kind: str  # PERCENT or ABSOLUTE
    value: float  # +30 (percent) means 30 % more; absolute is added to each interval


def adjust(
    base: Sequence[float] | Array, starts: Sequence[datetime], adjustments: Sequence[Adjustment]
) -> Array:
    """`base` with every adjustment covering an interval applied: the percents
    multiply together, then the absolutes add; never below 0.

    Two campaigns on one day (+30 % and +10 %) make 1.3 x 1.1 = +43 %; a percent and
    an absolute on one interval give base x (1 + p/100) + a, whatever their order.
    """
    values = _as_array(base)
    factor = np.ones(len(values))
    delta = np.zeros(len(values))
    at = np.array([s.timestamp() for s in starts])
    for adj in adjustments:
        covered = (at >= adj.start.timestamp()) & (at < adj.end.timestamp())
        if adj.kind == PERCENT:
            factor[covered] *= 1 + adj.value / 100
        else:
            delta[covered] += adj.value
    return clamp(values * factor + delta)
