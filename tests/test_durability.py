"""Accepted means durable: the real server, killed mid bulk import, loses nothing it
acknowledged and writes nothing twice.

The app is served by `offload serve --no-worker` as a subprocess on the test
database (PostgreSQL only: it needs a database two processes share). A client
thread posts bulk batches and records each acknowledged batch; the server is
SIGKILLed while batches are in flight, started again, and every batch not
acknowledged is sent again (intake is idempotent on the reference). Then every
acknowledged item exists, no reference exists twice, and each item has exactly one
`created` and one `queued` event. A batch cut off by the kill is wholly there or
wholly absent: the call is one transaction.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from django.db.models import Count

from offload.contracts.models import Process
from offload.tenancy.tests.factories import key_for
from offload.work.models import WorkItem, WorkItemEvent
from offload.work.tests.factories import make_process

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="a server process and the test share PostgreSQL"
    ),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent
BULK = "/api/v1/items/bulk"
BATCH = 200
BATCHES = 40
SCHEMA = {
    "type": "object",
    "required": ["account"],
    "properties": {"account": {"type": "string", "pattern": "^AC-[0-9]{8}$"}},
}


def _database_url() -> str:
    """The test database, as a URL for the server process."""
    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{user}{password}@{host}{port}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _serve(tmp_path: Path, name: str) -> Server:
    port = _free_port()
    log = tmp_path / f"{name}.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "OFFLOAD_VAR_DIR": str(tmp_path / "var"),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "offload.cli", "serve", "--no-worker", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    # Generous: under a full parallel test run the machine may be slow to start Django.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return Server(process, port, log)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the server did not start: {log.read_text()}")


def _post(port: int, secret: str, body: bytes) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            BULK,
            body=body,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _batches() -> list[list[str]]:
    return [[f"D-{b}-{i}" for i in range(BATCH)] for b in range(BATCHES)]


def _body(process: Process, references: list[str]) -> bytes:
    items = [
        {
            "reference": r,
            "process": process.slug,
            "subject": "Durable",
            "payload": {"account": f"AC-{n:08d}", "text": "x" * 200},
        }
        for n, r in enumerate(references)
    ]
    return json.dumps({"items": items}).encode()


@dataclass
class Sender:
    """Posts batches one after another from two threads, noting each acknowledgement
    (a 200 whose rows are all accepted or duplicates), until the server is gone."""

    port: int
    secret: str
    bodies: dict[int, bytes]
    acknowledged: dict[int, dict[str, int]]  # batch -> reference -> id
    started: set[int]
    lock: threading.Lock

    def run(self, pending: list[int]) -> None:
        while True:
            with self.lock:
                if not pending:
                    return
                batch = pending.pop(0)
                self.started.add(batch)
            try:
                status, answer = _post(self.port, self.secret, self.bodies[batch])
            except (OSError, http.client.HTTPException, ValueError):
                return  # the server died under this call: not acknowledged
            if status != 200:
                return
            rows = answer["accepted"] + answer["duplicates"]
            with self.lock:
                self.acknowledged[batch] = {r["reference"]: r["id"] for r in rows}


def test_killed_server_keeps_every_acknowledged_item_once(tmp_path):
    # given: the real server, and a client posting 40 batches of 200 items
    process = make_process(item_schema=SCHEMA)
    secret = key_for(process.client, "client_admin")
    batches = _batches()
    bodies = {n: _body(process, refs) for n, refs in enumerate(batches)}
    acknowledged: dict[int, dict[str, int]] = {}
    server = _serve(tmp_path, "first")
    sender = Sender(server.port, secret, bodies, acknowledged, set(), threading.Lock())
    pending = list(range(BATCHES))
    threads = [threading.Thread(target=sender.run, args=(pending,)) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        # when: the server is SIGKILLed once a few batches are in, mid-stream
        deadline = time.monotonic() + 30
        while len(acknowledged) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.03)
        server.kill()
        for t in threads:
            t.join(timeout=30)
    finally:
        server.stop()
    first_round = dict(acknowledged)
    assert 5 <= len(first_round) < BATCHES, "the kill came too late to cut the stream"
    # then: a batch cut off by the kill is all there or not at all
    connection.close()
    present = Counter(
        r.rsplit("-", 1)[0] for r in WorkItem.objects.values_list("reference", flat=True)
    )
    for n in range(BATCHES):
        assert present.get(f"D-{n}", 0) in {0, BATCH}, f"batch {n} is half written"
        if n in first_round:
            assert present[f"D-{n}"] == BATCH
    # when: the server comes back and every unacknowledged batch is sent again
    restarted = _serve(tmp_path, "second")
    try:
        for n in range(BATCHES):
            if n not in first_round:
                status, answer = _post(restarted.port, secret, bodies[n])
                assert status == 200, answer
                rows = answer["accepted"] + answer["duplicates"]
                acknowledged[n] = {r["reference"]: r["id"] for r in rows}
    finally:
        restarted.stop()
    # then: every acknowledged item exists once, with the id it was acknowledged with
    connection.close()
    items = dict(WorkItem.objects.values_list("reference", "id"))
    expected = {r: pk for answer in acknowledged.values() for r, pk in answer.items()}
    assert len(expected) == BATCH * BATCHES
    assert items == expected
    duplicated = (
        WorkItem.objects.values("client", "reference").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not duplicated.exists()
    events = Counter(WorkItemEvent.objects.values_list("item_id", "type"))
    assert set(events.values()) == {1}
    assert Counter(t for _, t in events) == {"created": len(items), "queued": len(items)}
