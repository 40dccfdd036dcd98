"""`offload audit verify`: walk every organisation's hash chain."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from offload.tenancy import audit
from offload.tenancy.models import AuditEvent


class Command(BaseCommand):
    help = "Audit trail tools. `verify` reports the first tampered row of each chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        problems = audit.verify()
        if problems:
            for problem in problems:
                self.stderr.write(f"TAMPERED {problem}")
            listing = "; ".join(str(p) for p in problems)
            raise CommandError(f"{len(problems)} audit chain(s) broken: {listing}")
        count = AuditEvent.objects.count()
        self.stdout.write(f"audit trail intact: {count} events verified")
