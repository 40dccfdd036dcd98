"""`offload bench sla [COUNT]`: business-time `add` against businesstimedelta.

COUNT (default 1,000,000) adds with random starts over two years and random
durations up to five business days, on a Mon-Fri 09:00-17:00 America/New_York
calendar with US public holidays. businesstimedelta runs the first 20,000 of the
same inputs with equivalent rules (WorkDayRule + HolidayRule on the same holiday
dates, in the same zone) and every one of its results is compared with ours.
Pure: no database is read.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from typing import Any

import businesstimedelta  # type: ignore[import-untyped]  # no type information upstream
import holidays
import pytz  # type: ignore[import-untyped]  # installed with businesstimedelta, no stubs here

from offload.sla import business_time, spec

DEFAULT_COUNT = 1_000_000
PEER_SAMPLE = 20_000
SEED = 20260101
ZONE = "America/New_York"
FIRST_YEAR = 2026
YEARS = 2
BUSINESS_DAY = timedelta(hours=8)
SPEC: dict[str, Any] = {
    "timezone": ZONE,
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "US", "subdivision": None},
}


def inputs(count: int, seed: int = SEED) -> list[tuple[datetime, timedelta]]:
    """Random UTC starts (whole seconds) over two years, durations up to five business
    days (whole seconds, zero included)."""
    rng = random.Random(seed)
    first = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    span = int((datetime(FIRST_YEAR + YEARS, 1, 1, tzinfo=UTC) - first).total_seconds())
    longest = int((5 * BUSINESS_DAY).total_seconds())
    return [
        (first + timedelta(seconds=rng.randrange(span)), timedelta(seconds=rng.randint(0, longest)))
        for _ in range(count)
    ]


def peer_rules() -> Any:
    """businesstimedelta rules equal to SPEC: the same hours, zone and holiday dates
    (a plain set, the fastest lookup it accepts). Its holiday search looks up to five
    years ahead and fails if it finds none, so the dates run past the range."""
    zone = pytz.timezone(ZONE)
    dates = {
        d
        for d in holidays.country_holidays("US", years=range(FIRST_YEAR - 1, FIRST_YEAR + 6))
        if isinstance(d, date)
    }
    workday = businesstimedelta.WorkDayRule(
        start_time=time(9),
        end_time=time(17),
        working_days=[0, 1, 2, 3, 4],
        tz=zone,
    )
    return businesstimedelta.Rules([workday, businesstimedelta.HolidayRule(dates, tz=zone)])


def main(count: int = DEFAULT_COUNT) -> dict[str, Any]:
    cases = inputs(count)
    # A fresh calendar, not the shared cached one: its lazy build is part of the time.
    calendar = business_time.BusinessCalendar(spec.parse(SPEC))
    add = calendar.add

    began = perf_counter()
    results = [add(start, duration) for start, duration in cases]
    adds_s = perf_counter() - began

    elapsed = calendar.elapsed
    began = perf_counter()
    inverse_mismatches = sum(
        elapsed(start, result) != duration
        for (start, duration), result in zip(cases, results, strict=True)
    )
    elapsed_s = perf_counter() - began

    rules = peer_rules()
    sample = cases[: min(PEER_SAMPLE, count)]
    began = perf_counter()
    peer_results = [
        start + businesstimedelta.BusinessTimeDelta(rules, timedelta=duration)
        for start, duration in sample
    ]
    peer_s = perf_counter() - began
    mismatches = sum(ours != theirs for ours, theirs in zip(results, peer_results, strict=False))

    adds_per_s = count / adds_s
    peer_adds_per_s = len(sample) / peer_s
    figures = {
        "bench": "sla",
        "adds": count,
        "adds_per_s": round(adds_per_s),
        "elapsed_per_s": round(count / elapsed_s),
        "peer_sample": len(sample),
        "peer_adds_per_s": round(peer_adds_per_s),
        "ratio_vs_businesstimedelta": round(adds_per_s / peer_adds_per_s, 1),
        "mismatches": mismatches,
        "inverse_mismatches": inverse_mismatches,
    }
    print(f"{count:,} adds in {adds_s:.2f} s; businesstimedelta: {len(sample):,} in {peer_s:.2f} s")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_COUNT)
