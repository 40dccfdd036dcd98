"""The demo's tests load the demo some thirty times to check what it creates; the
quality of its schedule is not among it (test_demo_schedule.py and bench/schedule.py
measure that), so they give the solver half a second instead of the demo's budget."""

from __future__ import annotations

import pytest

from offload.demo import schedule_seed

QUICK_SOLVE_SECONDS = 0.5


@pytest.fixture(autouse=True)
def quick_demo_solve(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("full_demo_solve") is None:
        monkeypatch.setattr(schedule_seed, "SOLVE_SECONDS", QUICK_SOLVE_SECONDS)
