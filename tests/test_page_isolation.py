"""Every page, walked as another client and as an unrelated provider.

The pages come from Django's URL resolver (the admin and the API excluded: the API
has its own walk in test_isolation.py, the admin is staff-only and bypasses
tenancy by design, see docs/access.md). Each page's URL parameters are filled
from the ids of Acme's objects through PAGE_PARAMS; a new page missing from it
fails here by name. Globex's admin and Initech's admin then GET and POST each page:
a page about an object answers 404 exactly like a missing one, a page without
parameters shows none of Acme's names, and nothing in the database changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from offload.tenancy.models import User
from tests import routes
from tests.factories import Refs, World, make_world

pytestmark = pytest.mark.django_db

SKIPPED_PREFIXES = ("admin/", "api/")
# The URL name of each page with parameters -> {its parameter: the Refs field}.
PAGE_PARAMS: dict[str, dict[str, str]] = {
    "organisation_detail": {"slug": "client_slug"},
    "engagement_detail": {"pk": "engagement_id"},
    "process_detail": {"pk": "process_id"},
    "document_detail": {"pk": "document_id"},
    "calendar_detail": {"pk": "calendar_id"},
    "sla_policy_detail": {"pk": "policy_id"},
    "work_item_detail": {"pk": "item_id"},
    "work_item_attachments": {"pk": "item_id"},
    "work_item_attachment": {"pk": "item_id", "attachment_id": "attachment_id"},
    "work_item_invoice_check": {"pk": "item_id"},
    "webhook_detail": {"pk": "endpoint_id"},
    "webhook_redeliver": {"pk": "delivery_id"},
    "workspace_item": {"pk": "item_id"},
    "workspace_item_act": {"pk": "item_id"},
    "workspace_item_heartbeat": {"pk": "item_id"},
    "workspace_item_offer": {"pk": "item_id"},
    "notification_read": {"pk": "notification_id"},
    "forecast_detail": {"pk": "forecast_id"},
    "forecast_adjustment_delete": {"pk": "forecast_id", "adjustment_id": "adjustment_id"},
    "schedule_detail": {"pk": "schedule_id"},
    "time_off_decide": {"pk": "time_off_id"},
    "agent_contract_edit": {"pk": "worker_id"},
    "twin_scenario_detail": {"pk": "scenario_id"},
    "twin_run_detail": {"pk": "run_id"},
}
# Pages about the provider's own objects, which no client sees (not even its
# provider's): the control reads them as the provider's admin.
PROVIDER_ONLY_PAGES = frozenset(
    {
        "forecast_detail",
        "forecast_adjustment_delete",
        "schedule_detail",
        "time_off_decide",
        "agent_contract_edit",
        "twin_scenario_detail",
        "twin_run_detail",
    }
)
# Pages without parameters that are not about tenant data.
PUBLIC = {"login", "logout"}


@dataclasses.dataclass(frozen=True)
class Page:
    name: str
    template: str  # e.g. "items/<int:pk>/"
    params: tuple[str, ...]

    def url(self, refs: Refs) -> str:
        path = self.template
        for param, field in PAGE_PARAMS[self.name].items():
            converter = next(p for p in path.split("<")[1:] if p.split(">")[0].endswith(param))
            path = path.replace(f"<{converter.split('>')[0]}>", str(getattr(refs, field)))
        return "/" + path

    def __str__(self) -> str:
        return self.name or self.template


def _walk(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[Page]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            template = prefix + str(pattern.pattern)
            params = tuple(pattern.pattern.converters)
            yield Page(pattern.name or "", template, params)


PAGES = [
    p for p in _walk(get_resolver().url_patterns) if not p.template.startswith(SKIPPED_PREFIXES)
]


@pytest.fixture
def world() -> World:
    return make_world()


def signed_in(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


WALKERS = {"globex": "globex-admin", "initech": "initech-admin"}


@pytest.mark.parametrize("walker", list(WALKERS))
@pytest.mark.parametrize("page", [p for p in PAGES if p.name not in PUBLIC], ids=str)
def test_page_never_shows_or_changes_another_organisation(page: Page, walker: str, world: World):
    # given
    browser = signed_in(WALKERS[walker])
    foreign = world.acme.refs
    markers = (*world.acme.markers, *(world.globex.markers if walker == "initech" else ()))
    before = routes.snapshot()
    # when / then
    if page.params:
        if page.name not in PAGE_PARAMS:
            pytest.fail(f"page {page.template} ({page.name}): add its parameters to PAGE_PARAMS")
        url = page.url(foreign)
        for method in (browser.get, browser.post):
            response = method(url)
            assert response.status_code == 404, (page, method, response.status_code)
    else:
        response = browser.get("/" + page.template, follow=True)
        assert response.status_code == 200, (page, response.status_code)
        text = response.content.decode().lower()
        assert [m for m in markers if m in text] == [], page
    assert routes.changes(before, routes.snapshot()) == [], page


@pytest.mark.parametrize("page", [p for p in PAGES if p.params], ids=str)
def test_page_serves_the_walkers_own_objects(page: Page, world: World):
    """The control: the 404s above come from isolation, not from a broken page."""
    # given
    browser = signed_in("northwind-admin" if page.name in PROVIDER_ONLY_PAGES else "globex-admin")
    # when
    response = browser.get(page.url(world.globex.refs))
    # then: the page, or a redirect to it for a form's post-only address
    assert response.status_code in {200, 302}, (page, response.status_code)
