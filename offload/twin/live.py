"""The live configuration of a provider as an engine scenario, for a period.

`live_scenario` reads what production runs on and writes it as the pure engine's
`Scenario` (docs/twin.md, Scenarios):

- processes of the provider's engagements (all but those exited): channel; arrivals
  per 30-minute interval and AHT from the forecast (`staffing_requirements`) where
  one covers the period, otherwise from the last four weeks' items (a weekly
  profile, started at the period's weekday and time: the interval actuals the
  forecasts learn from, or the items themselves where none are rolled up yet);
  language and priority mixes from the same items; patience from the staffing
  target (none: nobody abandons); SLA targets (first response, turnaround) per
  priority in business seconds, as the SLA clocks compute them, on the policy's
  calendar;
- queues: each non-review queue as the same `QueuePolicy` production routes with
  (`offload.work.leases.queue_policy`), and each language's queue as intake chooses
  it (`offload.work.intake.queue_choose`);
- agents: active agent workers with their site (its name), the site's hourly cost,
  skills, languages, certified processes and capacity per channel; their shifts
  from the published schedules when one covers the period (an agent without a
  shift is then off), otherwise always on;
- bots: active bot workers with their processes and concurrency; service time and
  failure rate measured from their last four weeks' finished leases when there are
  enough of them, otherwise documented defaults.

With `replay_from`, the arrivals are instead a replay of history: the items created
in [replay_from, replay_from + days) in the provider's processes become the
scenario's `replay`, shifted onto the period (an item created x seconds after
replay_from arrives x seconds after the start), each with its process, priority
(P1..P4 -> 1..4), language and, where it was handled, its measured handle time (as
forecasting's interval actuals measure it: the work + wrap-up of its completed
leases, else the handle_seconds its completion reported); an item never handled (or
handled in 0 s) draws its service time from the process's AHT. The process models
then describe the replayed window: arrivals per interval counted from it, AHT the
mean of its measured handle times (else as above), language and priority mixes from
its items.

Each choice made for lack of data is written in the returned notes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, ExtractMinute

from offload.contracts.lifecycle import Stage
from offload.contracts.models import Process, SlaTarget
from offload.tenancy.models import Organisation
from offload.twin.engine import model as engine
from offload.work import clocks, intake, leases
from offload.work.models import Assignment, Queue, WorkItem, WorkItemEvent
from offload.workers.models import Worker, WorkerKind
from offload.workforce import forecast_selectors, schedule_selectors
from offload.workforce.models import IntervalActual

K = TypeVar("K", str, int)

INTERVAL_S = 1800.0
INTERVAL = timedelta(seconds=INTERVAL_S)
WEEK_SLOTS = 7 * 48
HISTORY = timedelta(weeks=4)
HISTORY_WEEKS = 4
# AHT when a process has no finished work to measure, by channel (seconds).
DEFAULT_AHT_S = {"chat": 300.0, "voice": 300.0, "email": 600.0, "back_office": 900.0}
# A bot's service time and failure rate need this many finished leases to be measured.
BOT_SAMPLE_MIN = 20
BOT_SAMPLE_MAX = 2000  # the latest finished leases measured per bot
DEFAULT_BOT_SERVICE_S = 60.0
DEFAULT_BOT_FAILURE_RATE = 0.1
PRIORITY = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
TIME_METRICS = (engine.FIRST_RESPONSE, engine.TURNAROUND)
BOT_FAILED = ("failed", "escalated")

NOTE_FORECAST = "{process}: arrivals and AHT from the forecast"
NOTE_HISTORY = "{process}: arrivals from the last 4 weeks' items ({n} items), as a weekly profile"
NOTE_NO_ITEMS = "{process}: no items in the last 4 weeks and no forecast: no arrivals"
NOTE_DEFAULT_AHT = "{process}: no finished work to measure AHT; {aht:g} s assumed for {channel}"
NOTE_NO_PATIENCE = "{processes}: no staffing target gives a patience, so nobody abandons"
NOTE_SCHEDULE = "shifts from the published schedules ({n} shifts); agents without one are off"
NOTE_UNROSTERED = "{n} published shifts not yet rostered to an agent are left out"
NOTE_ALWAYS_ON = "no published schedule covers the period: every agent is always on"
NOTE_BOT_DEFAULT = (
    "bot {bot}: fewer than {n} finished leases; service {service:g} s and failure rate "
    "{failure:g} assumed"
)
NOTE_REPLAY = (
    "replay: the {n} items created from {since} to {until} (UTC) in the provider's "
    "processes, shifted onto the period"
)
NOTE_REPLAY_PROCESS = (
    "{process}: replays {n} items ({handled} with a measured handle time; the rest "
    "draw it from the AHT, {aht:g} s)"
)
NOTE_TARGET_CALENDAR = (
    "{process}: the {metric} target has its own calendar; the twin measures it on the "
    "policy's calendar"
)


@dataclass(frozen=True)
class LiveBuild:
    scenario: engine.Scenario
    notes: tuple[str, ...]


def period_start(at: datetime) -> datetime:
    """`at` in UTC, floored to its 30-minute interval."""
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 30, second=0, microsecond=0)


def _week_slot(at: datetime) -> int:
    at = at.astimezone(UTC)
    return at.weekday() * 48 + at.hour * 2 + at.minute // 30


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _replay_order(r: engine.ReplayArrival) -> tuple[float, int]:
    return r.at_s, r.process_id


REPLAY_NOT_PAST = "must be in the past: the {days} replayed days from it end after now"
REPLAY_OUT_OF_RANGE = "is out of range"
REPLAY_UPLOADED = "replays the live configuration's history; an uploaded scenario brings its own"


def replay_window(
    replay_from: date | datetime, days: int, tz_name: str
) -> tuple[datetime, datetime]:
    """The replayed window [since, until) in UTC: a date is its midnight in `tz_name`
    (the provider's zone), a naive instant is UTC."""
    if isinstance(replay_from, datetime):
        since = replay_from if replay_from.tzinfo else replay_from.replace(tzinfo=UTC)
    else:
        since = datetime.combine(replay_from, time(0), tzinfo=ZoneInfo(tz_name or "UTC"))
    since = since.astimezone(UTC)
    return since, since + timedelta(days=days)


# ------------------------------------------------------------------ replay


def _reported_seconds(process_ids: list[int], since: datetime, until: datetime) -> dict[int, int]:
    """The `handle_seconds` the completion events reported, per item created in
    [since, until) (what counts when no lease completed the item)."""
    rows = WorkItemEvent.objects.filter(
        item__process_id__in=process_ids,
        item__created_at__gte=since,
        item__created_at__lt=until,
        type="completed",
        data__has_key="handle_seconds",
    ).values_list("item_id", "data")
    out: dict[int, int] = defaultdict(int)
    for item_id, data in rows:
        seconds = (data or {}).get("handle_seconds")
        if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds >= 0:
            out[item_id] += seconds
    return out


def _replay(
    process_ids: list[int], since: datetime, until: datetime
) -> dict[int, list[engine.ReplayArrival]]:
    """The items created in [since, until), per process, as replay arrivals in
    seconds from `since`, in the order they were created. An item's handle time is
    measured as forecasting's interval actuals measure it
    (`offload.workforce.forecast_services.actuals_rollup`): the work + wrap-up of its
    completed leases, or, when no lease completed it, the `handle_seconds` its
    completions reported; none (or 0 s): drawn from the AHT. Two queries (the items
    with their leases' sum, the reports), joined on the items, not a list of ids."""
    reported = _reported_seconds(process_ids, since, until)
    rows = (
        WorkItem.objects.filter(
            process_id__in=process_ids, created_at__gte=since, created_at__lt=until
        )
        .order_by("created_at", "id")
        .values_list("id", "process_id", "created_at", "priority", "language")
        .annotate(
            leased=Sum(
                F("assignments__work_seconds") + F("assignments__wrap_seconds"),
                filter=Q(assignments__end_reason="completed"),
            )
        )
    )
    out: dict[int, list[engine.ReplayArrival]] = defaultdict(list)
    for item_id, pid, created_at, priority, language, leased in rows:
        seconds = leased if leased is not None else reported.get(item_id)
        out[pid].append(
            engine.ReplayArrival(
                at_s=_seconds(created_at, since),
                process_id=pid,
                priority=PRIORITY.get(priority, 3),
                language=language or "",
                aht_s=float(seconds) if seconds else None,
            )
        )
    return out


# ------------------------------------------------------------------ processes


def _processes(provider: Organisation) -> list[Process]:
    return list(
        Process.objects.filter(provider=provider)
        .exclude(engagement__status=Stage.EXIT)
        .select_related("sla_policy__calendar")
        .order_by("pk")
    )


def _rolled_up(
    process_ids: list[int], since: datetime, until: datetime
) -> tuple[dict[int, list[float]], dict[int, float]]:
    """The weekly profile and AHT of each process from the interval actuals the
    `workforce.actuals` sweep rolls up from the items (the forecasts' history)."""
    profiles: dict[int, list[float]] = {}
    handled: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    rows = IntervalActual.objects.filter(
        process_id__in=process_ids, start__gte=since, start__lt=until
    ).values_list("process_id", "start", "arrivals", "handled", "handle_seconds")
    for pid, at, arrivals, n, seconds in rows:
        profile = profiles.setdefault(pid, [0.0] * WEEK_SLOTS)
        profile[_week_slot(at)] += arrivals / HISTORY_WEEKS
        handled[pid][0] += n
        handled[pid][1] += seconds
    aht = {pid: seconds / n for pid, (n, seconds) in handled.items() if n}
    return {pid: p for pid, p in profiles.items() if sum(p) > 0}, aht


def _history_profiles(
    process_ids: list[int], since: datetime, until: datetime
) -> dict[int, list[float]]:
    """Mean items per weekly 30-minute slot (UTC) over the history window."""
    rows = (
        WorkItem.objects.filter(
            process_id__in=process_ids, created_at__gte=since, created_at__lt=until
        )
        .annotate(
            wd=ExtractIsoWeekDay("created_at", tzinfo=UTC),
            h=ExtractHour("created_at", tzinfo=UTC),
            m=ExtractMinute("created_at", tzinfo=UTC),
        )
        .values("process_id", "wd", "h", "m")
        .annotate(n=Count("id"))
    )
    out: dict[int, list[float]] = {}
    for row in rows:
        profile = out.setdefault(row["process_id"], [0.0] * WEEK_SLOTS)
        slot = (int(row["wd"]) - 1) * 48 + int(row["h"]) * 2 + int(row["m"]) // 30
        profile[slot] += row["n"] / HISTORY_WEEKS
    return out


def _mixes(
    process_ids: list[int], since: datetime, until: datetime
) -> tuple[dict[int, dict[str, int]], dict[int, dict[int, int]]]:
    """Items per language and per priority of each process over the window."""
    languages: dict[int, dict[str, int]] = defaultdict(dict)
    priorities: dict[int, dict[int, int]] = defaultdict(dict)
    rows = (
        WorkItem.objects.filter(
            process_id__in=process_ids, created_at__gte=since, created_at__lt=until
        )
        .values("process_id", "language", "priority")
        .annotate(n=Count("id"))
    )
    for row in rows:
        pid, n = row["process_id"], row["n"]
        lang = row["language"] or ""
        languages[pid][lang] = languages[pid].get(lang, 0) + n
        prio = PRIORITY.get(row["priority"], 3)
        priorities[pid][prio] = priorities[pid].get(prio, 0) + n
    return languages, priorities


def _shares(counts: Mapping[K, int]) -> dict[K, float]:
    total = sum(counts.values())
    return {k: round(v / total, 6) for k, v in sorted(counts.items(), key=str)} if total else {}


def _measured_aht(process_ids: list[int], since: datetime, until: datetime) -> dict[int, float]:
    rows = (
        Assignment.objects.filter(
            item__process_id__in=process_ids,
            ended_at__gte=since,
            ended_at__lt=until,
            end_reason="completed",
            work_seconds__gt=0,
            worker__kind=WorkerKind.AGENT,
        )
        .values("item__process_id")
        .annotate(aht=Avg("work_seconds"))
    )
    return {r["item__process_id"]: float(r["aht"]) for r in rows if r["aht"]}


def _sla(process: Process, notes: list[str]) -> tuple[tuple[engine.SlaTarget, ...], object]:
    policy = process.sla_policy
    if policy is None:
        return (), None
    out = []
    targets = SlaTarget.objects.filter(policy=policy, metric__in=TIME_METRICS).select_related(
        "calendar"
    )
    for target in targets.order_by("metric", "priority"):
        if target.calendar_id is not None and target.calendar_id != policy.calendar_id:
            notes.append(NOTE_TARGET_CALENDAR.format(process=process.name, metric=target.metric))
        spec = (target.calendar or policy.calendar).spec
        seconds = clocks.target_duration(target, spec).total_seconds()
        out.append(
            engine.SlaTarget(
                metric=target.metric,
                target_s=seconds,
                priority=PRIORITY.get(target.priority) if target.priority else None,
            )
        )
    return tuple(out), policy.calendar.spec


def _forecast(
    provider: Organisation, process_ids: list[int], start: datetime, end: datetime
) -> dict[int, tuple[list[float], float]]:
    """Arrivals per interval of the period and the calls-weighted AHT, per process
    the forecast covers."""
    rows = forecast_selectors.staffing_requirements(
        provider=provider, start=start, end=end, process_ids=process_ids
    )
    slots = int((end - start) / INTERVAL)
    out: dict[int, tuple[list[float], float]] = {}
    weights: dict[int, float] = defaultdict(float)
    for r in rows:
        arrivals, _ = out.setdefault(r.process_id, ([0.0] * slots, 0.0))
        index = int((r.start - start) / INTERVAL)
        if 0 <= index < slots:
            arrivals[index] += r.calls
            weights[r.process_id] += r.calls * r.aht_s
    return {
        pid: (arrivals, weights[pid] / sum(arrivals) if sum(arrivals) else 0.0)
        for pid, (arrivals, _) in out.items()
    }


def _queues(processes: list[Process]) -> tuple[list[engine.QueueModel], dict[int, dict[str, int]]]:
    """Every non-review queue as production's policy, and each process's queue per
    language as intake chooses it."""
    by_process: dict[int, list[Queue]] = defaultdict(list)
    for q in Queue.objects.filter(process__in=processes).order_by("pk"):
        by_process[q.process_id].append(q)
    models: list[engine.QueueModel] = []
    choice: dict[int, dict[str, int]] = {}
    for process in processes:
        queues = by_process.get(process.pk, [])
        for q in queues:
            if q.is_review:
                continue
            policy = leases.queue_policy(q, process)
            models.append(
                engine.QueueModel(
                    id=policy.queue_id,
                    process_id=policy.process_id,
                    channel=policy.channel,
                    required_skills=dict(policy.required_skills),
                    ordering=tuple(policy.ordering),
                    relaxation=tuple(
                        engine.RelaxStepModel(s.after_s, s.skill_drop, tuple(sorted(s.languages)))
                        for s in policy.relaxation
                    ),
                )
            )
        languages = {""} | set(process.languages or [])
        for q in queues:
            languages |= set(q.languages or [])
        chosen = {}
        for lang in sorted(languages):
            queue = intake.queue_choose(queues, lang)
            if queue is not None:
                chosen[lang] = queue.pk
        choice[process.pk] = chosen
    return models, choice


def _process_models(
    provider: Organisation,
    processes: list[Process],
    queue_choice: Mapping[int, Mapping[str, int]],
    start: datetime,
    end: datetime,
    now: datetime,
    notes: list[str],
    replayed: Mapping[int, list[engine.ReplayArrival]] | None = None,
) -> list[engine.ProcessModel]:
    ids = [p.pk for p in processes]
    until = min(start, now)
    since = until - HISTORY
    forecast = {} if replayed is not None else _forecast(provider, ids, start, end)
    profiles, measured = _rolled_up(ids, since, until)
    missing = [pid for pid in ids if pid not in profiles]
    profiles.update(_history_profiles(missing, since, until))
    languages, priorities = _mixes(ids, since, until)
    measured.update(_measured_aht([pid for pid in ids if pid not in measured], since, until))
    targets = forecast_selectors.staffing_targets_effective(processes)
    first = _week_slot(start)
    impatient_unknown: list[str] = []
    out = []
    for p in processes:
        aht = measured.get(p.pk)
        if replayed is not None:
            arrivals, aht = _replayed_arrivals(replayed.get(p.pk, []), start, end, aht)
            _replayed_mixes(replayed.get(p.pk, []), p.pk, languages, priorities)
        elif p.pk in forecast:
            arrivals, forecast_aht = forecast[p.pk]
            aht = forecast_aht or aht
            notes.append(NOTE_FORECAST.format(process=p.name))
        elif p.pk in profiles:
            profile = profiles[p.pk]
            arrivals = [round(profile[(first + i) % WEEK_SLOTS], 6) for i in range(WEEK_SLOTS)]
            n = round(sum(profile) * HISTORY_WEEKS)
            notes.append(NOTE_HISTORY.format(process=p.name, n=n))
        else:
            arrivals = [0.0]
            notes.append(NOTE_NO_ITEMS.format(process=p.name))
        if not aht:
            aht = DEFAULT_AHT_S.get(p.channel, 600.0)
            notes.append(NOTE_DEFAULT_AHT.format(process=p.name, aht=aht, channel=p.channel))
        if replayed is not None:
            mine = replayed.get(p.pk, [])
            handled = sum(1 for r in mine if r.aht_s is not None)
            notes.append(
                NOTE_REPLAY_PROCESS.format(
                    process=p.name, n=len(mine), handled=handled, aht=round(float(aht), 3)
                )
            )
        language_mix = _shares(languages.get(p.pk, {}))
        if not language_mix:
            spoken = list(p.languages or []) or [""]
            language_mix = {lang: round(1 / len(spoken), 6) for lang in spoken}
        priority_mix = _shares(priorities.get(p.pk, {})) or {3: 1.0}
        sla, calendar = _sla(p, notes)
        target = targets.get(p.pk)
        patience = target.patience_s if target is not None else None
        if patience is None:
            impatient_unknown.append(p.name)
        out.append(
            engine.ProcessModel(
                id=p.pk,
                name=p.name,
                aht_s=round(float(aht), 3),
                arrivals=tuple(arrivals),
                channel=p.channel,
                patience_s=patience,
                priority_mix=priority_mix,
                language_mix={str(k): v for k, v in language_mix.items()},
                sla=sla,
                calendar=calendar,  # type: ignore[arg-type]
                queues=dict(queue_choice.get(p.pk, {})),
            )
        )
    if impatient_unknown:
        notes.append(NOTE_NO_PATIENCE.format(processes=", ".join(impatient_unknown)))
    return out


def _replayed_arrivals(
    replayed: list[engine.ReplayArrival], start: datetime, end: datetime, aht: float | None
) -> tuple[list[float], float | None]:
    """A replayed process's arrivals per interval of the period, and its AHT: the mean
    of the replayed measured handle times (else `aht`)."""
    arrivals = [0.0] * max(1, int((end - start) / INTERVAL))
    for r in replayed:
        arrivals[min(len(arrivals) - 1, int(r.at_s // INTERVAL_S))] += 1.0
    measured = [r.aht_s for r in replayed if r.aht_s is not None]
    return arrivals, (sum(measured) / len(measured) if measured else aht)


def _replayed_mixes(
    replayed: list[engine.ReplayArrival],
    pid: int,
    languages: dict[int, dict[str, int]],
    priorities: dict[int, dict[int, int]],
) -> None:
    """A replayed process's language and priority mixes: its replayed items'."""
    if not replayed:
        return
    languages[pid], priorities[pid] = {}, {}
    for r in replayed:
        lang, prio = r.language or "", r.priority or 3
        languages[pid][lang] = languages[pid].get(lang, 0) + 1
        priorities[pid][prio] = priorities[pid].get(prio, 0) + 1


# ------------------------------------------------------------------ workers


def _seconds(at: datetime, start: datetime) -> float:
    return round((at - start).total_seconds(), 3)


def _shifts(
    provider: Organisation, start: datetime, end: datetime, notes: list[str]
) -> dict[int, tuple[engine.Shift, ...]] | None:
    """Each rostered agent's shifts in seconds from the start; None: no schedule."""
    shifts = schedule_selectors.scheduled_shifts(provider=provider, start=start, end=end)
    if not shifts:
        notes.append(NOTE_ALWAYS_ON)
        return None
    out: dict[int, list[engine.Shift]] = defaultdict(list)
    unrostered = 0
    for s in shifts:
        if s.worker_id is None:
            unrostered += 1
            continue
        out[s.worker_id].append(
            engine.Shift(
                start_s=max(0.0, _seconds(s.start, start)),
                end_s=_seconds(s.end, start),
                breaks=tuple(
                    engine.Break(_seconds(bs, start), _seconds(be, start)) for bs, be in s.breaks
                ),
            )
        )
    notes.append(NOTE_SCHEDULE.format(n=len(shifts) - unrostered))
    if unrostered:
        notes.append(NOTE_UNROSTERED.format(n=unrostered))
    return {k: tuple(sorted(v, key=lambda s: s.start_s)) for k, v in out.items()}


def site_label(name: str, slug: str, names: Iterable[str]) -> str:
    """A site as the twin names it: its name, or "name (slug)" when two share a name."""
    return f"{name} ({slug})" if list(names).count(name) > 1 else name


def _agents(
    provider: Organisation,
    process_ids: set[int],
    shifts: Mapping[int, tuple[engine.Shift, ...]] | None,
) -> list[engine.AgentModel]:
    workers = list(
        Worker.objects.filter(provider=provider, kind=WorkerKind.AGENT, is_active=True)
        .select_related("site")
        .prefetch_related("processes", "channels")
        .order_by("pk")
    )
    names = [w.site.name for w in {w.site_id: w for w in workers if w.site}.values() if w.site]
    out = []
    for w in workers:
        site = w.site
        out.append(
            engine.AgentModel(
                id=w.pk,
                site=site_label(site.name, site.slug, names) if site else "",
                hourly_cost=float(site.hourly_cost) if site else 0.0,
                skills=dict(w.skills or {}),
                languages=frozenset(w.languages or []),
                certified=frozenset(p.pk for p in w.processes.all() if p.pk in process_ids),
                capacity={c.channel: c.capacity for c in w.channels.all() if c.capacity > 0},
                shifts=None if shifts is None else shifts.get(w.pk, ()),
            )
        )
    return out


def _bots(
    provider: Organisation,
    process_ids: set[int],
    since: datetime,
    until: datetime,
    notes: list[str],
) -> list[engine.BotModel]:
    bots = list(
        Worker.objects.filter(provider=provider, kind=WorkerKind.BOT, is_active=True)
        .select_related("user")
        .prefetch_related("processes")
        .order_by("pk")
    )
    measured: dict[int, tuple[int, int, float]] = {}
    for bot in bots:
        rows = list(
            Assignment.objects.filter(
                worker=bot,
                ended_at__gte=since,
                ended_at__lt=until,
                end_reason__in=("completed", *BOT_FAILED),
            )
            .order_by("-ended_at")
            .values_list("assigned_at", "ended_at", "end_reason")[:BOT_SAMPLE_MAX]
        )
        if rows:
            busy = sum(
                (e - a).total_seconds() for a, e, _ in rows if a is not None and e is not None
            )
            failed = sum(1 for *_, reason in rows if reason in BOT_FAILED)
            measured[bot.pk] = (len(rows), failed, busy / len(rows))
    out = []
    for bot in bots:
        served = frozenset(p.pk for p in bot.processes.all() if p.pk in process_ids)
        if not served:
            continue
        n, failed, mean = measured.get(bot.pk, (0, 0, 0.0))
        if n >= BOT_SAMPLE_MIN:
            service_s, failure = mean, failed / n
        else:
            service_s, failure = DEFAULT_BOT_SERVICE_S, DEFAULT_BOT_FAILURE_RATE
            notes.append(
                NOTE_BOT_DEFAULT.format(
                    bot=bot.user.username,
                    n=BOT_SAMPLE_MIN,
                    service=service_s,
                    failure=failure,
                )
            )
        out.append(
            engine.BotModel(
                id=bot.pk,
                processes=served,
                service_s=round(max(service_s, 0.001), 3),
                concurrency=bot.concurrency or 1,
                failure_rate=round(failure, 6),
            )
        )
    return out


# ------------------------------------------------------------------ the scenario


def live_scenario(
    *,
    provider: Organisation,
    start: datetime,
    days: int,
    name: str = "Live configuration",
    seed: int = 1,
    replications: int = 5,
    now: datetime | None = None,
    replay_from: date | datetime | None = None,
) -> LiveBuild:
    """The provider's live configuration as an engine scenario of `days` days from
    `start` (floored to its 30-minute interval), and the notes on how it was built.
    With `replay_from` (a date: its midnight in the provider's zone), the items
    created in the `days` days from it are replayed as the arrivals (the caller
    checks that window is over)."""
    start = period_start(start)
    end = start + timedelta(days=days)
    now = now or datetime.now(UTC)
    notes: list[str] = []
    processes = _processes(provider)
    queue_models, queue_choice = _queues(processes)
    replayed: dict[int, list[engine.ReplayArrival]] | None = None
    if replay_from is not None:
        since, until_ = replay_window(replay_from, days, provider.timezone)
        replayed = _replay([p.pk for p in processes], since, until_)
        n = sum(len(v) for v in replayed.values())
        notes.append(NOTE_REPLAY.format(n=n, since=_stamp(since), until=_stamp(until_)))
    process_models = _process_models(
        provider, processes, queue_choice, start, end, now, notes, replayed
    )
    ids = {p.pk for p in processes}
    shifts = _shifts(provider, start, end, notes)
    until = min(start, now)
    scenario = engine.Scenario(
        name=name,
        processes=tuple(process_models),
        queues=tuple(queue_models),
        agents=tuple(_agents(provider, ids, shifts)),
        bots=tuple(_bots(provider, ids, until - HISTORY, until, notes)),
        seed=seed,
        replications=replications,
        start=start.isoformat(),
        horizon_s=days * 86_400.0,
        interval_s=INTERVAL_S,
        replay=None
        if replayed is None
        else tuple(sorted((r for v in replayed.values() for r in v), key=_replay_order)),
    )
    return LiveBuild(scenario=scenario, notes=tuple(notes))


def replay_problem(
    provider: Organisation,
    replay_from: date | datetime | None,
    days: int,
    uploaded: Mapping[str, Any] | None,
    now: datetime,
) -> tuple[str, str | None]:
    """`replay_from`'s problem: the replayed window must be over by `now`, and an
    uploaded scenario cannot be replayed onto."""
    if replay_from is None:
        return "replay_from", None
    if uploaded is not None:
        return "replay_from", REPLAY_UPLOADED
    try:
        _, until = replay_window(replay_from, days, provider.timezone)
    except OverflowError:  # the first or last days a datetime can hold, shifted out of range
        return "replay_from", REPLAY_OUT_OF_RANGE
    return "replay_from", REPLAY_NOT_PAST.format(days=days) if until > now else None
