"""`offload bench [NAME]`: list the benchmarks, or run one on BENCH_DATABASE_URL.

A benchmark is a module `bench/<name>.py` with a `main()` that prints its figures
as one JSON object on its last line. It never runs on the test or app database:
this command points DATABASE_URL at BENCH_DATABASE_URL (creating that PostgreSQL
database if missing) and migrates it before running the module.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import subprocess
import sys
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def available() -> list[str]:
    import bench

    # A module bench/sla_sweep.py is the benchmark `sla-sweep`.
    return sorted(
        m.name.replace("_", "-")
        for m in pkgutil.iter_modules(bench.__path__)
        if not m.name.startswith("_")
    )


def ensure_database(url: str) -> None:
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        return
    import psycopg
    from psycopg import sql

    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class Command(BaseCommand):
    help = "List benchmarks, or run one against BENCH_DATABASE_URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?")
        # REMAINDER, so the benchmark's own options (--items 5000) pass through.
        parser.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")

    def handle(self, *args: Any, **options: Any) -> None:
        names = available()
        if not options["name"]:
            self.stdout.write("\n".join(names) if names else "no benchmarks yet")
            return
        if options["name"] not in names:
            raise CommandError(
                f"no benchmark '{options['name']}'; have: {', '.join(names) or 'none'}"
            )
        url = settings.BENCH_DATABASE_URL
        ensure_database(url)
        env = {**os.environ, "DATABASE_URL": url}
        cli = [sys.executable, "-m", "offload.cli"]
        subprocess.run([*cli, "migrate", "--no-input", "-v", "0"], env=env, check=True)  # noqa: S603
        result = subprocess.run(  # noqa: S603
            # Django hands the nargs="*" positional to handle() as *args, not options.
            [sys.executable, "-m", f"bench.{options['name'].replace('-', '_')}", *args],
            env=env,
            check=False,
        )
        if result.returncode:
            raise CommandError(f"benchmark exited with {result.returncode}")
