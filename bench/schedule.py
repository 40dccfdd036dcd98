"""`offload bench schedule [SECONDS]`: the CP-SAT scheduler on the demo's shape.

Four sites (Manila around the clock, Krakow office hours, Monterrey 07:00-23:00,
Austin weekday daytime; the demo's costs and headcounts), three processes, 8- and
10-hour templates with breaks, follow-the-sun requirements from a daily curve in the
clients' time zones (the demo seed's). Measured, each in the same run:

- one day: time to a proven optimum with one worker, and with two;
- the week: the answer (status, under-staffing, cost) after 2, 4 and SECONDS
  (default 20) with two workers, and the lower bound CP-SAT proves (how far from
  optimal an answer can be);
- the week with two break positions per start instead of one (a model twice as
  large) at SECONDS;
- the week without the day-by-day stages (`warm_start=False`) after 4 s with two
  workers, and after 10 s with one worker, against the same with them.

Pure: no database is read.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime
from decimal import Decimal
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

from offload.workforce import scheduling as s

MONDAY = datetime(2026, 11, 30, 6, tzinfo=UTC)  # 00:00 in Chicago, the provider's zone
PEAKS = {1: ("America/New_York", 4.0), 2: ("America/New_York", 2.0), 3: ("Europe/London", 2.0)}
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 0.9, 0.5, 0.4)
DEFAULT_SECONDS = 20.0


def sites() -> list[s.SiteInput]:
    weekdays = [["07:00", "21:00"]] * 5 + [["09:00", "17:00"], None]
    return [
        s.SiteInput(1, "Manila", "Asia/Manila", Decimal("9.50"), {1: 6, 2: 3, 3: 4}, 16),
        s.SiteInput(
            2,
            "Krakow",
            "Europe/Warsaw",
            Decimal("24.00"),
            {3: 6},
            8,
            opening=s.opening_from_strings(weekdays),
        ),
        s.SiteInput(
            3,
            "Monterrey",
            "America/Monterrey",
            Decimal("14.00"),
            {1: 7, 2: 3},
            10,
            opening=s.opening_from_strings([["07:00", "23:00"]] * 7),
            max_days_per_week=6,
            min_rest_minutes=600,
        ),
        s.SiteInput(
            4,
            "Austin",
            "America/Chicago",
            Decimal("38.00"),
            {1: 3, 2: 3},
            6,
            opening=s.opening_from_strings([["08:00", "20:00"]] * 5 + [None, None]),
            min_rest_minutes=720,
        ),
    ]


TEMPLATES = [
    s.ShiftTemplateInput(1, "8 h", 480, 30, 180, 300),
    s.ShiftTemplateInput(2, "10 h", 600, 60, 180, 360),
]


def requirements(days: int) -> dict[tuple[Any, datetime], float]:
    out: dict[tuple[Any, datetime], float] = {}
    for key, (zone, peak) in PEAKS.items():
        tz = ZoneInfo(zone)
        for k in range(days * 48):
            at = MONDAY + k * s.INTERVAL
            local = at.astimezone(tz)
            hour = local.hour + local.minute / 60
            wanted = peak * max(0.15, math.exp(-(((hour - 12.0) / 4.5) ** 2)))
            agents = math.ceil(wanted * WEEKDAY_FACTOR[local.weekday()] - 0.25)
            if agents > 0:
                out[(key, at)] = agents
    return out


def run(
    days: int, workers: int, seconds: float, breaks: int = 1, warm: bool = True
) -> dict[str, Any]:
    problem = s.Problem(
        s.Horizon(MONDAY, days),
        requirements(days),
        sites(),
        TEMPLATES,
        s.SolverOptions(
            num_workers=workers,
            random_seed=1,
            time_limit_s=seconds,
            break_choices=breaks,
            warm_start=warm,
        ),
    )
    began = perf_counter()
    result = s.solve(problem)
    wall = perf_counter() - began
    return {
        "days": days,
        "workers": workers,
        "limit_s": seconds,
        "break_choices": breaks,
        "warm_start": warm,
        "wall_s": round(wall, 2),
        "status": result.status,
        "shifts": result.shift_count,
        "under_agent_intervals": result.total_under,
        "uncoverable": len(result.uncoverable),
        "cost": str(result.total_cost),
        "objective": result.objective,
        "bound": result.bound,
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    seconds = float(args[0]) if args else DEFAULT_SECONDS
    runs = [
        run(1, 1, 60),
        run(1, 2, 60),
        run(7, 2, 2),
        run(7, 2, 4),
        run(7, 2, seconds),
        run(7, 2, seconds, breaks=2),
        run(7, 2, 4, warm=False),
        run(7, 1, 10),
        run(7, 1, 10, warm=False),
    ]
    for r in runs:
        print(json.dumps(r))
    required = sum(requirements(7).values())
    print(
        json.dumps(
            {
                "bench": "schedule",
                "week_required_agent_intervals": required,
                "runs": runs,
                "one_day_optimal_s_1_worker": runs[0]["wall_s"],
                "one_day_optimal_s_2_workers": runs[1]["wall_s"],
            }
        )
    )


if __name__ == "__main__":
    main()
