"""SLA clocks: pure, no database, exact expected instants on a Warsaw office calendar.

The calendar is Monday to Friday 09:00-17:00 Europe/Warsaw with Polish public
holidays. Monday 2 March 2026 is an ordinary week (UTC+1).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st

from offload.sla import BusinessCalendar
from offload.sla import clock as sla_clock
from offload.sla.clock import (
    Clock,
    Happening,
    Kind,
    Metric,
    Signal,
    SignalKind,
    State,
    Terms,
)

WARSAW = ZoneInfo("Europe/Warsaw")
H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)
FR = Metric.FIRST_RESPONSE
TAT = Metric.TURNAROUND
OFFICE = BusinessCalendar.from_spec(
    {
        "timezone": "Europe/Warsaw",
        "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": {"country": "PL", "subdivision": None},
    }
)
ALWAYS = BusinessCalendar.from_spec({"timezone": "Europe/Warsaw", "hours": "24/7"})
WAITING = "waiting_on_client"


def warsaw(month: int, day: int, hour: int = 0, minute: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, 0, micro, tzinfo=WARSAW)


def mon(hour: int, minute: int = 0) -> datetime:  # Monday 2 March 2026
    return warsaw(3, 2, hour, minute)


def tue(hour: int, minute: int = 0) -> datetime:
    return warsaw(3, 3, hour, minute)


def wed(hour: int, minute: int = 0) -> datetime:
    return warsaw(3, 4, hour, minute)


def thu(hour: int, minute: int = 0) -> datetime:
    return warsaw(3, 5, hour, minute)


def terms(metric: Metric = TAT, target: timedelta = 16 * H, **fields: Any) -> Terms:
    return Terms(metric=metric, target=target, calendar=OFFICE, **fields)


def first_response(target: timedelta = 4 * H, **fields: Any) -> Terms:
    return terms(FR, target, **fields)


def warning(metric: Metric, percent: int, at: datetime) -> Signal:
    return Signal(metric, SignalKind.WARNING, percent, at)


def breach(metric: Metric, at: datetime) -> Signal:
    return Signal(metric, SignalKind.BREACH, 100, at)


# ------------------------------------------------------------------ first response


def test_first_response_is_met_by_a_reply_before_due():
    # given
    t = first_response()
    clock = sla_clock.start(t, mon(10), "new")
    # when
    stopped, signals = sla_clock.public_reply(clock, t, mon(13, 30))
    # then
    assert clock.due_at == mon(14)
    assert clock.next_check_at == mon(13)  # 75% of 4h
    assert stopped.state is State.MET
    assert stopped.stopped_at == mon(13, 30)
    assert stopped.next_check_at is None
    assert signals == ()


def test_a_reply_exactly_at_due_is_met():
    # given
    t = first_response()
    clock = sla_clock.start(t, mon(10), "new")
    # when
    stopped, signals = sla_clock.public_reply(clock, t, mon(14))
    # then
    assert (stopped.state, signals) == (State.MET, ())


def test_a_reply_a_microsecond_after_due_is_breached_with_one_breach_signal():
    # given
    t = first_response()
    clock = sla_clock.start(t, mon(10), "new")
    # when
    stopped, signals = sla_clock.public_reply(clock, t, mon(14) + US)
    # then
    assert stopped.state is State.BREACHED
    assert stopped.fired == (75, 90, 100)
    assert signals == (breach(FR, mon(14) + US),)


def test_a_reply_after_the_close_is_late_though_the_calendar_is_closed():
    # given: 4 business hours from 13:00 run out at the 17:00 close
    t = first_response()
    clock = sla_clock.start(t, mon(13), "new")
    # when
    stopped, signals = sla_clock.public_reply(clock, t, mon(17, 30))
    # then
    assert clock.due_at == mon(17)
    assert stopped.state is State.BREACHED
    assert signals == (breach(FR, mon(17, 30)),)


def test_a_clock_started_out_of_hours_counts_from_the_next_opening_past_holidays():
    # given: Thursday 30 April 2026 after the close; 1 May (Friday) and 3 May are holidays
    t = first_response()
    # when
    late = sla_clock.start(t, warsaw(4, 30, 18, 30), "new")
    afternoon = sla_clock.start(t, warsaw(4, 30, 15), "new")
    # then
    assert late.due_at == warsaw(5, 4, 13)
    assert afternoon.due_at == warsaw(5, 4, 11)  # 2h on Thursday, 2h on Monday
    assert late.due_at.tzinfo is UTC
    assert late.started_at == datetime(2026, 4, 30, 16, 30, tzinfo=UTC)


def test_first_response_is_stopped_by_completion_and_never_restarts():
    # given
    t = first_response()
    clock = sla_clock.start(t, mon(10), "new")
    # when
    stopped, signals = sla_clock.completed(clock, t, mon(12))
    # then
    assert (stopped.state, stopped.stopped_at, signals) == (State.MET, mon(12), ())
    assert sla_clock.reopened(stopped, t, tue(10), "queued") == (stopped, ())
    assert sla_clock.public_reply(stopped, t, tue(11)) == (stopped, ())
    assert sla_clock.tick(stopped, t, wed(9)) == (stopped, ())


def test_a_completion_past_due_breaches_first_response_without_a_reply():
    # given
    t = first_response()
    clock = sla_clock.start(t, mon(10), "new")
    # when
    stopped, signals = sla_clock.completed(clock, t, mon(15))
    # then
    assert stopped.state is State.BREACHED
    assert signals == (breach(FR, mon(15)),)


def test_first_response_does_not_pause():
    # given
    t = first_response()
    clock = sla_clock.start(t, mon(10), WAITING)
    # when
    changed, _ = sla_clock.status_changed(clock, t, mon(11), "in_progress")
    again, _ = sla_clock.status_changed(changed, t, mon(12), WAITING)
    # then
    assert clock.state is State.RUNNING
    assert again.state is State.RUNNING
    assert (again.due_at, again.paused, again.status) == (mon(14), timedelta(0), WAITING)


# ------------------------------------------------------------------ turnaround


def test_turnaround_pauses_while_waiting_on_the_client_and_resumes():
    # given: 16 business hours from Monday 09:00 are due Tuesday 17:00
    t = terms()
    clock = sla_clock.start(t, mon(9), "queued")
    # when
    paused, _ = sla_clock.status_changed(clock, t, mon(11), WAITING)
    resumed, _ = sla_clock.status_changed(paused, t, tue(10), "in_progress")
    # then
    assert clock.due_at == tue(17)
    assert (paused.state, paused.due_at, paused.next_check_at) == (State.PAUSED, None, None)
    assert paused.paused_since == mon(11)
    assert resumed.state is State.RUNNING
    assert resumed.paused == 7 * H  # 11:00-17:00 and 09:00-10:00
    assert resumed.due_at == wed(16)
    assert resumed.next_check_at == wed(12)  # 75% = 12h, plus 7h paused
    assert resumed.original_due_at == tue(17)


def test_several_pauses_add_up():
    # given
    t = terms()
    clock = sla_clock.start(t, mon(9), "queued")
    # when
    for at, status in [
        (mon(11), WAITING),
        (tue(10), "in_progress"),
        (wed(10), WAITING),
        (wed(15, 30), "in_progress"),
    ]:
        clock, _ = sla_clock.status_changed(clock, t, at, status)
    # then
    assert clock.paused == 12 * H + 30 * M
    assert clock.due_at == thu(13, 30)  # 28.5h after Monday 09:00


def test_moving_between_pause_statuses_keeps_the_pause():
    # given
    t = terms(pause_statuses=frozenset({WAITING, "escalated"}))
    clock = sla_clock.start(t, mon(9), "queued")
    paused, _ = sla_clock.status_changed(clock, t, mon(11), WAITING)
    # when
    escalated, _ = sla_clock.status_changed(paused, t, mon(12), "escalated")
    resumed, _ = sla_clock.status_changed(escalated, t, mon(13), "in_progress")
    # then
    assert escalated.paused_since == mon(11)
    assert resumed.paused == 2 * H


def test_a_status_change_at_the_start_instant_is_the_same_as_starting_paused():
    # given
    t = terms()
    # when
    started_paused = sla_clock.start(t, mon(9, 30), WAITING)
    changed, _ = sla_clock.status_changed(
        sla_clock.start(t, mon(9, 30), "new"), t, mon(9, 30), WAITING
    )
    # then
    assert started_paused == changed
    assert changed.state is State.PAUSED
    assert changed.original_due_at == wed(9, 30)


def test_completion_while_paused_counts_the_pause_up_to_completion():
    # given
    t = terms()
    clock = sla_clock.start(t, mon(9), "queued")
    paused, _ = sla_clock.status_changed(clock, t, mon(15), WAITING)
    # when
    stopped, signals = sla_clock.completed(paused, t, wed(12))
    # then
    assert stopped.paused == 13 * H  # Monday 2h, Tuesday 8h, Wednesday 3h
    assert (stopped.paused_since, stopped.stopped_at) == (None, wed(12))
    assert stopped.due_at == thu(14)
    assert (stopped.state, signals) == (State.MET, ())
    assert sla_clock.used(stopped, t, thu(9)) == 6 * H


def test_completion_while_paused_after_running_out_signals_the_breach():
    # given: 4h from 09:00 run out at 13:00; nobody ticked; paused at 14:00
    t = terms(target=4 * H)
    clock = sla_clock.start(t, mon(9), "queued")
    paused, _ = sla_clock.status_changed(clock, t, mon(14), WAITING)
    # when
    stopped, signals = sla_clock.completed(paused, t, tue(10))
    # then
    assert stopped.state is State.BREACHED
    assert signals == (breach(TAT, tue(10)),)


def test_a_reply_does_not_stop_turnaround():
    # given
    t = terms()
    clock = sla_clock.start(t, mon(9), "queued")
    # when
    after = sla_clock.public_reply(clock, t, mon(10))
    # then
    assert after == (clock, ())


def test_reopening_continues_turnaround_with_the_stopped_gap_excluded():
    # given: 6 of 16 hours used when completed on Monday 15:00
    t = terms()
    clock = sla_clock.start(t, mon(9), "queued")
    stopped, _ = sla_clock.completed(clock, t, mon(15))
    # when
    reopened, signals = sla_clock.reopened(stopped, t, wed(11), "queued")
    done, done_signals = sla_clock.completed(reopened, t, thu(12))
    # then
    assert stopped.state is State.MET
    assert signals == (Signal(TAT, SignalKind.REOPENED, 37, wed(11)),)  # 6/16 = 37.5%
    assert (reopened.state, reopened.stopped_at) == (State.RUNNING, None)
    assert reopened.paused == 12 * H  # Monday 15-17, Tuesday, Wednesday 9-11
    assert reopened.due_at == thu(13)  # 10h left from Wednesday 11:00
    assert reopened.next_check_at == wed(17)  # 75% = 12h: 6h more, to the close
    assert (done.state, done_signals) == (State.MET, ())


def test_reopening_into_a_pause_status_reopens_paused():
    # given
    t = terms()
    stopped, _ = sla_clock.completed(sla_clock.start(t, mon(9), "queued"), t, mon(15))
    # when
    reopened, _ = sla_clock.reopened(stopped, t, wed(11), WAITING)
    # then
    assert (reopened.state, reopened.paused_since, reopened.due_at) == (
        State.PAUSED,
        wed(11),
        None,
    )


def test_a_breached_turnaround_reopens_breached_and_never_breaches_twice():
    # given
    t = terms(target=4 * H)
    clock = sla_clock.start(t, mon(9), "queued")
    stopped, first = sla_clock.completed(clock, t, mon(14))
    # when
    reopened, signals = sla_clock.reopened(stopped, t, tue(10), "queued")
    done, last = sla_clock.completed(reopened, t, tue(11))
    # then
    assert first == (breach(TAT, mon(14)),)
    assert signals == (Signal(TAT, SignalKind.REOPENED, 125, tue(10)),)
    assert (reopened.state, reopened.stopped_at, reopened.next_check_at) == (
        State.BREACHED,
        None,
        None,
    )
    assert reopened.paused == 4 * H
    assert (done.state, last) == (State.BREACHED, ())


# ------------------------------------------------------------------ reclassification


def test_reclassification_counts_the_new_target_from_the_original_start():
    # given: P3 (16h) started Monday 09:00, paused 10:00-11:00
    p3, p1 = terms(target=16 * H), terms(target=4 * H)
    clock = sla_clock.start(p3, mon(9), "queued")
    clock, _ = sla_clock.status_changed(clock, p3, mon(10), WAITING)
    clock, _ = sla_clock.status_changed(clock, p3, mon(11), "in_progress")
    # when: a person makes it P1 (4h) at noon
    changed, signals = sla_clock.reclassified(clock, p3, mon(12), p1)
    # then
    assert signals == ()
    assert (changed.target, changed.paused) == (4 * H, 1 * H)
    assert changed.due_at == mon(14)
    assert changed.original_due_at == tue(17)
    assert changed.next_check_at == mon(13)
    assert sla_clock.tick(changed, p1, mon(13)) == (
        replace(changed, fired=(75,), next_check_at=mon(13, 36), updated_at=mon(13)),
        (warning(TAT, 75, mon(13)),),
    )


def test_thresholds_a_reclassification_passes_fire_on_the_next_tick_as_one_signal():
    # given
    p3, p1 = terms(target=16 * H), terms(target=4 * H)
    clock = sla_clock.start(p3, mon(9), "queued")
    # when: made P1 at 14:30, when 4h from 09:00 had run out at 13:00
    changed, signals = sla_clock.reclassified(clock, p3, mon(14, 30), p1)
    ticked, tick_signals = sla_clock.tick(changed, p1, mon(14, 30))
    # then
    assert (signals, changed.state, changed.next_check_at) == ((), State.RUNNING, mon(12))
    assert tick_signals == (breach(TAT, mon(14, 30)),)
    assert (ticked.state, ticked.fired) == (State.BREACHED, (75, 90, 100))


def test_thresholds_fired_stay_fired_after_a_reclassification():
    # given: 8h from Monday 09:00; 75% fired at 15:00
    p2, p3 = terms(target=8 * H), terms(target=16 * H)
    clock = sla_clock.start(p2, mon(9), "queued")
    clock, first = sla_clock.tick(clock, p2, mon(15))
    # when
    changed, _ = sla_clock.reclassified(clock, p2, mon(15, 30), p3)
    ticked, second = sla_clock.tick(changed, p3, tue(15, 24))
    # then
    assert first == (warning(TAT, 75, mon(15)),)
    assert changed.fired == (75,)
    assert changed.due_at == tue(17)
    assert changed.next_check_at == tue(15, 24)  # 90% of 16h = 14h24m
    assert second == (warning(TAT, 90, tue(15, 24)),)
    assert ticked.fired == (75, 90)


def test_a_breach_is_not_taken_back_by_a_longer_target():
    # given
    p1, p3 = terms(target=4 * H), terms(target=16 * H)
    clock, _ = sla_clock.tick(sla_clock.start(p1, mon(9), "queued"), p1, mon(14))
    # when
    changed, _ = sla_clock.reclassified(clock, p1, mon(15), p3)
    done, signals = sla_clock.completed(changed, p3, mon(16))
    # then
    assert changed.state is State.BREACHED
    assert done.stopped_at == mon(16)
    assert done.due_at == tue(17)
    assert (done.state, signals) == (State.BREACHED, ())


def test_a_reclassification_while_paused_keeps_the_pause():
    # given
    p3, p1 = terms(target=16 * H), terms(target=4 * H)
    clock = sla_clock.start(p3, mon(9), "queued")
    clock, _ = sla_clock.status_changed(clock, p3, mon(10), WAITING)
    # when
    changed, _ = sla_clock.reclassified(clock, p3, mon(12), p1)
    resumed, _ = sla_clock.status_changed(changed, p1, mon(13), "in_progress")
    # then
    # the open pause is counted to noon by the calendar it ran under and goes on
    assert (changed.state, changed.due_at) == (State.PAUSED, None)
    assert (changed.paused, changed.paused_since) == (2 * H, mon(12))
    assert resumed.paused == 3 * H
    assert resumed.due_at == mon(16)  # 4h + 3h paused


def test_a_stopped_clock_keeps_its_outcome_when_reclassified_or_repolicied():
    # given
    p3 = terms(target=16 * H, policy_id=1)
    stopped, _ = sla_clock.completed(sla_clock.start(p3, mon(9), "queued"), p3, mon(12))
    # when
    reclassified = sla_clock.reclassified(stopped, p3, mon(13), terms(target=H, policy_id=1))
    repolicied = sla_clock.repolicied(stopped, p3, mon(13), terms(target=H, policy_id=2))
    # then
    assert reclassified == repolicied == (stopped, ())


def test_a_reclassification_must_keep_the_policy_version():
    # given
    v1 = terms(policy_id=1)
    clock = sla_clock.start(v1, mon(9), "queued")
    # when / then
    with pytest.raises(ValueError, match="policy 2, the clock follows policy 1"):
        sla_clock.reclassified(clock, v1, mon(10), terms(policy_id=2))


def test_an_escalation_rule_raising_the_priority_does_not_change_the_target():
    # given: P3 (16h); a rule escalates the item and the caller builds P1 terms (4h)
    p3, p1 = terms(target=16 * H), terms(target=4 * H)
    clock = sla_clock.start(p3, mon(9), "queued")
    # when: the caller does not call reclassified; the clock reads its own target
    escalated, _ = sla_clock.status_changed(clock, p1, mon(10), "escalated")
    ticked, signals = sla_clock.tick(escalated, p1, mon(14))
    # then
    assert (escalated.target, escalated.due_at) == (16 * H, tue(17))
    assert (ticked, signals) == (escalated, ())


# ------------------------------------------------------------------ policy versions


def test_a_new_policy_version_changes_target_thresholds_and_pause_statuses():
    # given: v1 16h pauses only waiting on the client; the item is escalated at 10:00
    v1 = terms(target=16 * H, policy_id=1)
    v2 = terms(
        target=8 * H,
        policy_id=2,
        thresholds=(50,),
        pause_statuses=frozenset({WAITING, "escalated"}),
    )
    clock = sla_clock.start(v1, mon(9), "queued")
    clock, _ = sla_clock.status_changed(clock, v1, mon(10), "escalated")
    # when: v2 takes over at noon, and the item goes back to work at 14:00
    changed, signals = sla_clock.repolicied(clock, v1, mon(12), v2)
    resumed, _ = sla_clock.status_changed(changed, v2, mon(14), "in_progress")
    # then
    assert signals == ()
    assert (changed.policy_id, changed.target, changed.state) == (2, 8 * H, State.PAUSED)
    assert (changed.paused_since, changed.next_check_at) == (mon(12), None)
    assert resumed.paused == 2 * H
    assert resumed.due_at == tue(11)  # 8h + 2h paused from Monday 09:00
    assert resumed.next_check_at == mon(15)  # 50% = 4h, plus 2h paused
    assert resumed.original_due_at == tue(17)


def test_a_new_calendar_counts_an_open_pause_by_the_calendar_it_ran_under():
    # given: office hours, paused at 10:00
    v1 = terms(target=8 * H, policy_id=1)
    v2 = Terms(TAT, 8 * H, ALWAYS, policy_id=2)
    clock = sla_clock.start(v1, mon(9), "queued")
    clock, _ = sla_clock.status_changed(clock, v1, mon(10), WAITING)
    # when: a 24/7 version takes over at 12:00; the client answers at 20:00
    changed, _ = sla_clock.repolicied(clock, v1, mon(12), v2)
    resumed, _ = sla_clock.status_changed(changed, v2, mon(20), "in_progress")
    # then
    assert (changed.paused, changed.paused_since) == (2 * H, mon(12))
    assert resumed.paused == 10 * H  # 2 office hours, then 8 real ones
    assert resumed.due_at == tue(3)  # 18h after Monday 09:00 on the 24/7 calendar


def test_terms_of_another_policy_version_are_refused():
    # given
    clock = sla_clock.start(terms(policy_id=1), mon(9), "queued")
    # when / then
    with pytest.raises(ValueError, match="repolicied"):
        sla_clock.tick(clock, terms(policy_id=2), mon(10))


# ------------------------------------------------------------------ thresholds


def test_each_threshold_fires_once_at_its_instant():
    # given: 8h from Monday 09:00: 75% at 15:00, 90% at 16:12, due 17:00
    t = terms(target=8 * H)
    clock = sla_clock.start(t, mon(9), "queued")
    seen: list[tuple[datetime, tuple[Signal, ...], datetime | None]] = []
    # when
    for at in [mon(15), mon(15, 30), mon(16, 12), mon(17), mon(17) + US, mon(18)]:
        clock, signals = sla_clock.tick(clock, t, at)
        seen.append((at, signals, clock.next_check_at))
    # then
    assert seen == [
        (mon(15), (warning(TAT, 75, mon(15)),), mon(16, 12)),
        (mon(15, 30), (), mon(16, 12)),
        (mon(16, 12), (warning(TAT, 90, mon(16, 12)),), mon(17) + US),
        (mon(17), (), mon(17) + US),  # a stop at due_at is met, so no breach yet
        (mon(17) + US, (breach(TAT, mon(17) + US),), None),
        (mon(18), (), None),
    ]
    assert (clock.state, clock.fired, clock.due_at) == (State.BREACHED, (75, 90, 100), mon(17))


def test_a_tick_that_fires_nothing_returns_the_same_clock():
    # given
    t = terms(target=8 * H)
    clock = sla_clock.start(t, mon(9), "queued")
    # when
    ticked, signals = sla_clock.tick(clock, t, mon(14))
    # then
    assert ticked is clock
    assert signals == ()


def test_several_thresholds_due_at_once_signal_only_the_highest():
    # given
    t = terms(target=8 * H)
    clock = sla_clock.start(t, mon(9), "queued")
    # when: the first tick comes the next morning
    ticked, signals = sla_clock.tick(clock, t, tue(10))
    # then
    assert signals == (breach(TAT, tue(10)),)
    assert ticked.fired == (75, 90, 100)
    assert ticked.updated_at == tue(10)


def test_an_item_already_breached_when_its_policy_attaches_gets_one_breach():
    # given: created Monday 09:00 with no policy; a policy with a 4h target attaches
    # on Wednesday at noon, so its clocks replay the item's history and tick once
    t1, t2 = first_response(4 * H), terms(target=8 * H)
    history = [
        Happening(Kind.START, mon(9), "new", (t1, t2)),
        Happening(Kind.STATUS, mon(10), WAITING),
        Happening(Kind.STATUS, tue(10), "in_progress"),
        Happening(Kind.TICK, wed(12)),
    ]
    # when
    replayed = sla_clock.replay(history)
    # then
    assert replayed.signals == (breach(FR, wed(12)), breach(TAT, wed(12)))
    assert replayed.clocks[TAT].paused == 8 * H
    assert replayed.clocks[TAT].due_at == tue(17)


def test_a_paused_clock_fires_only_what_it_crossed_before_the_pause():
    # given: 8h from 09:00; 75% at 15:00; paused at 15:30 before any tick
    t = terms(target=8 * H)
    clock = sla_clock.start(t, mon(9), "queued")
    paused, _ = sla_clock.status_changed(clock, t, mon(15, 30), WAITING)
    # when
    ticked, signals = sla_clock.tick(paused, t, tue(12))
    # then
    assert paused.next_check_at == mon(15)
    assert signals == (warning(TAT, 75, tue(12)),)
    assert (ticked.state, ticked.fired, ticked.next_check_at) == (State.PAUSED, (75,), None)


def test_a_breached_clock_still_pauses():
    # given
    t = terms(target=4 * H)
    clock, _ = sla_clock.tick(sla_clock.start(t, mon(9), "queued"), t, mon(14))
    # when
    paused, _ = sla_clock.status_changed(clock, t, mon(15), WAITING)
    resumed, _ = sla_clock.status_changed(paused, t, tue(10), "in_progress")
    # then
    assert (paused.state, paused.paused_since) == (State.BREACHED, mon(15))
    assert (resumed.state, resumed.paused) == (State.BREACHED, 3 * H)


def test_custom_thresholds():
    # given
    t = terms(target=8 * H, thresholds=(50,))
    clock = sla_clock.start(t, mon(9), "queued")
    # when
    ticked, signals = sla_clock.tick(clock, t, mon(13))
    # then
    assert signals == (warning(TAT, 50, mon(13)),)
    assert ticked.next_check_at == mon(17) + US


def test_a_zero_target_is_due_at_the_start_or_next_opening_and_has_no_warnings():
    # given: started on Saturday 7 March
    t = first_response(timedelta(0))
    clock = sla_clock.start(t, warsaw(3, 7, 10), "new")
    # when
    at_due, at_due_signals = sla_clock.tick(clock, t, warsaw(3, 9, 9))
    after, after_signals = sla_clock.tick(clock, t, warsaw(3, 9, 9) + US)
    replied, reply_signals = sla_clock.public_reply(clock, t, warsaw(3, 9, 9))
    # then
    assert clock.due_at == warsaw(3, 9, 9)
    assert clock.next_check_at == warsaw(3, 9, 9) + US
    assert (at_due, at_due_signals) == (clock, ())
    assert after_signals == (breach(FR, warsaw(3, 9, 9) + US),)
    assert after.fired == (100,)
    assert (replied.state, reply_signals) == (State.MET, ())


# ------------------------------------------------------------------ cancelling


def test_a_cancelled_clock_stops_checking_and_ignores_everything():
    # given
    t = terms(target=8 * H)
    clock, _ = sla_clock.tick(sla_clock.start(t, mon(9), "queued"), t, mon(15))
    # when
    cancelled, signals = sla_clock.cancelled(clock, t, mon(15, 30))
    # then
    assert signals == ()
    assert (cancelled.state, cancelled.stopped_at, cancelled.next_check_at) == (
        State.CANCELLED,
        mon(15, 30),
        None,
    )
    assert cancelled.fired == (75,)
    for step in (
        sla_clock.tick(cancelled, t, tue(10)),
        sla_clock.completed(cancelled, t, tue(10)),
        sla_clock.reopened(cancelled, t, tue(10), "queued"),
        sla_clock.status_changed(cancelled, t, tue(10), WAITING),
        sla_clock.cancelled(cancelled, t, tue(10)),
    ):
        assert step == (cancelled, ())


def test_cancelling_while_paused_counts_the_pause():
    # given
    t = terms()
    clock = sla_clock.start(t, mon(9), "queued")
    clock, _ = sla_clock.status_changed(clock, t, mon(10), WAITING)
    # when
    cancelled, _ = sla_clock.cancelled(clock, t, mon(12))
    # then
    assert (cancelled.paused, cancelled.paused_since) == (2 * H, None)
    assert cancelled.due_at == wed(11)


# ------------------------------------------------------------------ refusals


def test_time_going_backwards_is_refused_naming_the_field():
    # given
    t = terms()
    clock, _ = sla_clock.status_changed(sla_clock.start(t, mon(9), "queued"), t, mon(11), WAITING)
    # when / then
    with pytest.raises(
        ValueError, match=r"before the clock's updated_at \(2026-03-02T10:00:00\+00:00\)"
    ):
        sla_clock.status_changed(clock, t, mon(10), "in_progress")


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError, match="at must be an aware datetime"):
        sla_clock.start(terms(), datetime(2026, 3, 2, 9), "new")


def test_terms_of_another_metric_are_refused():
    # given
    clock = sla_clock.start(terms(), mon(9), "queued")
    # when / then
    with pytest.raises(ValueError, match="the terms are for first_response"):
        sla_clock.tick(clock, first_response(), mon(10))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target": -US}, sla_clock.NEGATIVE_TARGET),
        ({"thresholds": (90, 75)}, sla_clock.BAD_THRESHOLDS),
        ({"thresholds": (75, 100)}, sla_clock.BAD_THRESHOLDS),
        ({"thresholds": (0,)}, sla_clock.BAD_THRESHOLDS),
        ({"thresholds": (75, 75)}, sla_clock.BAD_THRESHOLDS),
    ],
)
def test_bad_terms_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        terms(**fields)


def test_a_replay_must_begin_with_the_start_and_start_once():
    start = Happening(Kind.START, mon(9), "new", (terms(),))
    with pytest.raises(ValueError, match=sla_clock.NO_START):
        sla_clock.replay([Happening(Kind.TICK, mon(9))])
    with pytest.raises(ValueError, match=sla_clock.NO_START):
        sla_clock.replay([])
    with pytest.raises(ValueError, match=sla_clock.START_AGAIN):
        sla_clock.replay([start, start])


# ------------------------------------------------------------------ storing


def test_a_clock_is_stored_as_json_safe_values():
    # given
    t = terms(policy_id=7)
    clock = sla_clock.start(t, mon(9), "queued")
    clock, _ = sla_clock.status_changed(clock, t, mon(11), WAITING)
    # when
    stored = clock.to_dict()
    # then
    assert stored == {
        "metric": "turnaround",
        "state": "paused",
        "policy_id": 7,
        "target": 57_600_000_000,
        "started_at": "2026-03-02T08:00:00+00:00",
        "due_at": None,
        "original_due_at": "2026-03-03T16:00:00+00:00",
        "paused": 0,
        "paused_since": "2026-03-02T10:00:00+00:00",
        "stopped_at": None,
        "fired": [],
        "next_check_at": None,
        "status": "waiting_on_client",
        "updated_at": "2026-03-02T10:00:00+00:00",
    }
    assert Clock.from_dict(json.loads(json.dumps(stored))) == clock


# ------------------------------------------------------------------ properties

PROPERTY = settings(max_examples=200, deadline=None)
STATUSES = ("queued", "in_progress", WAITING, "escalated", "in_progress")
PRIORITIES = {FR: (H, 4 * H, 0 * H), TAT: (4 * H, 16 * H, 40 * H)}
POLICIES: tuple[dict[str, Any], ...] = (
    {"policy_id": 1, "calendar": OFFICE},
    {
        "policy_id": 2,
        "calendar": OFFICE,
        "thresholds": (50,),
        "pause_statuses": frozenset({WAITING, "escalated"}),
    },
    {"policy_id": 3, "calendar": ALWAYS, "thresholds": (60, 80, 95)},
)
GAPS = st.one_of(
    st.sampled_from([timedelta(0), US, M, 45 * M, 3 * H, 14 * H, 2 * 24 * H]),
    st.integers(0, 3 * 24 * 60).map(lambda minutes: minutes * M),
)


def policy_terms(version: int, priority: int) -> tuple[Terms, ...]:
    fields = POLICIES[version]
    return tuple(Terms(metric=m, target=PRIORITIES[m][priority], **fields) for m in (FR, TAT))


@st.composite
def histories(draw: st.DrawFn) -> list[Happening]:
    """An item's history at non-decreasing instants. It is folded while drawn, so
    that ticks, replies and completions can land exactly on a clock's next check or
    due instant (or a microsecond either side)."""
    at = warsaw(3, 2, 7) + draw(GAPS)
    version = 0
    history = [
        Happening(
            Kind.START,
            at,
            draw(st.sampled_from(STATUSES)),
            policy_terms(0, draw(st.integers(0, 2))),
        )
    ]
    replayed = sla_clock.replay(history)
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from([*Kind, Kind.TICK, Kind.TICK, Kind.STATUS]))
        marks = [
            mark
            for c in replayed.clocks.values()
            for mark in (c.next_check_at, c.due_at)
            if mark is not None and mark >= at
        ]
        aim = draw(st.booleans())
        if marks and aim:
            at = draw(st.sampled_from(marks)) + draw(st.sampled_from([-US, timedelta(0), US]))
            at = max(at, history[-1].at)
        else:
            at += draw(GAPS)
        match kind:
            case Kind.START:
                continue
            case Kind.STATUS | Kind.REOPENED:
                happening = Happening(kind, at, draw(st.sampled_from(STATUSES)))
            case Kind.RECLASSIFIED:
                priority = draw(st.integers(0, 2))
                every_version = tuple(t for v in range(3) for t in policy_terms(v, priority))
                happening = Happening(kind, at, terms=every_version)
            case Kind.REPOLICIED:
                version = min(version + 1, 2)
                happening = Happening(
                    kind, at, terms=policy_terms(version, draw(st.integers(0, 2)))
                )
            case _:
                happening = Happening(kind, at)
        history.append(happening)
        replayed = sla_clock.replay(history)
    return history


def through_storage(clock: Clock) -> Clock:
    return Clock.from_dict(json.loads(json.dumps(clock.to_dict())))


def check_invariants(before: Clock, after: Clock) -> None:
    assert after.updated_at >= before.updated_at
    assert after.paused >= before.paused
    assert set(before.fired) <= set(after.fired)
    assert list(after.fired) == sorted(set(after.fired))
    assert after.due_at is None or after.due_at >= after.started_at
    assert (after.due_at is None) == (after.is_paused and not after.is_stopped)
    assert after.original_due_at == before.original_due_at
    if after.state is State.MET:
        assert after.stopped_at is not None
        assert after.due_at is not None
        assert after.stopped_at <= after.due_at
        assert 100 not in after.fired
    if after.state is State.BREACHED:
        assert 100 in after.fired
        if after.stopped_at is not None and after.due_at is not None:
            assert after.stopped_at > after.due_at or 100 in before.fired
    if after.state in (State.RUNNING, State.PAUSED):
        assert not after.is_stopped
        assert after.is_paused == (after.state is State.PAUSED)
    if after.is_stopped:
        assert after.next_check_at is None


@PROPERTY
@hypothesis_given(histories())
def test_stepping_through_storage_gives_the_replayed_clocks(history):
    # given
    first, *rest = history
    clocks = {t.metric: sla_clock.start(t, first.at, first.status) for t in first.terms}
    in_force = {t.metric: t for t in first.terms}
    signals: list[Signal] = []
    # when: one happening at a time, each clock stored and loaded between steps
    for happening in rest:
        for metric in clocks:
            before = through_storage(clocks[metric])
            after, in_force[metric], out = sla_clock.apply(before, in_force[metric], happening)
            if happening.kind is Kind.TICK:
                quiet = before.next_check_at is None or before.next_check_at > happening.at
                assert (after is before) == quiet
            check_invariants(before, after)
            clocks[metric] = after
            signals.extend(out)
    # then
    replayed = sla_clock.replay(history)
    assert replayed.clocks == clocks
    assert replayed.signals == tuple(signals)
    thresholds = Counter(
        (s.metric, s.percent) for s in signals if s.kind is not SignalKind.REOPENED
    )
    assert all(n == 1 for n in thresholds.values())
    for metric, clock in clocks.items():
        if 100 in clock.fired:
            assert (metric, 100) in thresholds


@PROPERTY
@hypothesis_given(histories())
def test_replaying_a_prefix_and_continuing_gives_the_same_clocks(history):
    # given
    cut = len(history) // 2 or 1
    prefix = sla_clock.replay(history[:cut])
    clocks, in_force = dict(prefix.clocks), dict(prefix.terms)
    # when
    for happening in history[cut:]:
        for metric in clocks:
            clocks[metric], in_force[metric], _ = sla_clock.apply(
                clocks[metric], in_force[metric], happening
            )
    # then
    assert clocks == sla_clock.replay(history).clocks
