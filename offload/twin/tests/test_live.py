"""offload/twin/live.py: the live configuration as an engine scenario."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offload.tenancy.models import Organisation
from offload.twin import engine, live
from offload.twin.engine.model import ReplayArrival, SlaTarget
from offload.twin.tests.factories import REPLAY_SINCE, START, make_history_item, make_live
from offload.work import leases
from offload.work.models import WorkItem
from offload.work.tests.factories import make_item, make_process
from offload.workforce import schedule_services
from offload.workforce.tests import factories as workforce_factories

pytestmark = pytest.mark.django_db


def build(provider: Organisation, **kw: Any) -> live.LiveBuild:
    return live.live_scenario(provider=provider, start=START, days=1, now=START, **kw)


def test_queues_become_the_policies_production_routes_with():
    # given
    world = make_live()
    # when
    scenario = build(world.provider).scenario
    # then: every non-review queue, each the very QueuePolicy the pull claims with
    queues = {q.id: q for q in scenario.queues}
    assert set(queues) == {world.chat_queue.pk, world.spanish_queue.pk}
    for queue in (world.chat_queue, world.spanish_queue):
        assert queues[queue.pk].policy() == leases.queue_policy(queue, world.chat)
    spanish = queues[world.spanish_queue.pk].policy()
    assert spanish.ordering == ("due_at", "priority")
    assert spanish.relaxation[0].after_s == 120
    assert spanish.required_skills == {"live_chat": 3}
    # and each language goes to the queue intake would choose
    (chat,) = scenario.processes
    assert chat.queues == {
        "": world.chat_queue.pk,
        "en": world.chat_queue.pk,
        "es": world.spanish_queue.pk,
    }


def test_processes_carry_their_sla_in_business_seconds_on_the_policys_calendar():
    # given
    world = make_live()
    # when
    (chat,) = build(world.provider).scenario.processes
    # then: 1 business hour for P1, 4 for the rest; turnaround 2 business days of 8 hours
    assert chat.channel == "chat"
    assert set(chat.sla) == {
        SlaTarget("first_response", 3600.0, 1),
        SlaTarget("first_response", 14_400.0, None),
        SlaTarget("turnaround", 57_600.0, None),
    }
    policy = world.chat.sla_policy
    assert policy is not None
    assert chat.calendar == policy.calendar.spec
    assert chat.target("first_response", 2) == 14_400.0


def test_workers_become_agents_and_bots_with_their_site_cost_and_capacity():
    # given
    world = make_live()
    # when
    build_ = build(world.provider)
    scenario = build_.scenario
    # then
    agents = {a.id: a for a in scenario.agents}
    maria, sofia = agents[world.maria.pk], agents[world.sofia.pk]
    assert (maria.site, maria.hourly_cost) == ("Manila", 9.5)
    assert maria.capacity == {"chat": 2}  # the email row has no capacity
    assert maria.certified == frozenset({world.chat.pk})
    assert (sofia.site, sofia.hourly_cost, sofia.skills) == ("Monterrey", 14.0, {"live_chat": 4})
    assert sofia.languages == frozenset({"es", "en"})
    assert maria.shifts is None  # no published schedule: always on
    (bot,) = scenario.bots
    assert (bot.id, bot.processes, bot.concurrency) == (world.bot.pk, frozenset({world.chat.pk}), 4)
    assert (bot.service_s, bot.failure_rate) == (
        live.DEFAULT_BOT_SERVICE_S,
        live.DEFAULT_BOT_FAILURE_RATE,
    )
    assert live.NOTE_ALWAYS_ON in build_.notes
    assert any(n.startswith(f"bot {world.bot.user.username}") for n in build_.notes)


def test_arrivals_come_from_the_last_weeks_items_as_a_weekly_profile():
    # given: eight Spanish chat items, all on the Monday 10:00 UTC slot a week earlier
    world = make_live()
    for _ in range(8):
        item = make_item(world.chat, language="es")
        WorkItem.objects.filter(pk=item.pk).update(
            created_at=START - timedelta(days=7) + timedelta(hours=10, minutes=5)
        )
    # when
    build_ = build(world.provider)
    (chat,) = build_.scenario.processes
    # then: 8 items over 4 weeks = 2 per week in slot 20 of the period (10:00 Monday)
    assert len(chat.arrivals) == live.WEEK_SLOTS
    assert chat.arrivals[20] == 2.0
    assert sum(chat.arrivals) == 2.0
    assert chat.language_mix == {"es": 1.0}
    assert chat.aht_s == live.DEFAULT_AHT_S["chat"]
    assert any("8 items" in n for n in build_.notes)


def test_a_forecast_gives_arrivals_aht_and_the_staffing_target_its_patience():
    # given
    world = make_live()
    workforce_factories.make_forecast(world.chat, START, [10.0, 12.0, 8.0], aht_s=240.0)
    workforce_factories.make_staffing_target(world.chat, patience_s=90)
    # when
    build_ = build(world.provider)
    (chat,) = build_.scenario.processes
    # then: one value per interval of the day, the forecast's first three
    assert chat.arrivals[:3] == (10.0, 12.0, 8.0)
    assert sum(chat.arrivals) == 30.0
    assert len(chat.arrivals) == 48
    assert chat.aht_s == 240.0
    assert chat.patience_s == 90.0
    assert live.NOTE_FORECAST.format(process="Chat") in build_.notes


def test_published_shifts_become_agents_shifts_and_the_unrostered_are_off():
    # given: a published schedule with one shift for Maria
    world = make_live()
    schedule = schedule_services.schedule_generate(
        actor=None,
        provider=world.provider,
        name="Week",
        start=START,
        days=1,
        requirements=[schedule_services.Requirement(world.chat.pk, START + timedelta(hours=9), 1)],
    )
    schedule = schedule_services.roster_generate(actor=None, schedule=schedule)
    schedule.refresh_from_db()
    schedule_services.schedule_publish(actor=None, schedule=schedule)
    # when
    scenario = build(world.provider).scenario
    # then: every shift in seconds from the start, with its break inside it
    agents = {a.id: a for a in scenario.agents}
    rostered = [a for a in agents.values() if a.shifts]
    assert rostered
    for agent in rostered:
        for shift in agent.shifts or ():
            assert 0 <= shift.start_s < shift.end_s <= 2 * 86_400
            assert all(shift.start_s <= b.start_s < b.end_s <= shift.end_s for b in shift.breaks)
    assert all(a.shifts == () for a in agents.values() if not a.shifts)


def replay_world() -> tuple[Any, dict[str, WorkItem]]:
    """Items of the chat process around the replayed day (Monday 23 November in
    Manila): four inside it, one just before and one at its end."""
    world = make_live()
    at = REPLAY_SINCE
    items = {
        "leased": make_history_item(
            world.chat,
            at + timedelta(minutes=5),
            priority="P1",
            language="es",
            leases=((300, 45), (100, 15)),
            reported=999,  # a lease measured it: the report is not counted
        ),
        "reported": make_history_item(
            world.chat, at + timedelta(hours=10, seconds=30), priority="P2", reported=200
        ),
        "open": make_history_item(world.chat, at + timedelta(hours=3), language="en"),
        "zero": make_history_item(
            world.chat, at + timedelta(hours=23, minutes=59), priority="P4", leases=((0, 0),)
        ),
        "before": make_history_item(world.chat, at - timedelta(seconds=1)),
        "after": make_history_item(world.chat, at + timedelta(days=1)),
    }
    return world, items


def test_a_replay_makes_the_windows_items_the_arrivals_shifted_onto_the_period():
    # given: a day of history; another provider's item in the same window
    world, _ = replay_world()
    make_history_item(make_process(), REPLAY_SINCE + timedelta(hours=1))
    # when: the date is midnight in the provider's zone (Asia/Manila, 16:00 UTC before)
    build_ = build(world.provider, replay_from=date(2026, 11, 23))
    scenario = build_.scenario
    # then: exactly the four items of the window, seconds after its start, with their
    # priority, language and measured handle time (work + wrap-up of their leases, else
    # what their completion reported; never handled or 0 s: drawn from the AHT)
    pid = world.chat.pk
    assert scenario.replay == (
        ReplayArrival(at_s=300.0, process_id=pid, priority=1, language="es", aht_s=460.0),
        ReplayArrival(at_s=10_800.0, process_id=pid, priority=3, language="en", aht_s=None),
        ReplayArrival(at_s=36_030.0, process_id=pid, priority=2, language="", aht_s=200.0),
        ReplayArrival(at_s=86_340.0, process_id=pid, priority=4, language="", aht_s=None),
    )
    assert scenario.horizon_s == 86_400.0
    assert scenario.start == START.isoformat()
    # and the process describes the replayed day
    (chat,) = scenario.processes
    assert len(chat.arrivals) == 48
    assert (chat.arrivals[0], chat.arrivals[6], chat.arrivals[20], chat.arrivals[47]) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert sum(chat.arrivals) == 4.0
    assert chat.aht_s == 330.0  # (460 + 200) / 2
    assert chat.priority_mix == {1: 0.25, 2: 0.25, 3: 0.25, 4: 0.25}
    assert chat.language_mix == {"": 0.5, "en": 0.25, "es": 0.25}
    assert (
        live.NOTE_REPLAY.format(n=4, since="2026-11-22 16:00", until="2026-11-23 16:00")
        in build_.notes
    )
    assert (
        live.NOTE_REPLAY_PROCESS.format(process="Chat", n=4, handled=2, aht=330.0) in build_.notes
    )
    assert not any(n.startswith("Chat: arrivals") for n in build_.notes)


def test_a_replay_from_an_instant_reads_in_two_queries_and_runs():
    # given
    world, _ = replay_world()
    # when: an instant two hours into the day
    with CaptureQueriesContext(connection) as queries:
        replayed = live._replay([world.chat.pk], REPLAY_SINCE, REPLAY_SINCE + timedelta(days=1))
    scenario = build(world.provider, replay_from=REPLAY_SINCE + timedelta(hours=2)).scenario
    result = engine.run(dataclasses.replace(scenario, replications=2))
    # then: two queries whatever the number of items (the items with their leases'
    # handle time, the reported handle times)
    assert len(queries) == 2
    assert sum(len(v) for v in replayed.values()) == 4
    # and the window from 02:00 keeps the day's three items after it and the next
    # day's first, each 2 hours earlier
    assert [r.at_s for r in scenario.replay or ()] == [3600.0, 28_830.0, 79_140.0, 79_200.0]
    assert tuple(result.overall.arrivals.values) == (4.0, 4.0)
    assert result.overall.answered.values[0] == 4.0


def test_without_items_in_the_window_the_replay_is_empty():
    # given
    world = make_live()
    # when
    build_ = build(world.provider, replay_from=date(2026, 11, 23))
    # then
    assert build_.scenario.replay == ()
    assert sum(build_.scenario.processes[0].arrivals) == 0
    assert (
        live.NOTE_REPLAY_PROCESS.format(
            process="Chat", n=0, handled=0, aht=live.DEFAULT_AHT_S["chat"]
        )
        in build_.notes
    )
