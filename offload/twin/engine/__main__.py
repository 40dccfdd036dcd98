"""`python -m offload.twin.engine SCENARIO.json [--summary]`: run a scenario file.

Prints the result as JSON (with --summary, only the engine and the overall
figures, without the per-replication and per-interval detail). `--example mmc` or
`--example multiskill` prints a ready-made scenario to start from instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from offload.twin import engine
from offload.twin.engine import examples, model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offload.twin.engine")
    parser.add_argument("scenario", nargs="?", help="a scenario JSON file")
    parser.add_argument("--summary", action="store_true", help="overall figures only")
    parser.add_argument("--example", choices=("mmc", "multiskill"), help="print an example")
    args = parser.parse_args(argv)
    if args.example:
        scenario = (
            examples.mmc(max_arrivals=100_000) if args.example == "mmc" else examples.multiskill()
        )
        print(json.dumps(scenario.to_dict(), indent=2))
        return 0
    if not args.scenario:
        parser.error("give a scenario file or --example")
    raw = json.loads(Path(args.scenario).read_text())
    result = engine.run(model.Scenario.from_dict(raw))
    if args.summary:
        out = {
            "scenario": result.scenario,
            "engine": result.engine,
            "customers": result.customers,
            "overall": model.to_jsonable(result.overall),
        }
    else:
        out = result.to_dict()
    print(json.dumps(out, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
