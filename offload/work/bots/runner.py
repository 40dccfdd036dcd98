"""Run a built-in bot as a real client of the API: `offload bot run invoice-check`.

No Django here: the bot talks to Offload only over HTTP with its API key, exactly as
a bot written by anyone else would (import-linter keeps this module Django-free).

The loop (docs/bots.md):

1. `GET /workers/me` (the key must be an active unattended bot's), then each of its
   processes must be an invoice process (its item schema has the invoice fields),
   or the bot refuses to start: it would fail every other item;
2. `POST /workers/{id}/presence` available;
3. `POST /work/next`: 200 is an item the bot now holds. It reads the earlier items
   of the process to find duplicates, runs the invoice check, and completes a
   valid invoice (`resolved`, the check's figures as `result`) or fails an invalid
   one as a business failure (the findings as the reason: the item goes to the
   process's review queue for a person). A valid invoice is completed with
   `POST /work/{id}/complete-and-next`, whose `next` item the bot works on without
   pulling again. 204 is an empty queue: wait, backing off up to `idle_max`
   seconds, or stop with `once`;
4. on SIGTERM or SIGINT (`stop()`) the item in hand is finished (the check is done)
   or released; presence goes offline on the way out.

Network failures and 5xx answers are retried with backoff and never end the loop;
a bot killed outright loses nothing: its item comes back when the lease expires.
A 409 on an item (the lease was lost: it expired, or a team lead moved the item)
skips that item.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from offload.work.bots import invoice_check

API_PREFIX = "/api/v1"
DEFAULT_API = "http://127.0.0.1:8000"
KEY_ENV = "OFFLOAD_BOT_KEY"
API_ENV = "OFFLOAD_API_URL"
PAGE_LIMIT = 500
USER_AGENT = "offload-bot/1"

NOT_HTTP = "the API address must be an http:// or https:// URL, not {url!r}"
KEY_REFUSED = "the API refused the key ({status}): {detail}"
NOT_A_WORKER = "this key is not a worker's; use the key of the bot's user ({detail})"
NOT_AN_UNATTENDED_BOT = (
    "worker {worker} ({username}) is not an active unattended bot (kind {kind}, mode {mode})"
)
NOT_INVOICES = (
    "bot {username} is eligible for process '{process}' of client {client}, whose items are "
    "not invoices (its item schema lacks {missing}); the invoice check would fail every one"
)
UNEXPECTED = "unexpected answer to {what}: {status}"
NO_PROCESSES = "bot {username} is eligible for no process: there is nothing to pull"


class BotError(Exception):
    """The bot cannot run at all (a bad key, not a bot): the command reports it and exits."""


class Unavailable(Exception):
    """The API could not be reached or answered 5xx: worth trying again."""


class Stopped(Exception):
    """A stop was asked for while waiting to retry."""


@dataclass(frozen=True)
class Response:
    status: int
    body: Any

    def detail(self) -> str:
        if isinstance(self.body, Mapping):
            return str(self.body.get("detail") or self.body)
        return str(self.body)


class Api:
    """The API over urllib: JSON in, JSON out, the key as a Bearer token."""

    def __init__(self, base_url: str, key: str, *, timeout: float = 30.0) -> None:
        base = base_url.rstrip("/")
        base = base.removesuffix(API_PREFIX)
        if urllib.parse.urlsplit(base).scheme not in {"http", "https"}:
            raise BotError(NOT_HTTP.format(url=base_url))
        self.base = base
        self.key = key
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> Response:
        url = f"{self.base}{API_PREFIX}{path}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            url,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.key}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 (as above)
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            raise Unavailable(f"{method} {path}: {exc}") from exc
        if status >= 500:
            raise Unavailable(f"{method} {path}: {status}")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Response(status, parsed)


# ------------------------------------------------------------------ duplicates


@dataclass
class _Entry:
    client_id: int
    key: tuple[str, str] | None
    reference: str
    status: str
    parent_id: int | None


@dataclass
class InvoiceIndex:
    """The invoices of one process slug, read from `GET /items?process=<slug>` page by
    page and kept in memory, to answer "is there an earlier item with this invoice?".

    The API has no filter on payload fields, so the bot reads the process's items
    itself. Pages are in id order; a refresh starts again at the last (partial) page,
    so new items are read once and the tail's statuses stay fresh. An older item
    cancelled after it was read still counts until the bot restarts: the invoice
    then fails to a person, who sees the earlier item named in the reason.
    """

    fetch: Callable[[str | None], Mapping[str, Any]]
    entries: dict[int, _Entry] = field(default_factory=dict)
    by_key: dict[tuple[int, str, str], set[int]] = field(default_factory=dict)
    cursor: str | None = None
    high: int = 0

    def refresh(self, up_to: int) -> None:
        """Read on until the index holds every item up to id `up_to`."""
        if up_to <= self.high:
            return
        cursor = self.cursor
        while True:
            page = self.fetch(cursor)
            for item in page.get("items", []):
                self._put(item)
            following = page.get("next_cursor")
            if not following:
                self.cursor = cursor
                return
            cursor = following

    def _put(self, item: Mapping[str, Any]) -> None:
        payload = item.get("payload")
        key = invoice_check.invoice_key(payload) if isinstance(payload, Mapping) else None
        pk, client_id = int(item["id"]), int(item["client_id"])
        old = self.entries.get(pk)
        if old is not None and old.key is not None:
            self.by_key.get((old.client_id, *old.key), set()).discard(pk)
        self.entries[pk] = _Entry(
            client_id, key, str(item["reference"]), str(item["status"]), item.get("parent_id")
        )
        if key is not None:
            self.by_key.setdefault((client_id, *key), set()).add(pk)
        self.high = max(self.high, pk)

    def _ancestors(self, item: Mapping[str, Any]) -> set[int]:
        """The item's earlier attempts: a system failure's retry carries its payload."""
        found: set[int] = set()
        parent = item.get("parent_id")
        while isinstance(parent, int) and parent not in found:
            found.add(parent)
            entry = self.entries.get(parent)
            parent = entry.parent_id if entry is not None else None
        return found

    def duplicate_of(self, item: Mapping[str, Any]) -> invoice_check.DuplicateOf:
        pk, client_id = int(item["id"]), int(item["client_id"])
        ancestors = self._ancestors(item)

        def lookup(tax_id: str, number: str) -> str | None:
            for other in sorted(self.by_key.get((client_id, tax_id, number), ())):
                entry = self.entries[other]
                if other < pk and other not in ancestors and entry.status != "cancelled":
                    return entry.reference
            return None

        return lookup


# ------------------------------------------------------------------ the bot


@dataclass
class Stats:
    completed: int = 0
    failed: int = 0
    lost: int = 0  # the lease was lost before the bot could finish (409/404)
    released: int = 0
    errors: int = 0

    @property
    def handled(self) -> int:
        return self.completed + self.failed + self.lost + self.released + self.errors

    def __str__(self) -> str:
        return (
            f"{self.completed} completed, {self.failed} failed to review, "
            f"{self.lost} lost, {self.released} released, {self.errors} errors"
        )


class InvoiceCheckBot:
    """The unattended invoice-check bot (`offload bot run invoice-check`)."""

    name = invoice_check.NAME

    def __init__(
        self,
        api: Api,
        *,
        once: bool = False,
        max_items: int | None = None,
        log: Callable[[str], None] = print,
        idle_min: float = 0.5,
        idle_max: float = 5.0,
        retry_max: float = 10.0,
    ) -> None:
        self.api = api
        self.once = once
        self.max_items = max_items
        self.log = log
        self.idle_min, self.idle_max, self.retry_max = idle_min, idle_max, retry_max
        self.stats = Stats()
        self._stop = threading.Event()
        self._indexes: dict[str, InvoiceIndex] = {}

    # -------------------------------------------------------------- control

    def stop(self) -> None:
        """Finish or release the item in hand, then leave (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> Response:
        """One call, tried again with backoff while the API is unreachable."""
        delay = self.idle_min
        while True:
            try:
                return self.api.call(method, path, body, query)
            except Unavailable as exc:
                if self.stopping:
                    raise Stopped from exc
                self.log(f"API unavailable ({exc}); trying again in {delay:.1f}s")
                self._wait(delay)
                delay = min(delay * 2, self.retry_max)

    # -------------------------------------------------------------- start and stop

    def _start(self) -> dict[str, Any]:
        me = self._call("GET", "/workers/me")
        if me.status in {401, 403}:
            raise BotError(KEY_REFUSED.format(status=me.status, detail=me.detail()))
        if me.status == 404:
            raise BotError(NOT_A_WORKER.format(detail=me.detail()))
        if me.status != 200 or not isinstance(me.body, dict):
            raise BotError(UNEXPECTED.format(what="GET /workers/me", status=me.status))
        worker: dict[str, Any] = me.body
        if (
            worker.get("kind") != "bot"
            or worker.get("bot_mode") != "unattended"
            or not worker.get("is_active")
        ):
            raise BotError(
                NOT_AN_UNATTENDED_BOT.format(
                    worker=worker.get("id"),
                    username=worker.get("username"),
                    kind=worker.get("kind"),
                    mode=worker.get("bot_mode"),
                )
            )
        if not worker.get("processes"):
            raise BotError(NO_PROCESSES.format(username=worker.get("username")))
        for process in worker["processes"]:
            found = self._call("GET", f"/processes/{process['id']}")
            body = found.body if found.status == 200 and isinstance(found.body, dict) else {}
            schema = body.get("item_schema") or {}
            if not invoice_check.applies_to(schema):
                properties = schema.get("properties") or {}
                missing = [f for f in invoice_check.FIELDS if f not in properties]
                raise BotError(
                    NOT_INVOICES.format(
                        username=worker.get("username"),
                        process=process["slug"],
                        client=process["client_id"],
                        missing=", ".join(missing),
                    )
                )
        self._presence(worker, "available")
        return worker

    def _presence(self, worker: Mapping[str, Any], presence: str) -> None:
        answer = self._call("POST", f"/workers/{worker['id']}/presence", {"presence": presence})
        if answer.status != 200:
            self.log(f"could not set presence {presence}: {answer.status} {answer.detail()}")

    def run(self) -> Stats:
        """Work until stopped (or, with `once`, until the queue is empty)."""
        try:
            worker = self._start()
        except Stopped:
            self.log(f"{self.name}: stopped before it could start")
            return self.stats
        self.log(
            f"{self.name}: worker {worker['id']} ({worker['username']}) available on "
            + ", ".join(p["slug"] for p in worker["processes"])
        )
        try:
            self._loop()
        except Stopped:
            pass
        finally:
            try:
                answer = self.api.call(
                    "POST", f"/workers/{worker['id']}/presence", {"presence": "offline"}
                )
                if answer.status != 200:
                    self.log(f"could not go offline: {answer.status} {answer.detail()}")
            except Unavailable as exc:
                self.log(f"could not go offline: {exc}")
        self.log(f"{self.name}: stopped; {self.stats}")
        return self.stats

    # -------------------------------------------------------------- the loop

    def _loop(self) -> None:
        idle = self.idle_min
        # The next item a completion handed over (complete-and-next), if any.
        handed: Mapping[str, Any] | None = None
        while not self.stopping:
            if self.max_items is not None and self.stats.handled >= self.max_items:
                return
            if handed is not None:
                handed = self._work(handed)
                continue
            answer = self._call("POST", "/work/next", {})
            if answer.status == 200:
                idle = self.idle_min
                handed = self._work(answer.body)
                continue
            if answer.status in {401, 403}:
                raise BotError(KEY_REFUSED.format(status=answer.status, detail=answer.detail()))
            if answer.status == 204:
                if self.once:
                    return
            else:
                # 409: not available (a manager set the bot away): wait until it is again.
                self.log(f"no work: {answer.status} {answer.detail()}")
                if self.once:
                    return
            self._wait(idle)
            idle = min(idle * 2, self.idle_max)
        if handed is not None:
            self._release(self._pk(handed))

    @staticmethod
    def _pk(claim: Mapping[str, Any]) -> int:
        return int(claim["item"]["id"])

    def _index(self, process: str) -> InvoiceIndex:
        if process not in self._indexes:

            def fetch(cursor: str | None) -> Mapping[str, Any]:
                query = {"process": process, "limit": PAGE_LIMIT, "cursor": cursor}
                answer = self._call("GET", "/items", query=query)
                if answer.status != 200:
                    raise Unavailable(f"GET /items: {answer.status} {answer.detail()}")
                body: Mapping[str, Any] = answer.body
                return body

            self._indexes[process] = InvoiceIndex(fetch)
        return self._indexes[process]

    def _work(self, claim: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """One claimed item; whatever goes wrong with it, the loop goes on. The next
        claim when its completion handed one over."""
        try:
            item, lease = claim["item"], claim["lease"]
            pk = self._pk(claim)
        except (KeyError, TypeError, ValueError):
            self.stats.errors += 1
            self.log(f"an unreadable claim: {claim!r}")
            return None
        try:
            return self._handle(item, lease)
        except Stopped:
            raise
        except Exception as exc:  # a daemon's loop outlives one bad item
            self.stats.errors += 1
            self.log(f"item {pk}: {type(exc).__name__}: {exc}; releasing it")
            self._release(pk)
            return None

    def _handle(
        self, item: Mapping[str, Any], lease: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        pk, started = int(item["id"]), time.monotonic()
        if self.stopping:
            self._release(pk)
            return None
        try:
            index = self._index(str(item["process"]))
            index.refresh(pk)
        except Stopped:
            self._release(pk)
            raise
        except Unavailable as exc:
            self.log(f"item {pk}: cannot read earlier invoices ({exc}); releasing it")
            self._release(pk)
            return None
        result = invoice_check.check(
            item.get("payload") or {}, duplicate_of=index.duplicate_of(item)
        )
        if not self._still_held(pk, lease, started):
            return None
        seconds = max(0, round(time.monotonic() - started))
        # Complete and take the next item in one request while the loop goes on.
        more = not self.stopping and (
            self.max_items is None or self.stats.handled + 1 < self.max_items
        )
        if result.ok:
            body = {"outcome": "resolved", "result": result.as_dict(), "handle_seconds": seconds}
            path = f"/work/{pk}/complete-and-next" if more else f"/items/{pk}/complete"
            answer = self._call("POST", path, body)
        else:
            body = {"kind": "business", "reason": result.reason()}
            answer = self._call("POST", f"/items/{pk}/fail", body)
        if answer.status == 200:
            if result.ok:
                self.stats.completed += 1
                self.log(f"item {pk} {item['reference']}: valid, completed")
                handed: Mapping[str, Any] | None = (answer.body or {}).get("next")
                return handed if more else None
            self.stats.failed += 1
            self.log(f"item {pk} {item['reference']}: {result.reason()}")
        elif answer.status in {404, 409}:
            self.stats.lost += 1
            self.log(f"item {pk}: lease lost ({answer.status} {answer.detail()}); skipped")
        else:
            self.stats.errors += 1
            self.log(f"item {pk}: refused ({answer.status} {answer.detail()})")
        return None

    def _still_held(self, pk: int, lease: Mapping[str, Any], started: float) -> bool:
        """Beat the lease's heart when half of it has gone by (slow reads of the index)."""
        try:
            length = (
                datetime.fromisoformat(lease["lease_expires_at"])
                - datetime.fromisoformat(lease["assigned_at"])
            ).total_seconds()
        except (KeyError, TypeError, ValueError):
            length = 0.0
        if time.monotonic() - started < length / 2:
            return True
        answer = self._call("POST", f"/work/{pk}/heartbeat", {})
        if answer.status == 200:
            return True
        self.stats.lost += 1
        self.log(f"item {pk}: lease lost ({answer.status} {answer.detail()}); skipped")
        return False

    def _release(self, pk: int) -> None:
        try:
            answer = self.api.call("POST", f"/work/{pk}/release", {"reason": "bot stopping"})
        except Unavailable as exc:
            self.log(f"item {pk}: could not release ({exc}); it returns when its lease expires")
            return
        if answer.status == 200:
            self.stats.released += 1
        else:
            self.log(f"item {pk}: could not release ({answer.status} {answer.detail()})")


BOTS: dict[str, type[InvoiceCheckBot]] = {invoice_check.NAME: InvoiceCheckBot}
