"""The pure forecasting core: models, backtest and choice, adjustments, intraday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offload.workforce import forecasting
from offload.workforce.forecasting import DAY, WEEK

T = np.arange(4 * WEEK)


def weekly(t: np.ndarray) -> np.ndarray:
    """A daily wave, lower at weekends: the same every week, never below 0."""
    day = 8 * np.sin(2 * np.pi * (t % DAY) / DAY)
    weekend = np.where((t // DAY) % 7 >= 5, -5.0, 2.0)
    out: np.ndarray = np.round(20 + day + weekend, 3)
    return out


def trended(seed: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out: np.ndarray = weekly(T) + 0.02 * T + rng.normal(0, 0.5, len(T))
    return out


# ------------------------------------------------------------------ the models


def test_seasonal_naive_repeats_the_last_week():
    # given
    history = np.arange(2 * WEEK, dtype=float)
    # when
    ahead = forecasting.seasonal_naive(history, WEEK + 2)
    # then: the last week again, and then its start
    assert ahead[0] == WEEK
    assert ahead[WEEK - 1] == 2 * WEEK - 1
    assert list(ahead[WEEK:]) == [WEEK, WEEK + 1]


def test_a_pure_weekly_pattern_is_forecast_exactly_by_seasonal_naive():
    # given
    history = weekly(T)
    # when
    result = forecasting.forecast_series(history, WEEK)
    # then: the backtest's seasonal naive is exact, so it wins with WAPE 0
    assert result.model == forecasting.SEASONAL_NAIVE
    assert result.wape == 0.0
    assert result.backtest[forecasting.SEASONAL_NAIVE] == 0.0
    assert result.backtest[forecasting.MSTL] == pytest.approx(0.0149095, rel=1e-4)
    assert np.array_equal(result.values, weekly(T + WEEK)[:WEEK])


def test_a_trended_series_is_won_by_mstl():
    # given: the weekly pattern on a rising trend, with noise (seed 6)
    history = trended()
    # when
    result = forecasting.forecast_series(history, DAY)
    # then: seasonal naive lags a week of trend behind; MSTL carries the trend on
    assert result.model == forecasting.MSTL
    assert result.backtest[forecasting.SEASONAL_NAIVE] == pytest.approx(0.1545562, rel=1e-4)
    assert result.wape == pytest.approx(0.0457774, rel=1e-3)
    assert result.values[:3] == pytest.approx([47.503, 49.051, 50.270], abs=0.05)


def test_the_choice_is_by_wape_not_by_name(monkeypatch):
    # given: two stand-in candidates, the one listed second forecasting better
    history = weekly(T)
    truth = history[-WEEK:]

    def off_by_two(train: np.ndarray, horizon: int) -> np.ndarray:
        return np.resize(truth, horizon) + 2

    def off_by_one(train: np.ndarray, horizon: int) -> np.ndarray:
        return np.resize(truth, horizon) + 1

    monkeypatch.setattr(
        forecasting,
        "CANDIDATES",
        {forecasting.SEASONAL_NAIVE: off_by_two, forecasting.MSTL: off_by_one},
    )
    # when
    result = forecasting.forecast_series(history, DAY)
    # then
    assert result.model == forecasting.MSTL
    assert result.wape == pytest.approx(1 / truth.mean())
    assert result.backtest[forecasting.SEASONAL_NAIVE] == pytest.approx(2 / truth.mean())


def test_a_tie_goes_to_the_simpler_model(monkeypatch):
    # given
    def same(train: np.ndarray, horizon: int) -> np.ndarray:
        return np.zeros(horizon)

    monkeypatch.setattr(
        forecasting, "CANDIDATES", {forecasting.SEASONAL_NAIVE: same, forecasting.MSTL: same}
    )
    # when
    result = forecasting.forecast_series(weekly(T), DAY)
    # then
    assert result.model == forecasting.SEASONAL_NAIVE
    assert result.wape == 1.0


def test_negative_forecasts_are_clamped_to_zero():
    # given: a series falling through zero
    falling = np.maximum(0, 40 - 0.03 * T + 3 * np.sin(2 * np.pi * (T % DAY) / DAY))
    # when
    result = forecasting.forecast_series(falling, WEEK)
    # then: the trend goes on down, but never below 0
    assert result.model == forecasting.MSTL
    assert result.values.min() == 0.0
    assert (result.values == 0).sum() > DAY


@pytest.mark.parametrize(
    ("length", "model", "first"),
    [
        (0, forecasting.FLAT_MEAN, 0.0),
        (10, forecasting.FLAT_MEAN, 4.5),  # the mean of 0..9
        (DAY + 5, forecasting.DAILY_NAIVE, 5.0),  # the same interval of the last day
        (WEEK + 5, forecasting.SEASONAL_NAIVE, 5.0),
    ],
)
def test_too_little_history_falls_back_without_a_backtest(length, model, first):
    # given
    history = np.arange(length, dtype=float)
    # when
    result = forecasting.forecast_series(history, 3)
    # then
    assert result.model == model
    assert result.wape is None
    assert result.backtest == {}
    assert result.values[0] == first


def test_mstl_is_a_candidate_only_with_over_two_weeks_to_fit_and_one_held_out():
    assert forecasting.candidates_for(2 * WEEK - 1) == []
    assert forecasting.candidates_for(2 * WEEK) == [forecasting.SEASONAL_NAIVE]
    assert forecasting.candidates_for(3 * WEEK) == [forecasting.SEASONAL_NAIVE]
    assert forecasting.candidates_for(3 * WEEK + 1) == [
        forecasting.SEASONAL_NAIVE,
        forecasting.MSTL,
    ]


def test_mstl_refuses_two_weeks_or_less():
    with pytest.raises(ValueError, match="at least 673"):
        forecasting.mstl(np.ones(2 * WEEK), 3)


# ------------------------------------------------------------------ WAPE and gaps


def test_wape_is_absolute_errors_over_actuals():
    assert forecasting.wape([10, 20, 10], [12, 15, 10]) == pytest.approx(7 / 40)


def test_wape_skips_unknown_actuals_and_is_none_without_any():
    assert forecasting.wape([10, np.nan, 10], [12, 99, 10]) == pytest.approx(2 / 20)
    assert forecasting.wape([0, 0], [1, 1]) is None
    assert forecasting.wape([np.nan], [1]) is None


def test_gaps_are_filled_with_the_mean_of_what_is_known():
    assert list(forecasting.fill_gaps([100, np.nan, 200])) == [100, 150, 200]
    assert list(forecasting.fill_gaps([np.nan, np.nan])) == [0, 0]


def test_an_aht_series_with_gaps_is_backtested_on_known_intervals_only():
    # given: handle time 300 s every interval of three weeks, unknown in every other
    history = np.full(3 * WEEK, 300.0)
    history[::2] = np.nan
    # when
    result = forecasting.forecast_series(history, DAY)
    # then: the gaps filled with 300 make a flat, exact forecast
    assert result.model == forecasting.SEASONAL_NAIVE
    assert result.wape == 0.0
    assert list(result.values) == [300.0] * DAY


# ------------------------------------------------------------------ intraday


def test_the_rest_of_the_day_is_scaled_by_actual_over_forecast_so_far():
    # given: 10 forecast per interval, 12 and 18 arrived in the first two
    forecast = [10.0] * 6
    actual = [12, 18, 0, 0, 0, 0]
    # when
    result = forecasting.reforecast_rest(forecast, actual, elapsed=2)
    # then: 30 arrived for 20 forecast: the rest is 1.5 x the forecast
    assert result.ratio == 1.5
    assert list(result.values) == [12, 18, 15, 15, 15, 15]


def test_the_ratio_is_clamped_and_one_before_anything_happened():
    assert forecasting.reforecast_rest([10, 10], [100, 0], 1).ratio == forecasting.RATIO_MAX
    assert forecasting.reforecast_rest([10, 10], [0, 0], 1).ratio == forecasting.RATIO_MIN
    assert forecasting.reforecast_rest([10, 10], [0, 0], 0).ratio == 1.0
    assert forecasting.reforecast_rest([0, 10], [5, 0], 1).ratio == 1.0


def test_elapsed_beyond_the_day_is_refused():
    with pytest.raises(ValueError, match="elapsed"):
        forecasting.reforecast_rest([1, 1], [1, 1], 3)


# ------------------------------------------------------------------ adjustments and intervals

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def test_percents_multiply_and_absolutes_add_within_their_period():
    # given: four intervals; a campaign +30 % and +10 % on the middle two, +5 on the last
    starts = [MONDAY + i * forecasting.INTERVAL for i in range(4)]
    end = MONDAY + 3 * forecasting.INTERVAL
    adjustments = [
        forecasting.Adjustment(starts[1], end, forecasting.PERCENT, 30),
        forecasting.Adjustment(starts[1], end, forecasting.PERCENT, 10),
        forecasting.Adjustment(
            starts[3], starts[3] + forecasting.INTERVAL, forecasting.ABSOLUTE, 5
        ),
    ]
    # when
    adjusted = forecasting.adjust([100, 100, 100, 100], starts, adjustments)
    # then
    assert list(adjusted) == pytest.approx([100, 143, 143, 105])


def test_an_adjustment_never_takes_a_value_below_zero():
    starts = [MONDAY]
    cut = forecasting.Adjustment(MONDAY, MONDAY + timedelta(hours=1), forecasting.ABSOLUTE, -50)
    assert list(forecasting.adjust([20], starts, [cut])) == [0]


def test_interval_floor_and_starts():
    at = datetime(2026, 11, 30, 9, 47, 12, 5, tzinfo=UTC)
    assert forecasting.interval_floor(at) == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    starts = forecasting.interval_starts(at, at + timedelta(hours=1))
    assert [s.strftime("%H:%M") for s in starts] == ["09:30", "10:00", "10:30"]


# ------------------------------------------------------------------ properties


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e4), min_size=0, max_size=2 * WEEK + 10),
    st.integers(min_value=1, max_value=2 * DAY),
)
def test_a_forecast_has_the_horizon_and_is_never_negative(history, horizon):
    result = forecasting.forecast_series(history, horizon)
    assert len(result.values) == horizon
    assert (result.values >= 0).all()
    assert result.model in forecasting.MODELS


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([forecasting.PERCENT, forecasting.ABSOLUTE]), st.integers(-90, 200)
        ),
        max_size=5,
    ),
    st.randoms(use_true_random=False),
)
def test_the_order_of_adjustments_does_not_matter(specs, rnd):
    starts = [MONDAY + i * forecasting.INTERVAL for i in range(4)]
    adjustments = [
        forecasting.Adjustment(MONDAY, MONDAY + timedelta(hours=2), kind, value)
        for kind, value in specs
    ]
    shuffled = list(adjustments)
    rnd.shuffle(shuffled)
    assert forecasting.adjust([10, 20, 30, 40], starts, adjustments) == pytest.approx(
        forecasting.adjust([10, 20, 30, 40], starts, shuffled)
    )
