"""SLA clocks: a pure fold of an item's happenings into its clocks (no Django).

An item has one clock per time metric (first response, turnaround). A clock moves
only when a function here applies a happening to it: the item started, its status
changed, someone replied in public, it was completed, reopened or cancelled, a
person changed its priority, a new policy version took over, or time passed (a
tick). Each function takes the clock, the terms it runs under and the instant, and
returns a new clock and the signals the caller must record; nothing is mutated and
nothing is read from outside, so replaying the same happenings from scratch gives
exactly the same clocks (docs/sla.md#clocks says the same for readers).

Rules:

- business time only: a clock started out of hours counts from the next opening;
  `used` is the business time from the start, less the business time paused;
- turnaround pauses while the item's status is one of the terms' pause statuses;
  first response never pauses and stops at the first public reply;
- `due_at` is the last instant that meets the target: a stop at `due_at` is met, a
  stop after it is breached (even while the calendar is closed: a target that runs
  out at 17:00 is breached by a reply at 17:30);
- a warning is due at the instant its share of the target is used, the breach at
  any instant after `due_at`; a tick fires what is due, signalling only the highest
  (the lower ones are marked fired silently), and a stop past `due_at` signals the
  breach if no tick did, so a threshold is signalled at most once per clock; a zero
  target has no warnings (there is no time to warn in);
- a change of terms (reclassified, repolicied) counts an open pause up to then by
  the calendar it ran under; paused time is kept as a business duration, so a new
  calendar measures only what comes after it;
- a breach is never taken back: once signalled, the clock stays breached through
  pauses, reclassifications, reopening and its stop;
- the target is read from the clock, never from the terms passed in: only
  `reclassified` (a person changed the priority) and `repolicied` (a new policy
  version) change it, so an escalation rule raising the priority leaves the
  target alone (the caller simply does not call `reclassified`);
- a stopped clock ignores everything except a turnaround's reopening; a cancelled
  one ignores everything;
- every call checks that time does not go backwards (`at` >= `updated_at`) and that
  the terms are for the clock's metric and policy version;
- a call the clock ignores returns it unchanged (the same object), including a
  tick with nothing to fire, so ticks that fired nothing need not be replayed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any

from offload.sla.business_time import NAIVE, BusinessCalendar

BREACH = 100
DEFAULT_PAUSE_STATUSES = frozenset({"waiting_on_client"})
DEFAULT_THRESHOLDS = (75, 90)
ZERO = timedelta(0)
MICROSECOND = timedelta(microseconds=1)

NEGATIVE_TARGET = "target must not be negative"
BAD_THRESHOLDS = "thresholds must be ascending whole percents above 0 and below 100"
BACKWARDS = "at ({at}) is before the clock's updated_at ({updated_at})"
WRONG_METRIC = "the terms are for {terms}, the clock measures {clock}"
WRONG_POLICY = (
    "the terms are of policy {terms}, the clock follows policy {clock}; "
    "a new policy version is applied with repolicied()"
)
NO_START = "a replay must begin with a start happening"
START_AGAIN = "an item starts once; a start happening can only begin a replay"
REPEATED_METRIC = "a start gives one set of terms per metric; {metric} appears twice"


class Metric(StrEnum):
    FIRST_RESPONSE = "first_response"
    TURNAROUND = "turnaround"


class State(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class SignalKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    REOPENED = "reopened"


@dataclass(frozen=True)
class Terms:
    """What the policy version says for one item's metric and priority."""

    metric: Metric
    target: timedelta  # business time
    calendar: BusinessCalendar
    # Turnaround pauses while the item's status is one of these; first response ignores them.
    pause_statuses: frozenset[str] = DEFAULT_PAUSE_STATUSES
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS  # warning percents; the breach is 100
    policy_id: int = 0

    def __post_init__(self) -> None:
        if self.target < ZERO:
            raise ValueError(NEGATIVE_TARGET)
        levels = (0, *self.thresholds, BREACH)
        if not all(isinstance(p, int) and low < p for low, p in pairwise(levels)):
            raise ValueError(BAD_THRESHOLDS)
        object.__setattr__(self, "pause_statuses", frozenset(self.pause_statuses))


@dataclass(frozen=True)
class Clock:
    """Everything needed to continue a clock, as plain values (one stored row)."""

    metric: Metric
    state: State
    policy_id: int
    target: timedelta  # business time
    started_at: datetime
    due_at: datetime | None  # the last instant that meets the target; None while paused
    original_due_at: datetime  # the due instant by the first terms, before pauses or changes
    paused: timedelta  # business time paused, settled pauses only
    paused_since: datetime | None  # the open pause began (turnaround only)
    stopped_at: datetime | None  # met, breached at the stop, or cancelled
    fired: tuple[int, ...]  # threshold percents already fired, ascending (100 = breach)
    next_check_at: datetime | None  # when a tick next has something to fire
    status: str  # the item's status last seen
    updated_at: datetime  # the instant of the last change

    @property
    def is_paused(self) -> bool:
        return self.paused_since is not None

    @property
    def is_stopped(self) -> bool:
        return self.stopped_at is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values: ISO 8601 UTC instants, durations in whole microseconds."""
        return {
            "metric": self.metric.value,
            "state": self.state.value,
            "policy_id": self.policy_id,
            "target": _micros(self.target),
            "started_at": self.started_at.isoformat(),
            "due_at": _iso(self.due_at),
            "original_due_at": self.original_due_at.isoformat(),
            "paused": _micros(self.paused),
            "paused_since": _iso(self.paused_since),
            "stopped_at": _iso(self.stopped_at),
            "fired": list(self.fired),
            "next_check_at": _iso(self.next_check_at),
            "status": self.status,
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Clock:
        return cls(
            metric=Metric(data["metric"]),
            state=State(data["state"]),
            policy_id=int(data["policy_id"]),
            target=timedelta(microseconds=int(data["target"])),
            started_at=_instant(data["started_at"]),
            due_at=_maybe_instant(data["due_at"]),
            original_due_at=_instant(data["original_due_at"]),
            paused=timedelta(microseconds=int(data["paused"])),
            paused_since=_maybe_instant(data["paused_since"]),
            stopped_at=_maybe_instant(data["stopped_at"]),
            fired=tuple(int(p) for p in data["fired"]),
            next_check_at=_maybe_instant(data["next_check_at"]),
            status=str(data["status"]),
            updated_at=_instant(data["updated_at"]),
        )


@dataclass(frozen=True)
class Signal:
    """Something the caller records as an item event (and escalates on).

    `percent` is the threshold for a warning or breach (100), and the share of the
    target used at the stop (floored) for a reopening. `at` is the instant of the
    call that signalled: the event's time, and the instant a replay ticks at.
    """

    metric: Metric
    kind: SignalKind
    percent: int
    at: datetime


Signals = tuple[Signal, ...]
Step = tuple[Clock, Signals]
NO_SIGNALS: Signals = ()


# ------------------------------------------------------------------ transitions


def start(terms: Terms, at: datetime, status: str) -> Clock:
    """A clock for an item created at `at` with `status` (turnaround starts paused
    in a pause status)."""
    at = _utc(at)
    due = terms.calendar.add(at, terms.target)
    clock = Clock(
        metric=terms.metric,
        state=State.RUNNING,
        policy_id=terms.policy_id,
        target=terms.target,
        started_at=at,
        due_at=due,
        original_due_at=due,
        paused=ZERO,
        paused_since=at if _pauses(terms, status) else None,
        stopped_at=None,
        fired=(),
        next_check_at=None,
        status=status,
        updated_at=at,
    )
    return _derive(clock, terms)


def status_changed(clock: Clock, terms: Terms, at: datetime, status: str) -> Step:
    """Turnaround pauses on entering a pause status and resumes on leaving one."""
    at = _checked(clock, terms, at)
    if clock.is_stopped or status == clock.status:
        return clock, NO_SIGNALS
    changed = replace(clock, status=status, updated_at=at)
    return _derive(_pause_for(changed, terms, at), terms), NO_SIGNALS


def public_reply(clock: Clock, terms: Terms, at: datetime) -> Step:
    """Stops first response: met if `at` <= due_at, else breached. Turnaround ignores it."""
    at = _checked(clock, terms, at)
    if clock.metric is not Metric.FIRST_RESPONSE or clock.is_stopped:
        return clock, NO_SIGNALS
    return _stop(clock, terms, at)


def completed(clock: Clock, terms: Terms, at: datetime) -> Step:
    """Stops any running or paused clock: met or breached (a first breach signals)."""
    at = _checked(clock, terms, at)
    if clock.is_stopped:
        return clock, NO_SIGNALS
    return _stop(clock, terms, at)


def reopened(clock: Clock, terms: Terms, at: datetime, status: str) -> Step:
    """A stopped turnaround continues from where it stopped (the stopped interval
    counts as paused). First response never restarts; a cancelled clock stays so."""
    at = _checked(clock, terms, at)
    if clock.metric is not Metric.TURNAROUND or clock.state is State.CANCELLED:
        return clock, NO_SIGNALS
    if clock.stopped_at is None:  # not stopped: only the status is news
        return status_changed(clock, terms, at, status)
    spent = _used(clock, terms, clock.stopped_at)
    percent = spent * 100 // clock.target if clock.target else BREACH
    resumed = replace(
        clock,
        paused=clock.paused + terms.calendar.elapsed(clock.stopped_at, at),
        stopped_at=None,
        status=status,
        paused_since=at if _pauses(terms, status) else None,
        updated_at=at,
    )
    signal = Signal(clock.metric, SignalKind.REOPENED, percent, at)
    return _derive(resumed, terms), (signal,)


def cancelled(clock: Clock, terms: Terms, at: datetime) -> Step:
    """The item was cancelled: the clock stops with no outcome and no more checks."""
    at = _checked(clock, terms, at)
    if clock.is_stopped:
        return clock, NO_SIGNALS
    settled = _resume(clock, terms, at)
    return replace(
        settled,
        state=State.CANCELLED,
        due_at=_level_at(settled, terms, BREACH),
        stopped_at=at,
        next_check_at=None,
        updated_at=at,
    ), NO_SIGNALS


def reclassified(clock: Clock, terms: Terms, at: datetime, new_terms: Terms) -> Step:
    """A person changed the item's priority: the new target counts from the original
    start, keeping the time paused (retroactive). Not for an escalation rule raising
    the priority, which leaves the target alone. A stopped clock keeps its outcome."""
    at = _checked(clock, terms, at)
    if clock.is_stopped:
        return clock, NO_SIGNALS
    _require_same(clock, new_terms)
    return _retarget(clock, terms, at, new_terms)


def repolicied(clock: Clock, terms: Terms, at: datetime, new_terms: Terms) -> Step:
    """A new policy version took over: as `reclassified`, and the policy id, calendar,
    thresholds and pause statuses change too. A stopped clock is left as it is."""
    at = _checked(clock, terms, at)
    if clock.is_stopped:
        return clock, NO_SIGNALS
    if new_terms.metric is not clock.metric:
        raise ValueError(WRONG_METRIC.format(terms=new_terms.metric, clock=clock.metric))
    return _retarget(clock, terms, at, new_terms)


def tick(clock: Clock, terms: Terms, at: datetime) -> Step:
    """Fire the thresholds crossed by `at`: only the highest is signalled, the lower
    ones are marked fired silently. Unchanged (the same clock) when nothing is due,
    which is exactly when next_check_at is None or after `at`."""
    at = _checked(clock, terms, at)
    if clock.is_stopped:
        return clock, NO_SIGNALS
    # A paused clock crossed only what it used before the pause began.
    limit = at if clock.paused_since is None else clock.paused_since
    # Check instants rise with the percent: scan up to the first one still ahead,
    # which is the next check once the ones before it are fired (the sweep ticks
    # many clocks; each instant is a calendar computation).
    top: int | None = None
    ahead: datetime | None = None
    for percent in _pending(clock, terms):
        when = _check_at(clock, terms, percent)
        if when > limit:
            ahead = when
            break
        top = percent
    if top is None:
        return clock, NO_SIGNALS
    kind = SignalKind.BREACH if top == BREACH else SignalKind.WARNING
    signal = Signal(clock.metric, kind, top, at)
    fired = _fired_through(clock, terms, top)
    if clock.is_paused:
        # _derive's rule for a paused clock: a check only for what it crossed
        # before the pause, and everything up to the pause has just fired.
        ahead = None
    state = (
        State.BREACHED if BREACH in fired else State.PAUSED if clock.is_paused else State.RUNNING
    )
    due = None if clock.is_paused else _level_at(clock, terms, BREACH)
    ticked = replace(
        clock, fired=fired, updated_at=at, state=state, due_at=due, next_check_at=ahead
    )
    return ticked, (signal,)


def used(clock: Clock, terms: Terms, at: datetime) -> timedelta:
    """Business time counted against the target from the start to `at` (it stands
    still while paused and after the stop)."""
    at = _utc(at)
    end = min(at, clock.paused_since or at, clock.stopped_at or at)
    return _used(clock, terms, end)


# ------------------------------------------------------------------ replay


class Kind(StrEnum):
    START = "start"
    STATUS = "status"
    REPLY = "reply"
    COMPLETED = "completed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"
    RECLASSIFIED = "reclassified"
    REPOLICIED = "repolicied"
    TICK = "tick"


@dataclass(frozen=True)
class Happening:
    """One thing that happened to an item, as the clocks see it.

    `status` is the item's status after a start, status change or reopening.
    `terms` is what a start (one per metric) or a repolicy (one per metric) brings,
    or a reclassification: the new priority's terms under each policy version the
    item's clocks follow (a stopped clock keeps the version it stopped under). A
    clock with no terms for it in a reclassification or repolicy is left as it is.
    """

    kind: Kind
    at: datetime
    status: str = ""
    terms: tuple[Terms, ...] = ()


@dataclass(frozen=True)
class Replay:
    clocks: Mapping[Metric, Clock]
    terms: Mapping[Metric, Terms]  # in force for each clock after the last happening
    signals: Signals  # every signal, in order


def apply(clock: Clock, terms: Terms, happening: Happening) -> tuple[Clock, Terms, Signals]:
    """One happening (not a start) applied to one clock: the new clock, the terms now
    in force for it, and the signals."""
    at = happening.at
    match happening.kind:
        case Kind.STATUS:
            return _with(terms, status_changed(clock, terms, at, happening.status))
        case Kind.REPLY:
            return _with(terms, public_reply(clock, terms, at))
        case Kind.COMPLETED:
            return _with(terms, completed(clock, terms, at))
        case Kind.REOPENED:
            return _with(terms, reopened(clock, terms, at, happening.status))
        case Kind.CANCELLED:
            return _with(terms, cancelled(clock, terms, at))
        case Kind.TICK:
            return _with(terms, tick(clock, terms, at))
        case Kind.RECLASSIFIED | Kind.REPOLICIED:
            new_terms = _terms_for(clock, happening)
            if new_terms is None or clock.is_stopped:
                _checked(clock, terms, at)
                return clock, terms, NO_SIGNALS
            change = reclassified if happening.kind is Kind.RECLASSIFIED else repolicied
            return _with(new_terms, change(clock, terms, at, new_terms))
        case Kind.START:
            raise ValueError(START_AGAIN)


def replay(happenings: Iterable[Happening]) -> Replay:
    """Fold an item's happenings from scratch: the first must be its start."""
    steps = iter(happenings)
    first = next(steps, None)
    if first is None or first.kind is not Kind.START:
        raise ValueError(NO_START)
    terms: dict[Metric, Terms] = {}
    for t in first.terms:
        if t.metric in terms:
            raise ValueError(REPEATED_METRIC.format(metric=t.metric))
        terms[t.metric] = t
    clocks = {m: start(t, first.at, first.status) for m, t in terms.items()}
    signals: list[Signal] = []
    for happening in steps:
        for metric in clocks:
            clocks[metric], terms[metric], out = apply(clocks[metric], terms[metric], happening)
            signals.extend(out)
    return Replay(clocks=clocks, terms=terms, signals=tuple(signals))


# ------------------------------------------------------------------ internals


def _with(terms: Terms, step: Step) -> tuple[Clock, Terms, Signals]:
    return step[0], terms, step[1]


def _terms_for(clock: Clock, happening: Happening) -> Terms | None:
    """The terms a reclassification or repolicy brings to this clock: for its metric,
    and for a reclassification under the policy version the clock follows."""
    for t in happening.terms:
        if t.metric is clock.metric and (
            happening.kind is Kind.REPOLICIED or t.policy_id == clock.policy_id
        ):
            return t
    return None


def _utc(at: datetime, name: str = "at") -> datetime:
    if at.utcoffset() is None:
        raise ValueError(NAIVE.format(name=name))
    return at.astimezone(UTC)


def _checked(clock: Clock, terms: Terms, at: datetime) -> datetime:
    at = _utc(at)
    if at < clock.updated_at:
        raise ValueError(
            BACKWARDS.format(at=at.isoformat(), updated_at=clock.updated_at.isoformat())
        )
    _require_same(clock, terms)
    return at


def _require_same(clock: Clock, terms: Terms) -> None:
    if terms.metric is not clock.metric:
        raise ValueError(WRONG_METRIC.format(terms=terms.metric, clock=clock.metric))
    if terms.policy_id != clock.policy_id:
        raise ValueError(WRONG_POLICY.format(terms=terms.policy_id, clock=clock.policy_id))


def _pauses(terms: Terms, status: str) -> bool:
    return terms.metric is Metric.TURNAROUND and status in terms.pause_statuses


def _resume(clock: Clock, terms: Terms, at: datetime) -> Clock:
    """Settle an open pause at `at` (the paused business time is counted)."""
    if clock.paused_since is None:
        return clock
    paused = clock.paused + terms.calendar.elapsed(clock.paused_since, at)
    return replace(clock, paused=paused, paused_since=None)


def _pause_for(clock: Clock, terms: Terms, at: datetime) -> Clock:
    """Pause or resume at `at` as the clock's status asks under `terms`."""
    if _pauses(terms, clock.status):
        return clock if clock.is_paused else replace(clock, paused_since=at)
    return _resume(clock, terms, at)


def _retarget(clock: Clock, terms: Terms, at: datetime, new_terms: Terms) -> Step:
    # An open pause is counted up to now by the calendar it ran under, then goes on
    # (or ends) under the new terms.
    settled = _resume(clock, terms, at)
    if clock.is_paused:
        settled = replace(settled, paused_since=at)
    changed = replace(
        settled,
        policy_id=new_terms.policy_id,
        target=new_terms.target,
        updated_at=at,
    )
    return _derive(_pause_for(changed, new_terms, at), new_terms), NO_SIGNALS


def _stop(clock: Clock, terms: Terms, at: datetime) -> Step:
    settled = _resume(clock, terms, at)
    due = _level_at(settled, terms, BREACH)
    fired, signals = settled.fired, NO_SIGNALS
    if at > due and BREACH not in fired:
        fired = _fired_through(settled, terms, BREACH)
        signals = (Signal(clock.metric, SignalKind.BREACH, BREACH, at),)
    stopped = replace(
        settled,
        state=State.BREACHED if BREACH in fired else State.MET,
        due_at=due,
        stopped_at=at,
        fired=fired,
        next_check_at=None,
        updated_at=at,
    )
    return stopped, signals


def _derive(clock: Clock, terms: Terms) -> Clock:
    """State, due_at and next_check_at of a clock that is not stopped."""
    if BREACH in clock.fired:
        state = State.BREACHED
    else:
        state = State.PAUSED if clock.is_paused else State.RUNNING
    due = None if clock.is_paused else _level_at(clock, terms, BREACH)
    next_check = None
    pending = _pending(clock, terms)
    if pending:
        first = _check_at(clock, terms, pending[0])
        # A paused clock needs a tick only for what it crossed before the pause.
        if clock.paused_since is None or first <= clock.paused_since:
            next_check = first
    return replace(clock, state=state, due_at=due, next_check_at=next_check)


def _pending(clock: Clock, terms: Terms) -> tuple[int, ...]:
    """The thresholds a tick may still signal, ascending: those above the highest
    fired (a lower warning after a higher one says nothing new). A zero target has
    no time to warn in, so only its breach."""
    highest = max(clock.fired, default=0)
    return tuple(p for p in _levels(clock, terms) if p > highest)


def _levels(clock: Clock, terms: Terms) -> tuple[int, ...]:
    return (*terms.thresholds, BREACH) if clock.target else (BREACH,)


def _level_at(clock: Clock, terms: Terms, percent: int) -> datetime:
    """The instant `percent` of the target is used, given the settled pauses."""
    budget = clock.target * percent // 100
    return terms.calendar.add(clock.started_at, budget + clock.paused)


def _check_at(clock: Clock, terms: Terms, percent: int) -> datetime:
    """The first instant a tick fires `percent`: a warning at its level, the breach
    just after due_at (a stop at due_at is met)."""
    level = _level_at(clock, terms, percent)
    return level + MICROSECOND if percent == BREACH else level


def _fired_through(clock: Clock, terms: Terms, top: int) -> tuple[int, ...]:
    """The clock's fired thresholds with every level up to `top` added."""
    return tuple(sorted({*clock.fired, *(p for p in _levels(clock, terms) if p <= top)}))


def _used(clock: Clock, terms: Terms, end: datetime) -> timedelta:
    return terms.calendar.elapsed(clock.started_at, end) - clock.paused


def _micros(duration: timedelta) -> int:
    return duration // MICROSECOND


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _instant(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text), "instant")


def _maybe_instant(text: str | None) -> datetime | None:
    return None if text is None else _instant(text)
