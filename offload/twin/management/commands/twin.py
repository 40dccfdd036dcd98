"""`offload twin`: run and compare scenario files, and export the live configuration.

- `offload twin export --provider SLUG [--start ISO] [--days N] [--replay-from DATE]
  [-o live.json]` writes the provider's live configuration as a scenario file: an
  engine scenario (offload.twin.engine.model.Scenario) with an empty `changes` list
  to fill in. With --replay-from (a date: midnight in the provider's zone, or an
  instant), the items created in the N days from it are the file's `replay`.
- `offload twin run scenario.json [--replications N] [--seed S] [--json]` makes the
  file's `changes`, simulates it in this process and prints a summary table (or,
  with --json, the engine's Result).
- `offload twin compare a.json b.json [...]` runs each file and prints them side by
  side, the first as the baseline.

A missing file, bad JSON or a bad scenario is a CommandError naming the file and
the field, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from offload.tenancy.models import Organisation, OrganisationKind
from offload.twin import changes, engine, live, selectors, services
from offload.twin.engine import model as engine_model

NO_FILE = "{path}: no such file"
NOT_JSON = "{path}: not JSON ({reason})"
NOT_OBJECT = "{path}: a scenario file is a JSON object"
BAD_SCENARIO = "{path}: {reason}"
NO_PROVIDER = "no provider organisation with the slug '{slug}'"
BAD_START = "--start must be an ISO 8601 date or instant, e.g. 2026-12-07T00:00:00Z"
BAD_NUMBER = "--{name} must be from {lo} to {hi}"
BAD_REPLAY_FROM = "--replay-from must be an ISO 8601 date or instant, e.g. 2026-11-02"
REPLAY_NOT_PAST = (
    "--replay-from must be in the past: the {days} replayed days from it end after now"
)
RUN_FAILED = "{path}: the simulation failed: {reason}"
COLUMN = 26


def load(path: str, *, seed: int | None, replications: int | None) -> engine_model.Scenario:
    """A scenario file with its changes made (and the options applied)."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(NO_FILE.format(path=path))
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CommandError(NOT_JSON.format(path=path, reason=exc)) from exc
    if not isinstance(raw, dict):
        raise CommandError(NOT_OBJECT.format(path=path))
    try:
        base = engine_model.Scenario.from_dict(raw)
    except KeyError as exc:
        reason = f"not an engine scenario: {exc.args[0]} is missing"
        raise CommandError(BAD_SCENARIO.format(path=path, reason=reason)) from exc
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        reason = f"not an engine scenario: {exc}"
        raise CommandError(BAD_SCENARIO.format(path=path, reason=reason)) from exc
    try:
        scenario = changes.apply_all(base, raw.get("changes") or []).scenario
    except changes.ChangeError as exc:
        raise CommandError(BAD_SCENARIO.format(path=path, reason=str(exc))) from exc
    return dataclasses.replace(
        scenario,
        name=scenario.name or file.stem,
        seed=scenario.seed if seed is None else seed,
        replications=scenario.replications if replications is None else replications,
    )


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "seconds":
        return f"{value:.1f} s"
    if unit == "money":
        return f"{value:.2f}"
    return f"{value:.0f}"


def _cell(cell: selectors.Cell | None, unit: str) -> str:
    if cell is None or cell.mean is None:
        return "-"
    text = _number(cell.mean, unit)
    if cell.half_width is not None:
        hw = (
            f"{cell.half_width * 100:.1f} pt" if unit == "share" else _number(cell.half_width, unit)
        )
        text += f" ± {hw}"
    return text


def table(names: list[str], results: list[dict[str, Any]]) -> str:
    """The overall figures side by side, one column per result."""
    rows = selectors.overall_rows(results)
    width = max([len(r.label) for r in rows] + [10]) + 2
    lines = ["".ljust(width) + "".join(n[: COLUMN - 2].ljust(COLUMN) for n in names)]
    for row in rows:
        cells = "".join(_cell(c, row.unit).ljust(COLUMN) for c in row.cells)
        lines.append(row.label.ljust(width) + cells)
    confidence = results[0].get("confidence") if results else None
    if confidence is not None:
        lines.append(f"(± half widths of {float(confidence):.0%} confidence intervals)")
    return "\n".join(line.rstrip() for line in lines)


class Command(BaseCommand):
    help = "Digital twin: run or compare scenario files; export the live configuration."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="Simulate one scenario file")
        run.add_argument("file")
        compare = sub.add_parser("compare", help="Simulate scenario files side by side")
        compare.add_argument("files", nargs="+")
        for p in (run, compare):
            p.add_argument("--replications", type=int)
            p.add_argument("--seed", type=int)
            p.add_argument("--json", action="store_true", help="Print the Result JSON")
        export = sub.add_parser("export", help="The live configuration as a scenario file")
        export.add_argument("--provider", required=True, help="The provider's slug")
        export.add_argument("--start", help="ISO 8601; default: the next half hour")
        export.add_argument("--days", type=int, default=7)
        export.add_argument(
            "--replay-from",
            help="Replay the items created in the --days days from this date (or instant)",
        )
        export.add_argument("-o", "--output", help="File to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "export":
            self._export(options)
            return
        self._check(options.get("replications"), "replications", 1, services.REPLICATIONS_MAX)
        self._check(options.get("seed"), "seed", 0, services.SEED_MAX)
        files = [options["file"]] if action == "run" else list(options["files"])
        scenarios = [
            load(f, seed=options.get("seed"), replications=options.get("replications"))
            for f in files
        ]
        results = []
        for path, scenario in zip(files, scenarios, strict=True):
            try:
                results.append(engine.run(scenario).to_dict())
            except Exception as exc:  # a scenario the engine cannot run: say so, no traceback
                raise CommandError(RUN_FAILED.format(path=path, reason=exc)) from exc
        if options["json"]:
            out: Any = results[0] if action == "run" else dict(zip(files, results, strict=True))
            self.stdout.write(json.dumps(out, indent=2))
            return
        self.stdout.write(table([Path(f).name for f in files], results))

    def _check(self, value: int | None, name: str, lo: int, hi: int) -> None:
        if value is not None and not lo <= value <= hi:
            raise CommandError(BAD_NUMBER.format(name=name, lo=lo, hi=hi))

    def _replay_from(self, raw: str | None) -> date | datetime | None:
        if not raw:
            return None
        try:
            if len(raw.strip()) == 10:
                return date.fromisoformat(raw.strip())
            return datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise CommandError(BAD_REPLAY_FROM) from exc

    def _export(self, options: dict[str, Any]) -> None:
        self._check(options["days"], "days", 1, services.DAYS_MAX)
        provider = Organisation.objects.filter(
            slug=options["provider"], kind=OrganisationKind.PROVIDER
        ).first()
        if provider is None:
            raise CommandError(NO_PROVIDER.format(slug=options["provider"]))
        now = datetime.now(UTC)
        start = now + live.INTERVAL
        if options.get("start"):
            try:
                start = datetime.fromisoformat(options["start"].replace("Z", "+00:00"))
            except ValueError as exc:
                raise CommandError(BAD_START) from exc
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
        replay_from = self._replay_from(options.get("replay_from"))
        if replay_from is not None:
            try:
                _, until = live.replay_window(replay_from, options["days"], provider.timezone)
            except OverflowError as exc:
                raise CommandError(BAD_REPLAY_FROM) from exc
            if until > now:
                raise CommandError(REPLAY_NOT_PAST.format(days=options["days"]))
        build = live.live_scenario(
            provider=provider, start=start, days=options["days"], now=now, replay_from=replay_from
        )
        data = {**build.scenario.to_dict(), "changes": []}
        text = json.dumps(data, indent=2)
        for note in build.notes:
            self.stderr.write(f"note: {note}")
        if options.get("output"):
            Path(options["output"]).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text)
