"""An agent signs in, becomes available, takes the next item and completes it with the
keyboard; a team lead's floor, open in another browser context, shows it after its
own refresh.

Uses the system Chromium, like test_login.py (skipped without it, except in CI).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from offload.contracts.tests.factories import make_engagement
from offload.tenancy.tests.factories import make_client, make_provider, make_user
from offload.work.models import WorkItem
from offload.work.tests.factories import make_item, make_process, make_queue
from offload.workers.tests.factories import make_agent
from tests_browser.test_login import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "northwind-browser-pass-1"  # noqa: S105 - a throwaway login in a throwaway test database
SOP = """# Billing disputes

1. Find the account in the billing system.
2. Check the last three invoices against the plan.
3. Refund the difference if the customer was overcharged.

| Amount | Approval |
| --- | --- |
| up to 50 | none |
| over 50 | team lead |
"""
# The floor polls every 5 s; leave room for one missed beat on a loaded machine.
FLOOR_TIMEOUT_MS = 15_000


def screenshot(name: str) -> Path:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def sign_in(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_an_agent_takes_and_completes_an_item_and_the_floor_shows_it(
    live_server: LiveServer,
) -> None:
    require_chromium()
    # given: a provider serving Acme's billing process, two items waiting, an agent
    # (offline) and a team lead. All database work happens before Playwright starts.
    provider = make_provider("Northwind Services")
    acme = make_client("Acme Telecom")
    process = make_process(
        engagement=make_engagement(acme, provider, name="Acme customer support"),
        name="Acme billing disputes",
        sop=SOP,
    )
    item = make_item(
        process,
        reference="TCK-1001",
        subject="Bill too high",
        priority="P2",
        payload={"account_number": "AC-00000001", "amount": "82.40", "plan": "Fibre 500"},
    )
    make_item(process, reference="TCK-1002", subject="Wrong address")
    make_queue(process, name="Billing tier 2", slug="billing-tier-2")
    make_agent(
        provider,
        user=make_user(provider, "agent", username="maria.santos", password=PASSWORD),
        skills={},
        processes=[process],
        channels={"email": 2},
    )
    make_user(provider, "team_lead", username="lead.reyes", password=PASSWORD)
    base = live_server.url

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # the team lead's floor, before anything happens
            floor = sign_in(browser, base, "lead.reyes")
            floor.get_by_test_id("nav-floor").click()
            floor.wait_for_url(f"{base}/floor/")
            agent_row = floor.get_by_test_id("agent-maria.santos")
            expect(agent_row).to_contain_text("offline")
            expect(agent_row.get_by_test_id("load")).to_contain_text("0/2")
            expect(floor.get_by_test_id("total-backlog")).to_have_text("2")
            expect(floor.get_by_test_id("total-completed")).to_have_text("0")

            # when: the agent signs in, becomes available and takes the next item
            agent = sign_in(browser, base, "maria.santos")
            agent.get_by_test_id("nav-workspace").click()
            agent.wait_for_url(f"{base}/workspace/")
            expect(agent.get_by_test_id("no-item")).to_be_visible()
            agent.get_by_test_id("presence").select_option("available")
            expect(agent.get_by_test_id("presence-badge")).to_have_text("available")
            agent.get_by_test_id("next-item").click()

            # then: the item, its payload and its SOP side by side, the lease and the clock
            current = agent.get_by_test_id("current-item")
            expect(current.get_by_role("heading", level=1)).to_contain_text("TCK-1001")
            agent.wait_for_url(f"{base}/workspace/items/{item.pk}/")
            expect(agent.get_by_test_id("payload")).to_contain_text("AC-00000001")
            expect(agent.get_by_test_id("sop")).to_contain_text("Billing disputes")
            expect(agent.get_by_test_id("lease")).to_contain_text("Lease until")
            expect(agent.get_by_test_id("handle-time")).to_have_text(re.compile(r"^0:0[1-9]$"))
            agent.screenshot(path=str(screenshot("workspace.png")), full_page=True)

            # and the floor shows the agent holding it, after its refresh
            expect(agent_row.get_by_test_id("load")).to_contain_text(
                "1/2", timeout=FLOOR_TIMEOUT_MS
            )
            expect(agent_row.get_by_test_id("current")).to_contain_text("TCK-1001")

            # when: the agent completes it with the keyboard (c: complete, resolved)
            agent.keyboard.press("c")

            # then: completed, in wrap-up with a Done button
            expect(agent.get_by_test_id("notice")).to_contain_text(
                "TCK-1001 is completed (resolved)"
            )
            expect(agent.get_by_test_id("wrap-up")).to_be_visible()
            agent.wait_for_url(f"{base}/workspace/")

            # and the floor counts the completion and shows the wrap-up
            expect(floor.get_by_test_id("total-completed")).to_have_text(
                "1", timeout=FLOOR_TIMEOUT_MS
            )
            expect(agent_row.get_by_test_id("completed")).to_have_text("1")
            expect(agent_row.get_by_test_id("current")).to_contain_text("wrap-up")

            # when: the agent ends the wrap-up
            agent.get_by_test_id("wrap-up-done").click()
            expect(agent.get_by_test_id("wrap-up")).to_have_count(0)

            # then: the floor sees the capacity free again
            expect(agent_row.get_by_test_id("load")).to_contain_text(
                "0/2", timeout=FLOOR_TIMEOUT_MS
            )
            expect(floor.get_by_test_id("total-backlog")).to_have_text("1")
            floor.screenshot(path=str(screenshot("floor.png")), full_page=True)
        finally:
            browser.close()

    item.refresh_from_db()
    assert item.status == "completed"
    assert item.outcome == "resolved"
    assert WorkItem.objects.get(reference="TCK-1002").status == "queued"
    assert screenshot("workspace.png").stat().st_size > 0
    assert screenshot("floor.png").stat().st_size > 0
