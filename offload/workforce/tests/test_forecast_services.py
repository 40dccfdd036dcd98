"""Forecast services and selectors: generation as a task, adjustments, staffing
targets and their defaults, staffing requirements, intraday, the demo's seed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from offload.contracts.tests.factories import make_engagement, make_policy, target
from offload.core import errors
from offload.demo import forecast_seed
from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import make_client, make_principal, make_provider
from offload.work.tests.factories import make_process
from offload.workforce import forecast_selectors as selectors
from offload.workforce import forecast_services as services
from offload.workforce import forecast_sweep, forecasting, schedule_selectors
from offload.workforce.models import (
    Forecast,
    ForecastAdjustment,
    ForecastInterval,
    IntervalActual,
    StaffingTarget,
)
from offload.workforce.tests.factories import (
    make_actuals,
    make_adjustment,
    make_forecast,
    make_staffing_target,
)

pytestmark = pytest.mark.django_db

WEEK = forecasting.WEEK
DAY = forecasting.DAY
# A Monday in the past, midnight UTC (the provider's zone is UTC here).
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
HALF = timedelta(minutes=30)


def weekly(n: int) -> list[int]:
    """A weekly pattern of arrivals: the same every week."""
    t = np.arange(n)
    wave = 20 + 10 * np.sin(2 * np.pi * (t % DAY) / DAY)
    return [int(v) for v in np.round(wave + np.where((t // DAY) % 7 >= 5, -6, 0))]


@pytest.fixture
def shop() -> dict[str, Any]:
    provider = make_provider("Northwind", timezone="UTC")
    engagement = make_engagement(make_client("Acme"), provider)
    process = make_process(engagement=engagement, name="Acme chat", channel="chat")
    planner = make_principal(provider, "wfm_planner")
    return {"provider": provider, "engagement": engagement, "process": process, "planner": planner}


# ------------------------------------------------------------------ generation


def test_forecast_create_generates_in_the_background_with_the_best_model(shop):
    # given: four weeks of a pure weekly pattern before the horizon, AHT 300 s
    process = shop["process"]
    history = weekly(4 * WEEK)
    make_actuals(process, MONDAY - 4 * WEEK * HALF, history)
    # when
    forecast = services.forecast_create(
        actor=shop["planner"], process=process, start_date=MONDAY.date(), days=2
    )
    # then: ready (the immediate task backend ran it), seasonal naive exact on both
    assert forecast.status == "ready"
    assert (forecast.start, forecast.end) == (MONDAY, MONDAY + timedelta(days=2))
    assert forecast.volume_model == forecasting.SEASONAL_NAIVE
    assert forecast.volume_wape == 0.0
    assert forecast.aht_model == forecasting.SEASONAL_NAIVE
    assert forecast.history_start == MONDAY - 4 * WEEK * HALF
    assert forecast.history_end == MONDAY
    assert set(forecast.backtest["volume"]) == {forecasting.SEASONAL_NAIVE, forecasting.MSTL}
    rows = list(forecast.intervals.order_by("start").values_list("volume", "aht_s"))
    assert len(rows) == 2 * DAY
    assert [v for v, _ in rows] == history[-WEEK : -WEEK + 2 * DAY]
    assert {a for _, a in rows} == {300.0}


def test_a_trended_history_is_forecast_by_mstl(shop):
    # given: the weekly pattern rising by 1 arrival a day
    process = shop["process"]
    history = [v + i // DAY for i, v in enumerate(weekly(4 * WEEK))]
    make_actuals(process, MONDAY - 4 * WEEK * HALF, history)
    # when
    forecast = services.forecast_create(
        actor=shop["planner"], process=process, start_date=MONDAY.date(), days=1
    )
    # then
    assert forecast.volume_model == forecasting.MSTL
    assert forecast.volume_wape is not None
    assert forecast.volume_wape < forecast.backtest["volume"][forecasting.SEASONAL_NAIVE]


def test_a_process_without_actuals_gets_a_flat_zero_forecast(shop):
    # when
    forecast = services.forecast_create(
        actor=shop["planner"], process=shop["process"], start_date=MONDAY.date(), days=1
    )
    # then
    assert forecast.status == "ready"
    assert forecast.volume_model == forecasting.FLAT_MEAN
    assert forecast.volume_wape is None
    assert set(forecast.intervals.values_list("volume", flat=True)) == {0.0}


def test_a_failing_generation_is_stored_as_failed_with_its_error(shop, monkeypatch):
    # given
    def broken(history: Any, horizon: int) -> Any:
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(forecasting, "forecast_series", broken)
    # when
    forecast = services.forecast_create(
        actor=shop["planner"], process=shop["process"], start_date=MONDAY.date(), days=1
    )
    # then
    assert forecast.status == "failed"
    assert "the model fell over" in forecast.error
    assert not forecast.intervals.exists()


def test_a_forecast_whose_worker_died_is_generated_again_then_failed_after_three_tries(shop):
    # given a forecast left running by a worker that died 20 minutes ago
    forecast = services.forecast_create(
        actor=shop["planner"], process=shop["process"], start_date=MONDAY.date(), days=1
    )
    later = datetime.now(UTC) + timedelta(minutes=20)
    Forecast.objects.filter(pk=forecast.pk).update(status="running", error="")
    # when the recovery sweep runs (the immediate backend generates it at once)
    recovered = forecast_sweep.forecasts_recover(later)
    # then
    forecast.refresh_from_db()
    assert (recovered, forecast.status, forecast.attempts) == (1, "ready", 2)
    # given it died on its third try
    Forecast.objects.filter(pk=forecast.pk).update(status="running", attempts=3)
    # when
    forecast_sweep.forecasts_recover(later)
    # then it is failed, saying why, instead of looping
    forecast.refresh_from_db()
    assert forecast.status == "failed"
    assert forecast.error == forecast_sweep.LOST_WORKER.format(n=3)
    # and a running forecast with a recent heartbeat is left alone
    Forecast.objects.filter(pk=forecast.pk).update(status="running")
    assert forecast_sweep.forecasts_recover(datetime.now(UTC)) == 0


def test_a_slow_attempt_taken_for_dead_does_not_write_over_the_next_one(shop, monkeypatch):
    # given: a forecast whose generation, while it fits its models, is taken for dead
    # and claimed by a second attempt
    forecast = make_forecast(shop["process"], MONDAY, [1.0] * 48, status="queued")
    forecast.intervals.all().delete()
    fit = forecasting.forecast_series

    def taken_over(history: Any, horizon: int) -> Any:
        Forecast.objects.filter(pk=forecast.pk).update(status="running", attempts=2)
        return fit(history, horizon)

    monkeypatch.setattr(forecasting, "forecast_series", taken_over)
    # when: the first attempt finishes
    done = services.forecast_generate(forecast_id=forecast.pk)
    # then: it wrote nothing; the forecast is the second attempt's, still running
    assert (done.status, done.attempts) == ("running", 2)
    assert not done.intervals.exists()


def test_the_horizon_is_midnight_to_midnight_in_the_providers_zone(shop):
    # given
    provider = shop["provider"]
    provider.timezone = "Asia/Manila"
    provider.save()
    # when
    forecast = services.forecast_create(
        actor=None, process=shop["process"], start_date=date(2026, 11, 2), days=1
    )
    # then: Manila is eight hours ahead of UTC
    assert forecast.start == datetime(2026, 11, 1, 16, tzinfo=UTC)
    assert forecast.intervals.count() == DAY


def test_forecast_create_is_audited(shop):
    # when
    forecast = services.forecast_create(
        actor=shop["planner"], process=shop["process"], start_date=MONDAY.date(), days=1
    )
    # then
    event = AuditEvent.objects.get(action="forecast.create")
    assert event.object_id == str(forecast.pk)
    assert event.organisation_id == shop["provider"].pk


@pytest.mark.parametrize("days", [0, services.HORIZON_DAYS_MAX + 1])
def test_a_horizon_out_of_range_is_refused_by_name(shop, days):
    with pytest.raises(errors.ValidationFailed) as caught:
        services.forecast_create(
            actor=shop["planner"], process=shop["process"], start_date=MONDAY.date(), days=days
        )
    assert [(e.field, e.message) for e in caught.value.errors] == [("days", services.BAD_DAYS)]
    assert not Forecast.objects.exists()


@pytest.mark.parametrize("role", ["team_lead", "agent", "finance"])
def test_only_planners_managers_and_admins_generate(shop, role):
    with pytest.raises(errors.PermissionDenied):
        services.forecast_create(
            actor=make_principal(shop["provider"], role),
            process=shop["process"],
            start_date=MONDAY.date(),
            days=1,
        )


def test_another_providers_process_is_refused(shop):
    other = make_principal(make_provider("Initech"), "admin")
    with pytest.raises(errors.ValidationFailed) as caught:
        services.forecast_create(
            actor=other, process=shop["process"], start_date=MONDAY.date(), days=1
        )
    assert caught.value.errors[0].field == "process_id"


# ------------------------------------------------------------------ adjustments


def test_an_adjustment_is_applied_on_read_next_to_the_base(shop):
    # given: 10 arrivals an interval; +30 % on the second interval only
    process = shop["process"]
    forecast = make_forecast(process, MONDAY, [10.0, 10.0, 10.0])
    make_adjustment(process, MONDAY + HALF, MONDAY + 2 * HALF, value="30")
    make_adjustment(process, MONDAY, MONDAY + HALF, series="aht", kind="absolute", value="-60")
    # when
    view = selectors.forecast_view(forecast=forecast, now=MONDAY)
    # then: the stored values are the model's; the view shows both
    assert [i.volume_base for i in view.intervals] == [10, 10, 10]
    assert [i.volume for i in view.intervals] == pytest.approx([10, 13, 10])
    assert [i.aht_s for i in view.intervals] == [240, 300, 300]
    assert set(ForecastInterval.objects.values_list("volume", flat=True)) == {10.0}
    assert len(view.adjustments) == 2


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"end": MONDAY}, "end", services.END_BEFORE_START),
        ({"value": Decimal("0")}, "value", services.ZERO_ADJUSTMENT),
        ({"value": Decimal("-100")}, "value", services.BAD_PERCENT),
        ({"reason": "  "}, "reason", services.REASON_REQUIRED),
        ({"value": Decimal("1001")}, "value", "at most 1000 in size"),
        (
            {"kind": "absolute", "value": Decimal("-100001")},
            "value",
            "at most 100000 in size",
        ),
    ],
)
def test_a_bad_adjustment_is_refused_by_field(shop, changes, field, message):
    fields: dict[str, Any] = {
        "start": MONDAY,
        "end": MONDAY + HALF,
        "series": "volume",
        "kind": "percent",
        "value": Decimal("30"),
        "reason": "Campaign",
        **changes,
    }
    with pytest.raises(errors.ValidationFailed) as caught:
        services.forecast_adjustment_create(
            actor=shop["planner"], process=shop["process"], **fields
        )
    assert (field, message) in [(e.field, e.message) for e in caught.value.errors]
    assert not ForecastAdjustment.objects.exists()


def test_deleting_an_adjustment_is_audited(shop):
    # given
    adjustment = make_adjustment(shop["process"], MONDAY)
    # when
    services.forecast_adjustment_delete(actor=shop["planner"], adjustment=adjustment)
    # then
    assert not ForecastAdjustment.objects.exists()
    assert AuditEvent.objects.filter(action="forecast_adjustment.delete").count() == 1


# ------------------------------------------------------------------ staffing targets


def test_staffing_target_set_creates_then_replaces_and_audits_the_change(shop):
    # given
    make_staffing_target(shop["process"], service_level="0.8")
    # when
    services.staffing_target_set(
        actor=shop["planner"],
        process=shop["process"],
        service_level=Decimal("0.9"),
        answer_target_s=30,
        shrinkage=Decimal("0.25"),
    )
    # then
    stored = StaffingTarget.objects.get()
    assert (stored.service_level, stored.answer_target_s, stored.max_occupancy) == (
        Decimal("0.9"),
        30,
        None,
    )
    last = AuditEvent.objects.filter(action="staffing_target.set").order_by("-id").first()
    assert last is not None
    assert last.changes["service_level"] == ["0.800", "0.9"]


def test_a_bad_staffing_target_names_each_field(shop):
    with pytest.raises(errors.ValidationFailed) as caught:
        services.staffing_target_set(
            actor=shop["planner"],
            process=shop["process"],
            service_level=Decimal("1"),
            answer_target_s=-1,
            shrinkage=Decimal("1"),
            max_occupancy=Decimal("0"),
            patience_s=0,
        )
    assert [e.field for e in caught.value.errors] == [
        "service_level",
        "answer_target_s",
        "shrinkage",
        "max_occupancy",
        "patience_s",
    ]


def test_defaults_take_the_answer_target_from_the_sla_for_non_voice(shop):
    # given: an e-mail process whose SLA answers first within 2 business hours (any
    # priority) and 1 hour for P1; a voice and a chat process without a target
    engagement = shop["engagement"]
    policy = make_policy(
        engagement,
        targets=[target(priority="P1", value="1"), target(priority="", value="2")],
    )
    email = make_process(engagement=engagement, name="E-mail", sla_policy=policy)
    voice = make_process(engagement=engagement, name="Phone", channel="voice", sla_policy=policy)
    chat = shop["process"]
    # when
    targets = selectors.staffing_targets_effective([email, voice, chat])
    # then
    assert (targets[email.pk].answer_target_s, targets[email.pk].source) == (7200, "sla_policy")
    assert (targets[voice.pk].answer_target_s, targets[voice.pk].source) == (20, "default")
    assert (targets[chat.pk].answer_target_s, targets[chat.pk].source) == (60, "default")
    assert targets[chat.pk].service_level == 0.8
    assert targets[chat.pk].shrinkage == 0.3
    assert targets[chat.pk].max_occupancy == 0.85


def test_a_stored_target_wins_over_the_defaults(shop):
    make_staffing_target(shop["process"], answer_target_s=45, shrinkage="0.2")
    found = selectors.staffing_targets_effective([shop["process"]])[shop["process"].pk]
    assert (found.answer_target_s, found.shrinkage, found.source) == (45, 0.2, "stored")


# ------------------------------------------------------------------ requirements


def test_staffing_requirements_run_erlang_on_the_adjusted_current_forecast(shop):
    # given: 100 calls of 180 s in the second interval, 80/20, 85 % occupancy, 30 %
    # shrinkage; +30 % on the third; an older forecast overridden by a newer one
    process = shop["process"]
    make_staffing_target(process)
    make_forecast(process, MONDAY, [999.0, 999.0, 999.0], aht_s=180)
    make_forecast(process, MONDAY, [0.0, 100.0, 100.0], aht_s=180)
    make_forecast(process, MONDAY, [500.0, 500.0, 500.0], aht_s=180, status="failed")
    make_adjustment(process, MONDAY + 2 * HALF, MONDAY + 3 * HALF, value="30")
    # when
    rows = selectors.staffing_requirements(
        provider=shop["provider"], start=MONDAY, end=MONDAY + timedelta(days=1)
    )
    # then: 14 agents for 100 calls (Erlang C), 17 for 130; scheduled = ceil(n / 0.7)
    assert [(r.start - MONDAY, r.calls, r.aht_s, r.agents, r.scheduled) for r in rows] == [
        (timedelta(0), 0.0, 180.0, 0, 0),
        (HALF, 100.0, 180.0, 14, 20),
        (2 * HALF, pytest.approx(130.0), 180.0, 17, 25),
    ]


def test_requirements_leave_out_intervals_and_processes_without_a_forecast(shop):
    # given
    other = make_process(engagement=shop["engagement"], name="Other")
    make_forecast(shop["process"], MONDAY, [10.0])
    # when
    rows = selectors.staffing_requirements(
        provider=shop["provider"],
        start=MONDAY - HALF,
        end=MONDAY + timedelta(days=1),
        process_ids=[shop["process"].pk, other.pk],
    )
    # then
    assert [(r.process_id, r.start) for r in rows] == [(shop["process"].pk, MONDAY)]


def test_requirements_are_the_providers_own(shop):
    make_forecast(shop["process"], MONDAY, [10.0])
    rows = selectors.staffing_requirements(
        provider=make_provider("Initech"), start=MONDAY, end=MONDAY + HALF
    )
    assert rows == []


# ------------------------------------------------------------------ intraday


def test_intraday_rescales_the_rest_of_the_day_and_shows_the_gap(shop, monkeypatch):
    # given: 10 forecast per interval all day at 300 s; 15 arrived in each of the
    # first two intervals (1.5 x); 2 agents scheduled at 01:00
    process = shop["process"]
    make_staffing_target(process)
    forecast = make_forecast(process, MONDAY, [10.0] * DAY)
    make_actuals(process, MONDAY, [15, 15])
    coverage = {(process.pk, MONDAY + 2 * HALF): 2.0}
    monkeypatch.setattr(schedule_selectors, "scheduled_coverage", lambda **kw: coverage)
    # when: at 01:10, two intervals are over
    view = selectors.intraday(
        process=process, day=MONDAY.date(), now=MONDAY + timedelta(minutes=70), forecast=forecast
    )
    # then
    assert view.ratio == 1.5
    assert view.elapsed == 2
    first, _, third = view.intervals[:3]
    assert (first.actual, first.reforecast, first.required, first.elapsed) == (15, 15, 5, True)
    assert (third.actual, third.reforecast, third.forecast) == (None, 15.0, 10.0)
    assert (third.required, third.scheduled, third.gap) == (5, 2.0, 3.0)
    assert view.actual_total == 30
    assert view.reforecast_total == pytest.approx(15 * DAY)


def test_intraday_without_a_forecast_says_so(shop):
    view = selectors.intraday(process=shop["process"], day=MONDAY.date(), now=MONDAY)
    assert not view.has_forecast
    assert {i.required for i in view.intervals} == {0}


# ------------------------------------------------------------------ the demo's seed


def test_the_demo_seed_makes_actuals_a_forecast_and_a_campaign_day_once(shop):
    # given: the demo's chat process
    process = make_process(engagement=shop["engagement"], name="Chat", slug="chat-support")
    # when
    forecast_seed.load(shop["provider"])
    counts = (IntervalActual.objects.count(), Forecast.objects.count())
    forecast_seed.load(shop["provider"])
    # then: eight weeks for each process, one ready forecast, one adjustment; twice is once
    assert IntervalActual.objects.filter(process=process).count() == forecast_seed.WEEKS * WEEK
    assert counts == (IntervalActual.objects.count(), Forecast.objects.count())
    forecast = Forecast.objects.get()
    assert forecast.status == "ready"
    assert forecast.volume_model in {forecasting.SEASONAL_NAIVE, forecasting.MSTL}
    adjustment = ForecastAdjustment.objects.get()
    assert (adjustment.value, adjustment.process_id) == (Decimal("30"), process.pk)
