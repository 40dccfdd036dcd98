"""`offload bot run NAME`: run a built-in bot against the API, as a real client.

The bot acts through its API key (`--key` or `OFFLOAD_BOT_KEY`) on the API at
`--api` or `OFFLOAD_API_URL` (default http://127.0.0.1:8000). It runs until SIGTERM
or SIGINT, finishing or releasing the item in hand; `--once` stops when the queue is
empty and `--max-items N` after N items. docs/bots.md describes the bots.
"""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from offload.work.bots import runner

NO_KEY = f"no API key: pass --key or set {runner.KEY_ENV} (the bot user's key)"


class Command(BaseCommand):
    help = "Built-in bots: `run NAME` works the bot's queues through the API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run"])
        parser.add_argument("name", choices=sorted(runner.BOTS), help="the bot to run")
        parser.add_argument("--once", action="store_true", help="stop when the queue is empty")
        parser.add_argument("--max-items", type=int, default=None, help="stop after N items")
        parser.add_argument(
            "--api",
            default=None,
            help=f"the site's base URL (default ${runner.API_ENV} or {runner.DEFAULT_API})",
        )
        parser.add_argument("--key", default=None, help=f"the bot's API key (or ${runner.KEY_ENV})")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["key"] or os.environ.get(runner.KEY_ENV, "")
        if not key:
            raise CommandError(NO_KEY)
        base = options["api"] or os.environ.get(runner.API_ENV) or runner.DEFAULT_API
        max_items = options["max_items"]
        if max_items is not None and max_items < 1:
            raise CommandError("--max-items must be at least 1")
        try:
            api = runner.Api(base, key)
            bot = runner.BOTS[options["name"]](
                api, once=options["once"], max_items=max_items, log=self.stdout.write
            )
        except runner.BotError as exc:
            raise CommandError(str(exc)) from exc

        def _stop(signum: int, frame: FrameType | None) -> None:
            self.stdout.write("stopping (the item in hand, if any, is finished or released)")
            bot.stop()

        # The caller's handlers come back when the bot stops (tests call this in-process).
        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            bot.run()
        except runner.BotError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for sig, handler in previous.items():
                if handler is not None:
                    signal.signal(sig, handler)
