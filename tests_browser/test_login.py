"""A client user signs in through the real login form in headless Chromium and sees
only its own organisation's engagements; another client's page is a 404.

Uses the system Chromium (never `playwright install`). Without it the test is
skipped, except in CI (the CI variable is set), where a missing browser fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from offload.contracts.tests.factories import make_engagement, make_process
from offload.tenancy.tests.factories import make_client, make_provider, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "acme-browser-pass-1"  # noqa: S105 - a throwaway login in a throwaway test database


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"headless Chromium is not installed at {CHROMIUM}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI needs the browser test to run")
    pytest.skip(reason)


def screenshot_path() -> Path:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "client-login.png"


def test_client_user_signs_in_and_sees_only_its_own_engagements(live_server: LiveServer) -> None:
    require_chromium()
    # given: two clients of one provider, each with an engagement, and a client admin of Acme.
    # (All database work happens before Playwright starts its event loop, which Django's
    # ORM would refuse to run inside.)
    provider = make_provider("Northwind Services")
    acme = make_client("Acme Telecom")
    globex = make_client("Globex Insurance", country="GB", timezone="Europe/London")
    acme_engagement = make_engagement(acme, provider, name="Acme customer support")
    make_process(acme_engagement, name="Acme email support")
    make_engagement(globex, provider, name="Globex claims processing")
    make_user(acme, "client_admin", username="acme-admin", password=PASSWORD)
    acme_url = f"{live_server.url}/orgs/{acme.slug}/"
    globex_url = f"{live_server.url}/orgs/{globex.slug}/"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(15_000)

            # when: signing in through the form
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", "acme-admin")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")

            # then: the client's organisation page, its engagement and nothing of Globex's
            page.wait_for_url(acme_url)
            expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Telecom")
            expect(page.get_by_role("link", name="Acme customer support")).to_be_visible()
            assert "Globex claims processing" not in page.content()
            # the static files reached the live server: htmx runs and the stylesheet applies
            assert page.evaluate("typeof window.htmx") == "object"
            topbar_display = page.evaluate(
                "getComputedStyle(document.querySelector('.topbar')).display"
            )
            assert topbar_display == "flex"
            page.screenshot(path=str(screenshot_path()), full_page=True)

            # and an htmx tab swaps the list in place and pushes its URL
            page.get_by_role("tab", name="Processes").click()
            page.wait_for_url(f"{acme_url}?tab=processes")
            expect(page.get_by_role("link", name="Acme email support")).to_be_visible()
            expect(page.get_by_role("tab", name="Processes")).to_have_attribute(
                "aria-selected", "true"
            )

            # and Globex's organisation page does not exist for Acme's user
            response = page.goto(globex_url)
            assert response is not None
            assert response.status == 404
            assert "Globex claims processing" not in page.content()
        finally:
            browser.close()

    assert screenshot_path().stat().st_size > 0
