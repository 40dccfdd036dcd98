"""A workforce planner's week in headless Chromium: the staffing calculator, a
forecast with its chart and a +30 % campaign adjustment, intraday, a schedule
generated from that forecast (coverage chart, cost per site, the grid in the site's
local time), published and rostered, the time-off queue with its coverage cost, and
two digital-twin scenarios run and compared with their charts.

The browser console must stay free of JavaScript errors and no page may answer 5xx.
Uses the system Chromium, like test_login.py (skipped without it, except in CI).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Page, Response, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from offload.contracts.tests.factories import make_calendar, make_engagement, make_policy, target
from offload.tenancy.tests.factories import make_client, make_provider, make_site, make_user
from offload.twin import services as twin_services
from offload.twin.models import RunStatus, ScenarioRun
from offload.work.tests.factories import make_process, make_queue
from offload.workers.models import Worker
from offload.workers.tests.factories import make_agent
from offload.workforce import forecasting, schedule_services
from offload.workforce.models import Schedule
from offload.workforce.tests.factories import make_actuals
from offload.workforce.tests.schedule_factories import make_template
from tests_browser.test_login import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "northwind-planner-pass-1"  # noqa: S105 - a throwaway login in a throwaway test database
MANILA = ZoneInfo("Asia/Manila")
AGENTS = 6
CALLS = 10  # per 30 minutes, weekdays 09:00-17:00 in Manila
AHT_S = 240
HISTORY_DAYS = 20  # between two and three weeks: seasonal naive, backtested on a week
REFUSED_FORM_LOG = "Failed to load resource: the server responded with a status of 422"
T = TypeVar("T")


def screenshot(name: str) -> Path:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def in_thread(work: Callable[[], T]) -> T:
    """Database work while Playwright runs: Django's ORM refuses to run beside
    Playwright's event loop, so it runs in a thread of its own (and closes its
    connection there)."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = work()
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]  # type: ignore[no-any-return]


def chart_datasets(page: Page, test_id: str) -> int:
    """How many datasets the Chart.js chart on that canvas draws (-1: no chart)."""
    return int(
        page.evaluate(
            """(id) => {
                const canvas = document.querySelector(`[data-testid="${id}"]`);
                const chart = window.Chart && canvas ? Chart.getChart(canvas) : null;
                return chart ? chart.data.datasets.length : -1;
            }""",
            test_id,
        )
    )


def next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def weekly_calls(start: datetime, intervals: int) -> list[int]:
    """CALLS every weekday interval from 09:00 to 17:00 in Manila, none otherwise:
    the same every week, so seasonal naive forecasts it exactly."""
    out = []
    for i in range(intervals):
        local = (start + i * forecasting.INTERVAL).astimezone(MANILA)
        out.append(CALLS if local.weekday() < 5 and 9 <= local.hour < 17 else 0)
    return out


def test_a_planner_forecasts_schedules_and_tries_the_plan_in_the_twin(
    live_server: LiveServer,
) -> None:
    require_chromium()
    # given: a provider in Manila with one voice process (first response within a
    # minute, around the clock), 20 days of actuals repeating every week, six agents
    # at one site (and an empty second site), an 8-hour shift, a planner, and an
    # agent's request for next Monday off. Database work happens before Playwright
    # starts, or in a thread of its own (in_thread).
    provider = make_provider("Northwind Services")
    manila = make_site(provider, name="Manila", slug="manila", hourly_cost=Decimal("10.00"))
    make_site(provider, name="Monterrey", slug="monterrey", timezone="America/Monterrey")
    engagement = make_engagement(make_client("Acme Telecom"), provider)
    answer_in_a_minute = make_policy(
        engagement,
        targets=[target("first_response", "", "1", unit="business_minutes")],
        calendar=make_calendar(engagement, {"timezone": "Asia/Manila", "hours": "24/7"}),
    )
    process = make_process(
        engagement=engagement,
        name="Billing calls",
        channel="voice",
        sla_policy=answer_in_a_minute,
    )
    make_queue(process, name="Billing calls", slug="billing-calls")
    now = forecasting.interval_floor(timezone.now())
    history_start = now - timedelta(days=HISTORY_DAYS)
    make_actuals(
        process,
        history_start,
        weekly_calls(history_start, HISTORY_DAYS * 48),
        aht_s=AHT_S,
    )
    agents = [
        make_agent(
            provider,
            user=make_user(provider, "agent", username=f"agent.{n}"),
            site=manila,
            skills={},
            processes=[process],
            channels={"voice": 1},
        )
        for n in range(1, AGENTS + 1)
    ]
    make_template(provider, name="8 h")
    make_user(provider, "wfm_planner", username="ana.planner", password=PASSWORD)
    monday = next_monday(datetime.now(MANILA).date())
    monday_9 = datetime(monday.year, monday.month, monday.day, 9, tzinfo=MANILA)
    schedule_services.time_off_request(
        actor=None,
        worker=agents[0],
        start=monday_9,
        end=monday_9 + timedelta(hours=8),
        reason="Dentist",
    )
    base = live_server.url

    console_errors: list[str] = []
    server_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        # The refused scenario form answers 422, which Chromium logs as a failed load.
        if message.text.startswith(REFUSED_FORM_LOG) and url.endswith("/twin/new/"):
            return
        if message.type == "error":
            console_errors.append(f"{message.text} ({url})")

    def on_response(response: Response) -> None:
        if response.status >= 500:
            server_errors.append(f"{response.status} {response.url}")

    def no_errors_so_far() -> None:
        assert console_errors == [], "JavaScript errors in the console"
        assert server_errors == [], "server errors"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("console", on_console)
            page.on("pageerror", lambda exc: console_errors.append(f"uncaught: {exc}"))
            page.on("response", on_response)
            page.goto(f"{base}/login/")
            page.fill("#id_username", "ana.planner")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")

            # ---------------------------------------------------------- staffing
            # when: the calculator's worked example (100 calls in 30 minutes, AHT
            # 180 s, 80 % in 20 s, 30 % shrinkage) is calculated
            page.get_by_test_id("nav-staffing").click()
            page.wait_for_url(f"{base}/workforce/staffing/")
            page.evaluate("window.stillHere = true")
            page.get_by_test_id("staffing-submit").click()
            # then: 14 agents on the phones, 20 to schedule, answered in place (htmx)
            expect(page.get_by_test_id("staffing-agents")).to_have_text("14")
            expect(page.get_by_test_id("staffing-fte")).to_have_text("20")
            expect(page.get_by_test_id("curve-13")).to_contain_text("no")
            expect(page.get_by_test_id("curve-14")).to_contain_text("yes")

            # when: a service level of 120 %
            page.fill("input[name=service_level]", "120")
            page.get_by_test_id("staffing-submit").click()
            # then: the error next to the field, the answer gone, no page reload
            expect(page.get_by_test_id("error-service_level")).to_have_text(
                "must be more than 0 % and at most 100 %"
            )
            expect(page.get_by_test_id("staffing-problems")).to_be_visible()
            expect(page.get_by_test_id("staffing-agents")).to_have_count(0)
            assert page.evaluate("window.stillHere") is True

            # when: corrected, the error clears and the answer comes back
            page.fill("input[name=service_level]", "80")
            page.get_by_test_id("staffing-submit").click()
            expect(page.get_by_test_id("staffing-agents")).to_have_text("14")
            expect(page.get_by_test_id("error-service_level")).to_have_text("")
            assert page.evaluate("window.stillHere") is True

            no_errors_so_far()

            # ---------------------------------------------------------- forecast
            # when: a forecast of next week (the form's default) for the process
            page.get_by_test_id("nav-forecasts").click()
            page.wait_for_url(f"{base}/forecasts/")
            generate = page.get_by_test_id("forecast-generate")
            generate.locator("select[name=process]").select_option(
                label="Acme Telecom · Billing calls"
            )
            expect(generate.locator("input[name=start_date]")).to_have_value(monday.isoformat())
            generate.get_by_role("button", name="Generate").click()
            page.wait_for_url(f"{base}/forecasts/*/")

            # then: ready, seasonal naive (the history repeats every week) with a
            # WAPE of 0 on the held-out week, and both charts drawn by Chart.js
            expect(page.get_by_test_id("forecast-status")).to_have_text("ready")
            expect(page.get_by_test_id("volume-model")).to_have_text("seasonal_naive")
            expect(page.get_by_test_id("volume-wape")).to_have_text("0.000")
            expect(page.get_by_test_id("aht-model")).to_have_text("seasonal_naive")
            expect(page.get_by_test_id("aht-wape")).to_have_text("0.000")
            # 5 weekdays x 16 intervals x 10 calls
            expect(page.get_by_test_id("volume-adjusted-total")).to_have_text("800")
            assert chart_datasets(page, "volume-chart") == 4
            assert chart_datasets(page, "aht-chart") == 2
            forecast_url = page.url

            # when: a +30 % campaign on Monday (the form's default period)
            form = page.get_by_test_id("adjustment-form")
            form.locator("select[name=series]").select_option("volume")
            form.locator("select[name=kind]").select_option("percent")
            form.locator("input[name=value]").fill("30")
            form.locator("input[name=reason]").fill("Campaign launch")
            form.get_by_role("button", name="Add").click()
            page.wait_for_url(f"{forecast_url}#adjustments")

            # then: listed, and Monday's 160 calls become 208 in the adjusted total
            row = page.get_by_test_id("adjustment-row")
            expect(row).to_have_count(1)
            expect(row).to_contain_text("+30 %")
            expect(row).to_contain_text("Campaign launch")
            expect(row).to_contain_text("ana.planner")
            expect(page.get_by_test_id("volume-adjusted-total")).to_have_text("848")
            assert chart_datasets(page, "volume-chart") == 4
            page.screenshot(path=str(screenshot("planning-forecast.png")), full_page=True)

            no_errors_so_far()

            # ---------------------------------------------------------- schedule
            # when: a one-day schedule for Monday from the forecast
            page.get_by_test_id("nav-schedules").click()
            page.wait_for_url(f"{base}/schedules/")
            schedule_form = page.get_by_test_id("schedule-form")
            expect(schedule_form.locator("input[name=start_date]")).to_have_value(
                monday.isoformat()
            )
            schedule_form.locator("input[name=days]").fill("1")
            schedule_form.locator("input[name=name]").fill("Launch Monday")
            schedule_form.get_by_role("button", name="Generate").click()
            page.wait_for_url(f"{base}/schedules/*/")

            # then: solved; 13 calls of 240 s need 4 agents at 80/20, 6 with 30 %
            # shrinkage, so six 8-hour shifts 09:00-17:00 at 10.00 an hour
            expect(page.get_by_role("heading", level=1)).to_have_text("Launch Monday")
            expect(page.get_by_test_id("solve-state")).to_have_text("Solved")
            expect(page.get_by_test_id("shift-count")).to_have_text(str(AGENTS))
            expect(page.get_by_test_id("under-staffed")).to_have_text("0")
            expect(page.get_by_test_id("total-cost")).to_have_text("480.00")
            assert chart_datasets(page, "coverage-chart") == 2
            costs = page.get_by_test_id("site-cost-row")
            expect(costs).to_have_count(2)
            expect(costs.filter(has_text="Manila").locator("td").last).to_have_text("480.00")
            expect(costs.filter(has_text="Monterrey").locator("td").last).to_have_text(
                "\N{EN DASH}"
            )

            # when: published and rostered to the agents
            page.get_by_test_id("publish").click()
            expect(page.get_by_test_id("schedule-status")).to_have_text("Published")
            page.get_by_test_id("roster").click()
            expect(page.get_by_test_id("unfilled")).to_have_text("0")

            # then: the grid of Manila has one row per agent, on shift from 09 to 16
            # local hours inclusive (01:00-09:00 UTC), never outside
            grid = page.get_by_test_id("schedule-grid")
            expect(grid).to_contain_text("Manila: shifts in local time (Asia/Manila)")
            rows = grid.get_by_test_id("grid-row")
            expect(rows).to_have_count(AGENTS)
            hours = grid.locator("thead th").all_inner_texts()[1:]
            for index in range(AGENTS):
                cells = rows.nth(index).locator("td[data-cell]")
                on = [
                    hours[i].strip()[-2:]
                    for i, value in enumerate(
                        cells.evaluate_all("cs => cs.map(c => c.dataset.cell)")
                    )
                    if value == "on"
                ]
                assert on == ["09", "10", "11", "12", "13", "14", "15", "16"], on
            expect(rows.first).to_contain_text("agent.1")
            page.screenshot(path=str(screenshot("planning-schedule.png")), full_page=True)

            no_errors_so_far()

            # ---------------------------------------------------------- intraday
            # when: Monday's intraday
            page.goto(f"{forecast_url}")
            page.get_by_role("link", name="Intraday").first.click()
            page.wait_for_url(f"{base}/forecasts/intraday/*")
            page.locator("input[name=date]").fill(monday.isoformat())
            page.get_by_role("button", name="Show").click()
            page.wait_for_url(f"{base}/forecasts/intraday/*date={monday.isoformat()}*")
            # then: the adjusted forecast (16 x 13 calls) and its chart
            expect(page.get_by_test_id("forecast-total")).to_have_text("208")
            expect(page.get_by_test_id("no-forecast")).to_have_count(0)
            assert chart_datasets(page, "intraday-chart") == 5

            no_errors_so_far()

            # ---------------------------------------------------------- time off
            # when: the time-off queue
            page.goto(f"{base}/time-off/")
            # then: agent.1's Monday costs the 16 intervals of its shift (5 of 6 left)
            request = page.get_by_test_id("queue-row")
            expect(request).to_have_count(1)
            expect(request).to_contain_text("Dentist")
            expect(request.get_by_test_id("coverage-cost")).to_contain_text("16 intervals short")
            expect(request.get_by_test_id("coverage-cost")).to_contain_text("5 of 6")

            no_errors_so_far()

            # ---------------------------------------------------------- twin
            # when: the live configuration of Monday as a baseline, run at once
            page.get_by_test_id("nav-twin").click()
            page.wait_for_url(f"{base}/twin/")
            page.get_by_test_id("twin-new").click()
            page.wait_for_url(f"{base}/twin/new/")
            scenario_form = page.get_by_test_id("twin-scenario-form")
            scenario_form.locator("input[name=name]").fill("Monday as planned")
            scenario_form.locator("input[name=start]").fill(monday.isoformat())
            scenario_form.locator("input[name=days]").fill("1")
            scenario_form.locator("input[name=replications]").fill("2")
            scenario_form.get_by_role("button", name="Create scenario").click()
            page.wait_for_url(f"{base}/twin/*/")
            expect(page.get_by_test_id("twin-scenario-facts")).to_contain_text(
                f"1 processes, 1 queues, {AGENTS} agents at Manila"
            )
            expect(page.get_by_test_id("twin-changes")).to_contain_text("None")
            page.get_by_test_id("twin-run-form").get_by_role("button", name="Run").click()
            page.wait_for_url(f"{base}/twin/runs/*/")
            expect(page.get_by_test_id("twin-run-status")).to_have_text("Succeeded")
            baseline_run = int(page.url.rstrip("/").rsplit("/", 1)[1])
            assert chart_datasets(page, "twin-sl-chart") >= 1

            # when: a second scenario, first with a change that cannot be made
            # (removing more agents than Manila has), each change's form fetched by htmx
            page.goto(f"{base}/twin/new/")
            scenario_form = page.get_by_test_id("twin-scenario-form")
            scenario_form.locator("input[name=name]").fill("One more agent")
            scenario_form.locator("input[name=start]").fill(monday.isoformat())
            scenario_form.locator("input[name=days]").fill("1")
            scenario_form.locator("input[name=replications]").fill("2")
            page.locator("#change-kind").select_option("remove_agents")
            page.get_by_test_id("twin-add-change").click()
            change = page.get_by_test_id("twin-change")
            expect(change).to_have_attribute("data-kind", "remove_agents")
            change.locator("input[name$=_count]").fill("9")
            scenario_form.get_by_role("button", name="Create scenario").click()

            # then: refused, the error on that change, the form as it was posted
            expect(change.get_by_test_id("twin-change-error")).to_have_text(
                f"changes[0].count: site 'Manila' has only {AGENTS} agents"
            )
            expect(change.locator("input[name$=_count]")).to_have_value("9")
            expect(scenario_form.locator("input[name=name]")).to_have_value("One more agent")

            # when: that change removed and an agent like agent.1 added instead
            change.get_by_role("button", name="Remove").click()
            expect(page.get_by_test_id("twin-change")).to_have_count(0)
            page.locator("#change-kind").select_option("add_agents")
            page.get_by_test_id("twin-add-change").click()
            change = page.get_by_test_id("twin-change")
            expect(change).to_have_attribute("data-kind", "add_agents")
            change.locator("input[name$=_count]").fill("1")
            change.locator("select[name$=_site]").select_option("Manila")
            change.locator("select[name$=_like]").select_option(str(agents[0].pk))
            scenario_form.get_by_role("button", name="Create scenario").click()
            page.wait_for_url(f"{base}/twin/*/")
            expect(page.get_by_test_id("twin-changes")).to_contain_text("Manila")
            expect(page.get_by_test_id("twin-scenario-facts")).to_contain_text(
                f"{AGENTS + 1} agents at Manila"
            )

            # and it is run while the task workers are busy: the run waits, queued,
            # and its page polls (the page's clock is held so that no poll overlaps
            # the run's writes)
            context.clock.install()
            context.clock.pause_at(datetime.now(UTC) + timedelta(seconds=10))
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(twin_services, "_enqueue", lambda run: None)
                page.get_by_test_id("twin-run-form").get_by_role("button", name="Run").click()
                page.wait_for_url(f"{base}/twin/runs/*/")
            run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
            expect(page.get_by_test_id("twin-run-status")).to_have_text("Queued")
            expect(page.get_by_test_id("twin-run-progress")).to_have_attribute(
                "hx-trigger", "every 2s"
            )
            assert chart_datasets(page, "twin-sl-chart") == -1

            # when: a task worker takes it, and the page's next poll comes
            outcome = in_thread(
                lambda: twin_services.scenario_run_execute(run_id=run_id, attempt=1)
            )
            assert outcome == RunStatus.SUCCEEDED
            page.clock.run_for(2_500)

            # then: the poll sees it done and the page reloads with its figures
            expect(page.get_by_test_id("twin-run-status")).to_have_text("Succeeded")
            page.clock.resume()
            expect(page.get_by_test_id("twin-run-progress")).not_to_have_attribute(
                "hx-trigger", "every 2s"
            )
            expect(page.get_by_test_id("twin-comparison")).to_be_visible()
            assert chart_datasets(page, "twin-sl-chart") >= 1

            # when: the two runs compared, the baseline first
            page.goto(f"{base}/twin/compare/?runs={baseline_run},{run_id}")

            # then: one column per run, the same calls offered (same seed), and the
            # three charts with a line per run
            table = page.get_by_test_id("twin-comparison")
            expect(table.locator("thead th")).to_have_count(3)
            expect(table.locator("thead th").nth(1)).to_contain_text("(baseline)")
            offered = page.get_by_test_id("twin-row-arrivals").locator("td")
            expect(offered).to_have_count(2)
            first, second = offered.all_inner_texts()
            assert first.split(" ")[0] == second.split(" ")[0]
            assert "Δ +0" in second or "Δ 0" in second, second
            assert chart_datasets(page, "twin-sl-chart") >= 2
            # in the provider's zone: Monday from midnight in Manila, not 16:00 UTC
            first_label = page.evaluate(
                "Chart.getChart(document.querySelector('#twin-sl-chart')).data.labels[0]"
            )
            assert first_label == f"Mon {monday.day:02d} 00:00"
            assert chart_datasets(page, "twin-backlog-chart") == 2
            assert chart_datasets(page, "twin-occupancy-chart") == 2
            page.screenshot(path=str(screenshot("planning-twin.png")), full_page=True)

            no_errors_so_far()
        finally:
            browser.close()

    # and what the pages showed is what was stored
    schedule = Schedule.objects.get()
    assert schedule.status == "published"
    assert schedule.shift_count == AGENTS
    assert set(schedule.shifts.values_list("worker__user__username", flat=True)) == {
        f"agent.{n}" for n in range(1, AGENTS + 1)
    }
    assert ScenarioRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2
    assert Worker.objects.filter(provider=provider).count() == AGENTS
    assert screenshot("planning-twin.png").stat().st_size > 0
