"""`offload smtpd`: the SMTP listener that turns mail to the mailboxes into items.

It accepts mail for active mailboxes only, answers 250 once a message is stored,
and runs until SIGTERM or SIGINT. Put it behind the MTA that receives the domain's
mail (or on a port the MTA relays to); docs/email.md has the set-up.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from offload.work import smtpd


class Command(BaseCommand):
    help = "Receive e-mail for the mailboxes over SMTP (aiosmtpd)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.OFFLOAD_SMTPD_HOST)
        parser.add_argument("--port", type=int, default=settings.OFFLOAD_SMTPD_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        # aiosmtpd logs every SMTP command at INFO; its warnings and errors are enough.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        listener = smtpd.controller(host=options["host"], port=options["port"])
        listener.start()
        self.stdout.write(
            f"offload smtpd listening on {options['host']}:{options['port']} "
            f"(messages up to {smtpd.max_bytes()} bytes)"
        )
        try:
            stop.wait()
        finally:
            listener.stop()
            for sig, handler in previous.items():
                if handler is not None:
                    signal.signal(sig, handler)
