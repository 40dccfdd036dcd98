"""The demo opens on a published, rostered schedule of the coming week."""

from __future__ import annotations

import pytest

from offload.demo import schedule_seed, seed
from offload.workforce.models import Schedule, ScheduledShift

pytestmark = [pytest.mark.django_db, pytest.mark.full_demo_solve]


def test_the_demo_publishes_and_rosters_the_coming_weeks_schedule(tmp_path):
    # when
    seed.load(credentials_path=tmp_path / "credentials.json")
    # then
    schedule = Schedule.objects.get(name=schedule_seed.SCHEDULE_NAME)
    assert (schedule.solve_state, schedule.status) == ("solved", "published")
    assert schedule.days == 7
    assert schedule.shift_count > 0
    rostered = ScheduledShift.objects.filter(schedule=schedule, worker__isnull=False).count()
    assert rostered > 0
    assert rostered + schedule.unfilled_shifts == schedule.shift_count
    # every site of the demo has shifts: follow-the-sun across four time zones
    shifts = ScheduledShift.objects.filter(schedule=schedule)
    sites = set(shifts.values_list("site__slug", flat=True))
    assert sites == {"manila", "krakow", "monterrey", "austin"}
