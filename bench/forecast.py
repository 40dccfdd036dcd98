"""`offload bench forecast [REPEATS]`: what one forecast series costs, and what STL's
jumps save.

Eight weeks (2,688 intervals) of a seeded series with a daily wave, quieter
weekends, a slow trend and Poisson noise (numpy `default_rng(20261123)`). Timed,
REPEATS times each (default 5), the median counting:

- `forecasting.forecast_series(history, 336)`: the backtest of both candidates on
  the held-out week, then the winner fitted on everything (what a forecast does per
  series; two series per process);
- `forecasting.mstl` alone, with the STL jumps the module uses;
- the same decomposition with statsmodels' defaults (every point smoothed), and the
  largest difference between the two decompositions' components.

Pure: no database is read.
"""

from __future__ import annotations

import json
import statistics
import sys
import warnings
from collections.abc import Callable
from time import perf_counter

import numpy as np
from statsmodels.tsa import seasonal as decompositions

from offload.workforce import forecasting

SEED = 20261123
WEEKS = 8
DEFAULT_REPEATS = 5


def history(seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(WEEKS * forecasting.WEEK)
    day = 1 + 0.9 * np.sin(2 * np.pi * ((t % forecasting.DAY) - 12) / forecasting.DAY)
    week = np.where((t // forecasting.DAY) % 7 >= 5, 0.4, 1.0)
    rate = 12 * day * week * (1 + 0.02 * t / forecasting.WEEK)
    out: np.ndarray = rng.poisson(rate).astype(np.float64)
    return out


def timed(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = perf_counter()
        fn()
        times.append(perf_counter() - began)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    repeats = int(args[0]) if args else DEFAULT_REPEATS
    series = history()
    forecasting.forecast_series(series[: 4 * forecasting.WEEK], 1)  # imports, warm-up
    result = forecasting.forecast_series(series, forecasting.WEEK)
    print(f"chosen {result.model}, backtest {result.backtest}")

    series_s = timed(lambda: forecasting.forecast_series(series, forecasting.WEEK), repeats)
    print(f"forecast_series: median {series_s * 1000:.0f} ms over {repeats} runs")
    mstl_s = timed(lambda: forecasting.mstl(series, forecasting.WEEK), repeats)
    print(f"mstl (jumps 10): median {mstl_s * 1000:.0f} ms")

    periods = (forecasting.DAY, forecasting.WEEK)

    def full() -> object:
        return decompositions.MSTL(series, periods=periods).fit()

    full_s = timed(full, repeats)
    print(f"MSTL decomposition, statsmodels defaults: median {full_s * 1000:.0f} ms")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jumped = decompositions.MSTL(
            series, periods=periods, stl_kwargs=forecasting.STL_KWARGS
        ).fit()
        exact = decompositions.MSTL(series, periods=periods).fit()
    jumped_s = timed(
        lambda: decompositions.MSTL(
            series, periods=periods, stl_kwargs=forecasting.STL_KWARGS
        ).fit(),
        repeats,
    )
    trend_diff = float(np.abs(np.asarray(jumped.trend) - np.asarray(exact.trend)).max())
    season_diff = float(np.abs(np.asarray(jumped.seasonal) - np.asarray(exact.seasonal)).max())
    figures = {
        "bench": "forecast",
        "intervals": len(series),
        "repeats": repeats,
        "chosen": result.model,
        "wape": None if result.wape is None else round(result.wape, 4),
        "series_ms": round(series_s * 1000, 1),
        "mstl_forecast_ms": round(mstl_s * 1000, 1),
        "decomposition_jumps_ms": round(jumped_s * 1000, 1),
        "decomposition_default_ms": round(full_s * 1000, 1),
        "jumps_speedup": round(full_s / jumped_s, 1),
        "max_trend_diff": round(trend_diff, 6),
        "max_seasonal_diff": round(season_diff, 6),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
