"""`offload worker`: the background process.

Each tick it runs every registered sweep of the due-time tables, then every task
queued through Django's Tasks API (django-tasks-db), then sleeps. Many workers can
run against PostgreSQL: sweeps claim rows with SKIP LOCKED and tasks are claimed
by django-tasks-db the same way.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections
from django.utils import timezone
from django.utils.crypto import get_random_string

from offload.core import sweeps

logger = logging.getLogger("offload.worker")


def _refresh_connections() -> None:
    """Drop broken or too-old connections between ticks, as Django does between requests.

    A connection inside a transaction is left alone: closing it would lose the
    transaction (the test suite runs the command inside one).
    """
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


class Command(BaseCommand):
    help = "Run the sweeps of due-time tables and the queued background tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=settings.OFFLOAD_WORKER_INTERVAL)
        parser.add_argument("--once", action="store_true", help="Run one tick, then exit.")
        parser.add_argument("--no-tasks", action="store_true", help="Run sweeps only.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.running = True
        # Stop after the current tick on SIGTERM/SIGINT; the caller's handlers come
        # back when the loop ends (tests call the command in-process).
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._loop(options)
        finally:
            for sig, handler in previous.items():
                if handler is not None:  # None: installed outside Python, cannot be restored
                    signal.signal(sig, handler)

    def _loop(self, options: dict[str, Any]) -> None:
        task_worker = None if options["no_tasks"] else self._task_worker()
        self.stdout.write(
            f"offload worker: sweeps {', '.join(s.name for s in sweeps.registered())}"
        )
        while self.running:
            _refresh_connections()
            handled = sweeps.run_all(timezone.now())
            for name, count in handled.items():
                if count:
                    logger.info("sweep %s handled %d", name, count)
            if task_worker is not None:
                # Batch mode runs every ready task, then returns.
                task_worker.run()
            if options["once"]:
                break
            time.sleep(options["interval"])

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        logger.info("worker stopping after this tick")
        self.running = False

    def _task_worker(self) -> Any:
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.compat import task_backends
        from django_tasks_db.management.commands.db_worker import Worker

        if not isinstance(task_backends["default"], DatabaseBackend):
            return None
        return Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )
