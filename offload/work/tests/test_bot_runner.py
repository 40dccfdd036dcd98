"""`offload bot run invoice-check`: the runner as a real HTTP client.

The end-to-end tests serve the app with pytest-django's `live_server` (a thread on
the test database) and run the command against its URL. The loop's behaviour on a
flaky network, lost leases and stops is tested against a scripted API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from offload.contracts.models import Process
from offload.tenancy.tests.factories import make_api_key, make_user
from offload.work.bots import invoice_check, runner
from offload.work.models import WorkItem, WorkItemEvent
from offload.work.tests.factories import (
    invoice_payload,
    make_invoice_process,
    make_item,
    make_process,
)
from offload.workers.models import Worker
from offload.workers.tests.factories import make_bot

# ------------------------------------------------------------------ end to end


def bot_on(process: Process, **overrides: Any) -> tuple[Worker, str]:
    worker = make_bot(process.provider, processes=[process], **overrides)
    return worker, make_api_key(process.provider, user=worker.user)[1]


def run_bot(url: str, key: str, *extra: str) -> str:
    out = StringIO()
    call_command("bot", "run", "invoice-check", "--api", url, "--key", key, *extra, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_bot_completes_valid_invoices_and_fails_the_rest_to_review(live_server):
    # given
    process = make_invoice_process()
    valid = make_item(process, reference="VALID", payload=invoice_payload(invoice_number="A-1"))
    also_valid = make_item(
        process,
        reference="ALSO-VALID",
        payload=invoice_payload(invoice_number="A-2", supplier_tax_id="PL5260250274"),
    )
    bad_tax = make_item(
        process,
        reference="BAD-TAX",
        payload=invoice_payload(invoice_number="A-3", tax_amount="30.00", total_amount=None),
    )
    bad_lines = make_item(
        process,
        reference="BAD-LINES",
        payload=invoice_payload(invoice_number="A-4", lines=[{"amount": "155.49"}]),
    )
    bad_vat = make_item(
        process,
        reference="BAD-VAT",
        payload=invoice_payload(invoice_number="A-5", supplier_tax_id="GB123456789"),
    )
    duplicate = make_item(
        process, reference="DUPLICATE", payload=invoice_payload(invoice_number="a-1 ")
    )
    worker, key = bot_on(process)
    # when
    out = run_bot(live_server.url, key, "--once")
    # then: the valid ones completed with the check's figures
    for item in (valid, also_valid):
        item.refresh_from_db()
        assert (item.status, item.outcome) == ("completed", "resolved"), out
        assert item.result["ok"] is True
        assert item.result["figures"]["tax_expected"] == "31.10"
        assert item.result["figures"]["invoice_number"] == item.payload["invoice_number"]
        completed = WorkItemEvent.objects.get(item=item, type="completed")
        assert completed.actor_user_id == worker.user_id
    # the others failed to the review queue, the reason naming the findings
    expected = {
        bad_tax: "tax_mismatch",
        bad_lines: "lines_net_mismatch",
        bad_vat: "tax_id_checksum",
        duplicate: "duplicate_invoice",
    }
    for item, code in expected.items():
        item.refresh_from_db()
        assert (item.status, item.failure_kind) == ("failed", "business"), item.reference
        assert item.queue.is_review
        assert item.failure_reason.startswith("invoice check failed:")
        assert f"({code})" in item.failure_reason, item.failure_reason
    assert "already received as item VALID" in duplicate.failure_reason
    worker.refresh_from_db()
    assert worker.presence == "offline"
    assert "2 completed, 4 failed to review, 0 lost, 0 released, 0 errors" in out


@pytest.mark.django_db(transaction=True)
def test_max_items_stops_after_that_many(live_server):
    # given
    process = make_invoice_process()
    items = [make_item(process, payload=invoice_payload()) for _ in range(3)]
    _, key = bot_on(process)
    # when
    out = run_bot(live_server.url, key, "--max-items", "2")
    # then
    statuses = sorted(WorkItem.objects.filter(pk__in=[i.pk for i in items]).values_list("status"))
    assert statuses == [("completed",), ("completed",), ("queued",)], out


@pytest.mark.django_db(transaction=True)
def test_the_bot_refuses_keys_that_are_not_an_invoice_bots(live_server):
    # given
    process = make_invoice_process()
    ticket_process = make_process(engagement=process.engagement, channel="back_office")
    _, ticket_bot_key = bot_on(ticket_process)
    _, attended_key = bot_on(process, bot_mode="attended")
    agent_key = make_api_key(process.provider, user=make_user(process.provider, "agent"))[1]
    # when / then
    with pytest.raises(CommandError, match="items are not invoices"):
        run_bot(live_server.url, ticket_bot_key, "--once")
    with pytest.raises(CommandError, match="not an active unattended bot"):
        run_bot(live_server.url, attended_key, "--once")
    with pytest.raises(CommandError, match="not a worker's"):
        run_bot(live_server.url, agent_key, "--once")
    with pytest.raises(CommandError, match="refused the key"):
        run_bot(live_server.url, "not-a-key", "--once")


def test_the_command_needs_a_key(monkeypatch):
    monkeypatch.delenv(runner.KEY_ENV, raising=False)
    with pytest.raises(CommandError, match="no API key"):
        call_command("bot", "run", "invoice-check", "--once", stdout=StringIO())
    with pytest.raises(CommandError, match="http:// or https://"):
        call_command("bot", "run", "invoice-check", "--api", "ftp://x", "--key", "k")


# ------------------------------------------------------------------ a scripted API

Handler = Callable[[str, str, Any, Any], runner.Response]

BOT = {
    "id": 7,
    "username": "bot.invoice-check",
    "kind": "bot",
    "bot_mode": "unattended",
    "is_active": True,
    "processes": [{"id": 3, "slug": "ap", "client_id": 2}],
}
PROCESS = {"id": 3, "item_schema": {"properties": {f: {} for f in invoice_check.FIELDS}}}
LEASE = {
    "assigned_at": "2026-10-05T09:00:00+00:00",
    "lease_expires_at": "2026-10-05T09:10:00+00:00",
}


def api_item(pk: int, **payload: Any) -> dict[str, Any]:
    return {
        "id": pk,
        "client_id": 2,
        "reference": f"R{pk}",
        "process": "ap",
        "status": "assigned",
        "parent_id": None,
        "payload": invoice_payload(**payload),
    }


class ScriptedApi(runner.Api):
    """Answers from `routes` (method and path regex -> a list of answers, the last one
    repeating); an `Exception` in the list is raised. Every call is recorded."""

    def __init__(self, routes: dict[str, list[Any]]) -> None:
        super().__init__("http://api.test", "key")
        self.routes = routes
        self.calls: list[tuple[str, str, Any]] = []

    def call(self, method: str, path: str, body: Any = None, query: Any = None) -> runner.Response:
        self.calls.append((method, path, body))
        for pattern, answers in self.routes.items():
            if re.fullmatch(pattern, f"{method} {path}"):
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if isinstance(answer, Exception):
                    raise answer
                status, data = answer
                return runner.Response(status, data)
        raise AssertionError(f"unexpected {method} {path}")

    def paths(self, method: str) -> list[str]:
        return [p for m, p, _ in self.calls if m == method]


def scripted(routes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The answers of a working API, with `routes` instead where they say."""
    base: dict[str, list[Any]] = {
        r"GET /workers/me": [(200, BOT)],
        r"GET /processes/3": [(200, PROCESS)],
        r"POST /workers/7/presence": [(200, BOT)],
        r"GET /items": [(200, {"items": [], "next_cursor": None})],
        r"POST /items/\d+/complete": [(200, {})],
        r"POST /work/\d+/complete-and-next": [(200, {"completed": {}, "next": None})],
        r"POST /items/\d+/fail": [(200, {})],
        r"POST /work/\d+/release": [(200, {})],
        r"POST /work/next": [(204, None)],
    }
    # The first pattern that matches answers: the test's own come first.
    return {**routes, **{k: v for k, v in base.items() if k not in routes}}


def make_bot_runner(api: runner.Api, **options: Any) -> runner.InvoiceCheckBot:
    options = {"once": True, "idle_min": 0.001, "idle_max": 0.002, "retry_max": 0.002, **options}
    return runner.InvoiceCheckBot(api, log=lambda line: None, **options)


def test_network_failures_are_retried_and_never_end_the_loop():
    # given: the API is down twice, then pulls one item
    claim = {"item": api_item(10), "lease": LEASE}
    api = ScriptedApi(
        scripted(
            {
                r"POST /work/next": [
                    runner.Unavailable("connection refused"),
                    runner.Unavailable("502"),
                    (200, claim),
                    (204, None),
                ],
            }
        )
    )
    # when
    stats = make_bot_runner(api).run()
    # then
    assert stats.completed == 1
    assert api.paths("POST").count("/work/next") == 4
    complete = next(b for m, p, b in api.calls if p == "/work/10/complete-and-next")
    assert complete["outcome"] == "resolved"
    assert complete["result"]["ok"] is True


def test_the_next_item_a_completion_hands_over_is_worked_without_pulling():
    # given: the first completion hands over item 21, the second nothing
    api = ScriptedApi(
        scripted(
            {
                r"POST /work/next": [(200, {"item": api_item(20), "lease": LEASE}), (204, None)],
                r"POST /work/20/complete-and-next": [
                    (200, {"completed": {}, "next": {"item": api_item(21), "lease": LEASE}})
                ],
                r"POST /work/21/complete-and-next": [(200, {"completed": {}, "next": None})],
            }
        )
    )
    # when
    stats = make_bot_runner(api).run()
    # then: one pull for the two items, and one more that found the queue empty
    assert stats.completed == 2
    assert api.paths("POST").count("/work/next") == 2
    assert "/work/21/complete-and-next" in api.paths("POST")


def test_with_one_item_left_to_do_the_bot_completes_without_taking_another():
    # given
    api = ScriptedApi(
        scripted({r"POST /work/next": [(200, {"item": api_item(22), "lease": LEASE})]})
    )
    # when
    stats = make_bot_runner(api, max_items=1).run()
    # then
    assert stats.completed == 1
    assert "/items/22/complete" in api.paths("POST")
    assert "/work/22/complete-and-next" not in api.paths("POST")


def test_a_lost_lease_skips_the_item():
    # given
    claim = {"item": api_item(11, tax_amount="1.00"), "lease": LEASE}
    api = ScriptedApi(
        scripted(
            {
                r"POST /work/next": [(200, claim), (204, None)],
                r"POST /items/11/fail": [(409, {"detail": "this item is held by worker 3"})],
            }
        )
    )
    # when
    stats = make_bot_runner(api).run()
    # then
    assert (stats.failed, stats.lost) == (0, 1)


def test_a_stop_releases_the_item_in_hand_and_goes_offline():
    # given: the stop comes while the bot waits for the claim's answer
    holder: list[runner.InvoiceCheckBot] = []

    class StoppingApi(ScriptedApi):
        def call(self, method: str, path: str, body: Any = None, query: Any = None) -> Any:
            answer = super().call(method, path, body, query)
            if path == "/work/next":
                holder[0].stop()
            return answer

    api = StoppingApi(
        scripted({r"POST /work/next": [(200, {"item": api_item(12), "lease": LEASE})]})
    )
    bot = make_bot_runner(api, once=False)
    holder.append(bot)
    # when
    stats = bot.run()
    # then
    assert stats.released == 1
    assert ("POST", "/work/12/release", {"reason": "bot stopping"}) in api.calls
    assert api.calls[-1] == ("POST", "/workers/7/presence", {"presence": "offline"})
    assert not {"/items/12/complete", "/work/12/complete-and-next"} & set(api.paths("POST"))


def test_a_stop_while_the_api_is_down_ends_the_run_quietly():
    # given: the API never answers, and a stop comes while the bot waits to retry
    holder: list[runner.InvoiceCheckBot] = []

    class DownApi(ScriptedApi):
        def call(self, method: str, path: str, body: Any = None, query: Any = None) -> Any:
            self.calls.append((method, path, body))
            holder[0].stop()
            raise runner.Unavailable("connection refused")

    api = DownApi({})
    bot = make_bot_runner(api, once=False)
    holder.append(bot)
    # when
    stats = bot.run()
    # then
    assert stats.handled == 0
    assert api.calls == [("GET", "/workers/me", None)]


def test_an_unexpected_answer_is_an_error_and_the_item_is_released():
    # given: a claim without a payload the bot can read
    claim = {"item": {"id": 13, "process": "ap"}, "lease": LEASE}
    api = ScriptedApi(scripted({r"POST /work/next": [(200, claim), (204, None)]}))
    # when
    stats = make_bot_runner(api).run()
    # then
    assert stats.errors == 1
    assert "/work/13/release" in api.paths("POST")


def test_a_slow_check_beats_the_leases_heart_and_stops_if_it_was_lost():
    # given: a lease of no length, so the bot must heartbeat before acting
    lease = {**LEASE, "lease_expires_at": LEASE["assigned_at"]}
    api = ScriptedApi(
        scripted(
            {
                r"POST /work/next": [(200, {"item": api_item(14), "lease": lease}), (204, None)],
                r"POST /work/14/heartbeat": [(409, {"detail": "this item is not held by you"})],
            }
        )
    )
    # when
    stats = make_bot_runner(api).run()
    # then
    assert stats.lost == 1
    assert not {"/items/14/complete", "/work/14/complete-and-next"} & set(api.paths("POST"))


# ------------------------------------------------------------------ the duplicate index


def pages(*chunks: list[dict[str, Any]]) -> Callable[[str | None], dict[str, Any]]:
    """A fetch over fixed pages; the cursor is the page's number."""
    seen: list[str | None] = []

    def fetch(cursor: str | None) -> dict[str, Any]:
        seen.append(cursor)
        n = int(cursor or 0)
        following = str(n + 1) if n + 1 < len(chunks) else None
        return {"items": chunks[n], "next_cursor": following}

    fetch.seen = seen  # type: ignore[attr-defined]
    return fetch


def test_the_index_reads_every_page_then_only_the_tail():
    # given
    first = [api_item(1, invoice_number="A"), api_item(2, invoice_number="B")]
    tail = [api_item(3, invoice_number="A")]
    fetch = pages(first, tail)
    index = runner.InvoiceIndex(fetch)
    # when
    index.refresh(3)
    index.refresh(3)  # nothing new: no call
    index.refresh(4)  # the tail again
    # then
    assert fetch.seen == [None, "1", "1"]  # type: ignore[attr-defined]
    lookup = index.duplicate_of(api_item(3))
    assert lookup("GB434031494", "A") == "R1"
    assert index.duplicate_of(api_item(1))("GB434031494", "A") is None


def test_the_index_ignores_cancelled_items_other_clients_and_earlier_attempts():
    # given
    cancelled = {**api_item(1, invoice_number="A"), "status": "cancelled"}
    other_client = {**api_item(2, invoice_number="A"), "client_id": 99}
    failed = {**api_item(3, invoice_number="A"), "status": "failed"}
    retry = {**api_item(4, invoice_number="A"), "parent_id": 3}
    index = runner.InvoiceIndex(pages([cancelled, other_client, failed, retry]))
    index.refresh(4)
    # when / then
    assert index.duplicate_of(retry)("GB434031494", "A") is None
    assert index.duplicate_of(api_item(5))("GB434031494", "A") == "R3"
