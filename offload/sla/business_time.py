"""Business time: when a calendar is open, and arithmetic on the time it is open.

A `BusinessCalendar` turns a calendar spec (spec.py) into a sorted list of disjoint
open intervals in UTC epoch microseconds, with the business time before each one
summed up. `add` and `elapsed` are then two bisections and a subtraction. The list
is built a year of local dates at a time, as queries reach it, so building a
calendar costs nothing until it is used and a query far away only builds the years
it needs.

Rules (docs/sla.md says the same for readers):

- a window is read on the wall clock of the calendar's zone and belongs to the day
  it starts on: a public holiday or a closed date drops the windows that start that
  day (an overnight window from the evening before still runs into it), a partial
  date replaces them, and a partial date wins over a public holiday;
- business time is the real time while a window is open, so a clock change inside
  a window makes it an hour shorter or longer;
- a window opens the first time the wall clock shows its start and closes the last
  time it shows its end (the repeated hour of a fall-back night is inside a window
  whose edge is in it); a wall time the clock skips is reached at the instant of the
  change; a window whose both edges are skipped is empty that day;
- windows that touch or overlap (after those rules) are one interval, so no time is
  counted twice.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from offload.sla import spec as calendar_spec

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ONE_DAY = timedelta(days=1)
US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S
# A window starting on the last local day of the year before can run (24 hours at
# most, offsets within 15 hours) into the second UTC day of a year, and local midnight
# ending a year is after 09:00 UTC on its eve: inside these bounds a year is whole.
VALID_AFTER_YEAR_START = 2 * US_PER_DAY
VALID_BEFORE_YEAR_END = US_PER_DAY
ALL_DAY: tuple[calendar_spec.Window, ...] = ((time(0), time(0)),)  # 00:00-24:00
# The years an instant may fall in (a year is built with its neighbours' edges).
MIN_YEAR = 3
MAX_YEAR = 9997
# Years between the built ones and a query further than this start a fresh table
# rather than building every year between (a far query is rare; keep memory small).
MAX_GAP_YEARS = 10
CACHE_SIZE = 256

NOT_A_DATETIME = "{name} must be a datetime"
NAIVE = "{name} must be an aware datetime (with a time zone), not a naive one"
NOT_A_DURATION = "duration must be a timedelta"
NEGATIVE = "duration must not be negative"
OUT_OF_RANGE = "the calendar covers only the years {low}..{high}"
NEVER_OPENS = "the calendar never opens again"

# (valid_from, valid_until, starts, ends, before, through): the business time before
# interval i is before[i] and through its end is through[i]; positions are only
# compared within one table, so its origin does not matter.
_Table = tuple[int, int, list[int], list[int], list[int], list[int]]
_EMPTY: _Table = (0, 0, [], [], [], [])


def _micros(at: datetime, name: str) -> int:
    if not isinstance(at, datetime):
        raise TypeError(NOT_A_DATETIME.format(name=name))
    if at.utcoffset() is None:
        raise ValueError(NAIVE.format(name=name))
    return (at - EPOCH) // MICROSECOND


def _instant(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _utc_midnight(year: int) -> int:
    return (date(year, 1, 1) - date(1970, 1, 1)).days * US_PER_DAY


def _years_for(at: int) -> tuple[int, int]:
    """The local years [first, last) a table must hold to answer for `at`."""
    year = _instant(at).year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(OUT_OF_RANGE.format(low=MIN_YEAR, high=MAX_YEAR))
    first = year - 1 if at < _utc_midnight(year) + VALID_AFTER_YEAR_START else year
    last = year + 2 if at >= _utc_midnight(year + 1) - VALID_BEFORE_YEAR_END else year + 1
    return first, last


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


@lru_cache(maxsize=1024)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # Neighbouring years too: an observed day can fall in the year before its holiday
    # (US New Year's Day 2022 is observed on 2021-12-31).
    found = holidays.country_holidays(country, subdiv=subdivision, years=range(year - 1, year + 2))
    return frozenset(d for d in found if d.year == year)


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class BusinessCalendar:
    """Open hours of one calendar spec, and business-time arithmetic on them.

    Every datetime argument must be aware (any zone); every datetime answer is UTC.
    A calendar is safe to share between threads: it only grows, under a lock, and
    each query reads one consistent table.
    """

    def __init__(self, parsed: calendar_spec.CalendarSpec) -> None:
        self.spec = parsed
        self.zone = ZoneInfo(parsed.timezone)
        self._weekly: tuple[tuple[calendar_spec.Window, ...], ...] = tuple(
            ALL_DAY if parsed.always_open else parsed.hours[day] for day in calendar_spec.DAYS
        )
        self._closed = frozenset(parsed.closed)
        self._partial = dict(parsed.partial)
        self._opens_weekly = any(self._weekly)
        # Without weekly hours, only partial dates open, so nothing opens after them.
        self._last_open_year = max((d.year for d, w in parsed.partial.items() if w), default=None)
        self._lock = threading.Lock()
        self._years: tuple[int, int] | None = None  # local years built, [first, last)
        self._intervals: list[tuple[int, int]] = []
        self._table: _Table = _EMPTY

    @classmethod
    def from_spec(cls, raw: Any) -> BusinessCalendar:
        """The calendar of a JSON spec, built once per distinct spec and then shared.

        Raises spec.SpecError naming every bad field.
        """
        try:
            key = json.dumps(raw, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return cls(calendar_spec.parse(raw))  # not JSON: parse says what is wrong
        return _from_canonical_json(key)

    # ------------------------------------------------------------------ queries

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of business time has passed after `start`.

        A start outside hours counts from the next opening, so a zero duration gives
        the next opening (or `start` itself while open). With a positive duration the
        answer is inside a window or exactly at its end, never at the next opening.
        """
        at = _micros(start, "start")
        if not isinstance(duration, timedelta):
            raise TypeError(NOT_A_DURATION)
        wanted = duration // MICROSECOND
        if wanted < 0:
            raise ValueError(NEGATIVE)
        if wanted == 0:
            return _instant(self._next_open(at))
        while True:
            table = self._table
            valid_from, valid_until, starts, ends, before, through = table
            if not valid_from <= at < valid_until:
                self._cover(at, at)
                continue
            i = bisect_right(starts, at) - 1
            if i < 0:
                target = wanted
            else:
                end = ends[i]
                target = before[i] + (at if at < end else end) - starts[i] + wanted
            if not through or target > through[-1]:
                self._grow(table)
                continue
            j = bisect_left(through, target)
            return _instant(ends[j] - (through[j] - target))

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time from `start` to `end`; negative when `end` is before `start`,
        so that elapsed(a, c) == elapsed(a, b) + elapsed(b, c) for any a, b, c."""
        first = _micros(start, "start")
        last = _micros(end, "end")
        table = self._covering(first, last)
        return timedelta(microseconds=_position(table, last) - _position(table, first))

    def is_open(self, at: datetime) -> bool:
        """Whether a window is open at `at` (windows include their opening instant and
        exclude their closing one)."""
        us = _micros(at, "at")
        _, _, starts, ends, _, _ = self._covering(us, us)
        i = bisect_right(starts, us) - 1
        return i >= 0 and us < ends[i]

    def next_open(self, at: datetime) -> datetime:
        """`at` itself (in UTC) while open, else the next opening."""
        return _instant(self._next_open(_micros(at, "at")))

    def windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals overlapping [start, end), in order, as UTC (open, close)
        pairs clipped to the range, so their lengths add up to elapsed(start, end)."""
        first = _micros(start, "start")
        last = _micros(end, "end")
        if last <= first:
            return iter(())
        return self._windows(self._covering(first, last), first, last)

    # ------------------------------------------------------------------ lookups

    def _next_open(self, at: int) -> int:
        while True:
            table = self._table
            valid_from, valid_until, starts, ends, _, _ = table
            if not valid_from <= at < valid_until:
                self._cover(at, at)
                continue
            i = bisect_right(starts, at) - 1
            if i >= 0 and at < ends[i]:
                return at
            if i + 1 == len(starts):
                self._grow(table)
                continue
            return starts[i + 1]

    def _covering(self, first: int, last: int) -> _Table:
        """A table answering for both instants (first <= last or not)."""
        low, high = min(first, last), max(first, last)
        while True:
            table = self._table
            if table[0] <= low and high < table[1]:
                return table
            self._cover(low, high)

    @staticmethod
    def _windows(table: _Table, first: int, last: int) -> Iterator[tuple[datetime, datetime]]:
        _, _, starts, ends, _, _ = table
        i = max(bisect_right(starts, first) - 1, 0)
        while i < len(starts) and starts[i] < last:
            if ends[i] > first:
                yield _instant(max(starts[i], first)), _instant(min(ends[i], last))
            i += 1

    # ------------------------------------------------------------------ building

    def _cover(self, low: int, high: int) -> None:
        """Build the years the table needs to answer for every instant in [low, high]."""
        first, last = _years_for(low)[0], _years_for(high)[1]
        with self._lock:
            if self._years is not None:
                built_first, built_last = self._years
                if first - built_last <= MAX_GAP_YEARS and built_first - last <= MAX_GAP_YEARS:
                    first, last = min(first, built_first), max(last, built_last)
                else:
                    self._years, self._intervals = None, []
            if self._years != (first, last):
                self._build(first, last)

    def _grow(self, seen: _Table) -> None:
        """Build more years after the table `seen` (unless another thread did):
        as many again as are built, up to MAX_GAP_YEARS, so a long add is not
        quadratic."""
        with self._lock:
            if self._table is not seen or self._years is None:
                return
            first, last = self._years
            if not self._opens_weekly and (
                self._last_open_year is None or last > self._last_open_year
            ):
                raise ValueError(NEVER_OPENS)
            if last > MAX_YEAR + 1:
                raise ValueError(OUT_OF_RANGE.format(low=MIN_YEAR, high=MAX_YEAR))
            self._build(first, min(last + min(last - first, MAX_GAP_YEARS), MAX_YEAR + 2))

    def _build(self, first: int, last: int) -> None:
        """Extend the intervals to the local years [first, last) and publish a table."""
        built_first, built_last = self._years or (first, first)
        new: list[tuple[int, int]] = []
        for year in range(first, last):
            if not built_first <= year < built_last:
                new.extend(self._year_intervals(year))
        intervals = _merge(self._intervals + new)
        starts = [s for s, _ in intervals]
        ends = [e for _, e in intervals]
        before: list[int] = []
        through: list[int] = []
        total = 0
        for s, e in intervals:
            before.append(total)
            total += e - s
            through.append(total)
        self._intervals = intervals
        self._years = (first, last)
        self._table = (
            _utc_midnight(first) + VALID_AFTER_YEAR_START,
            _utc_midnight(last) - VALID_BEFORE_YEAR_END,
            starts,
            ends,
            before,
            through,
        )

    def _year_intervals(self, year: int) -> list[tuple[int, int]]:
        spec = self.spec
        public = (
            _public_holidays(spec.holiday_country, spec.holiday_subdivision, year)
            if spec.holiday_country
            else frozenset()
        )
        out: list[tuple[int, int]] = []
        day = date(year, 1, 1)
        while day.year == year:
            windows = self._partial.get(day)
            if windows is None:
                closed = day in self._closed or day in public
                windows = () if closed else self._weekly[day.weekday()]
            for start, stop in windows:
                opens = self._edge(day, start, opening=True)
                overnight = _minutes(stop) <= _minutes(start)
                closes = self._edge(day + ONE_DAY if overnight else day, stop, opening=False)
                if closes > opens:
                    out.append((opens, closes))
            day += ONE_DAY
        return out

    def _edge(self, day: date, at: time, *, opening: bool) -> int:
        """The instant a window opens or closes at wall time `at` on `day`."""
        wall = datetime.combine(day, at, tzinfo=self.zone)
        earlier = (wall - EPOCH) // MICROSECOND
        later = (wall.replace(fold=1) - EPOCH) // MICROSECOND
        if earlier == later:
            return earlier
        if earlier < later:  # shown twice (clocks go back): open early, close late
            return earlier if opening else later
        # Skipped (clocks go forward): here fold=0 reads the wall time with the
        # offset before the change and fold=1 with the one after, so `later` is
        # before the change and `earlier` after it; the change is between them.
        return self._change_between(later, earlier)

    def _change_between(self, before: int, after: int) -> int:
        """The instant the zone's offset changes, by bisection on whole seconds
        (tz database changes fall on whole seconds)."""
        low, high = before // US_PER_S, -(-after // US_PER_S)
        offset_before = _instant(low * US_PER_S).astimezone(self.zone).utcoffset()
        while high - low > 1:
            middle = (low + high) // 2
            if _instant(middle * US_PER_S).astimezone(self.zone).utcoffset() == offset_before:
                low = middle
            else:
                high = middle
        return high * US_PER_S


def _position(table: _Table, at: int) -> int:
    """Business time before `at`, from the table's origin."""
    _, _, starts, ends, before, _ = table
    i = bisect_right(starts, at) - 1
    if i < 0:
        return 0
    end = ends[i]
    return before[i] + (at if at < end else end) - starts[i]


@lru_cache(maxsize=CACHE_SIZE)
def _from_canonical_json(key: str) -> BusinessCalendar:
    return BusinessCalendar(calendar_spec.parse(json.loads(key)))
