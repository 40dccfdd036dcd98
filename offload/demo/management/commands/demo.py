"""`offload demo`: migrate if needed, load the demo, print its logins and an API call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from offload.demo import seed
from offload.tenancy.models import Role

API_URL = "http://127.0.0.1:8000/api/v1/processes"


def migrations_pending(database: str = DEFAULT_DB_ALIAS) -> bool:
    executor = MigrationExecutor(connections[database])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


class Command(BaseCommand):
    help = (
        "Load the demo provider, clients, contracts, processes, users and API keys "
        "(migrating first if needed); running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credentials",
            default=None,
            help=f"Credentials file (default: $OFFLOAD_VAR_DIR/{seed.CREDENTIALS_FILE})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if migrations_pending():
            self.stdout.write("Applying migrations...")
            call_command("migrate", interactive=False, verbosity=0)
        path = options["credentials"]
        credentials = seed.load(credentials_path=None if path is None else Path(path))
        self._report(credentials)

    def _report(self, credentials: seed.Credentials) -> None:
        out = self.stdout
        if credentials.audit_events_written:
            out.write(
                self.style.SUCCESS(
                    f"Demo loaded ({credentials.audit_events_written} audit events written)."
                )
            )
        else:
            out.write(self.style.SUCCESS("Demo already loaded; nothing changed."))
        if credentials.keys_replaced:
            out.write(f"API keys created: {', '.join(credentials.keys_replaced)}")

        agents = [login for login in credentials.logins if login.role == Role.AGENT]
        others = [login for login in credentials.logins if login.role != Role.AGENT]
        width = max(len(login.username) for login in others) + 2
        out.write("\nLogins (http://127.0.0.1:8000/login/, admin site at /admin/):")
        for login in others:
            out.write(f"  {login.username:<{width}}{login.password:<24}{login.role:<15}{login.org}")
        if agents:
            passwords = sorted({login.password for login in agents})
            out.write(
                f"  and {len(agents)} agents {agents[0].username}..{agents[-1].username}"
                f" with password {', '.join(passwords)}"
            )

        out.write("\nAPI keys:")
        for owner, secret in {**credentials.api_keys, **credentials.bot_keys}.items():
            out.write(f"  {owner:<{width}}{secret}")
        out.write(f"\nAll of it is in {credentials.path}")
        acme_key = credentials.api_keys.get(seed.ACME.slug)
        if acme_key:
            out.write("Try the API as Acme Telecom:")
            out.write(f'  curl -H "Authorization: Bearer {acme_key}" {API_URL}')
