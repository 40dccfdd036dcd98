"""`offload serve [--port N]`: the web app and API, with a task worker beside it."""

from __future__ import annotations

import gc
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.urls import get_resolver


class Command(BaseCommand):
    help = "Serve the web app and API on 127.0.0.1 and run `offload worker` beside them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = None
        if not options["no_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "offload.cli", "worker"])
        # Load the URLconf (and with it every app's modules) now, then move what is
        # loaded out of the garbage collector's sight: its collections otherwise walk
        # those objects again and again while a bulk call allocates (about 30 ms of
        # each 1,000-item call here, docs/benchmarks.md#intake).
        get_resolver().url_patterns  # noqa: B018 (loading is the point)
        gc.freeze()
        try:
            call_command(
                "runserver",
                f"{options['host']}:{options['port']}",
                use_reloader=False,
                use_threading=True,
            )
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
