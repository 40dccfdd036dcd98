"""The routing policy as data, and its pure-Python evaluator (no Django).

A queue's policy says who may take its items and in which order:

- **eligibility**: the worker is certified on the item's process, has free
  capacity on the item's channel, meets the process's required skill levels and
  speaks the item's language (an item without a language fits everyone);
- **relaxation** (bullseye): steps `after_s` seconds of waiting, each lowering the
  required levels by `skill_drop` and accepting `languages` besides the item's
  own; an item that has waited long enough is offered to the wider circle;
- **ordering**: keys from ORDERING_KEYS. Within one queue the queue's keys apply;
  a pull across queues orders by DEFAULT_ORDERING, the platform-wide rule
  (priority, then earliest SLA due time, then age), since two queues' keys cannot
  be compared with each other.

Both evaluators start from `grants`: for one worker, every (queue, item language)
pair it may take and how long such an item must have waited first. The SQL claim
(offload.work.leases) joins the backlog to those grants; `pick` below applies
them to items in memory, which is what the digital twin runs. A property test
checks that the two pick the same item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

ORDERING_KEYS = ("priority", "due_at", "created_at")
DEFAULT_ORDERING: tuple[str, ...] = ORDERING_KEYS
ANY_LANGUAGE = "*"
NEVER = float("inf")


@dataclass(frozen=True)
class RelaxStep:
    after_s: int  # seconds an item has waited in its queue
    skill_drop: int = 0  # levels taken off every required skill
    languages: frozenset[str] = frozenset()  # accepted besides the item's own


@dataclass(frozen=True)
class QueuePolicy:
    queue_id: int
    process_id: int
    channel: str
    required_skills: Mapping[str, int]
    ordering: tuple[str, ...] = DEFAULT_ORDERING
    relaxation: tuple[RelaxStep, ...] = ()


@dataclass(frozen=True)
class WorkerView:
    id: int
    skills: Mapping[str, int]
    languages: frozenset[str]
    certified: frozenset[int]  # process ids
    free: Mapping[str, int]  # free capacity per channel


@dataclass(frozen=True)
class ItemView:
    id: int
    queue_id: int
    priority: int  # 1 (P1) .. 4 (P4)
    language: str
    created_at: float  # epoch seconds
    queued_at: float  # epoch seconds: when it last entered its queue
    due_at: float | None = None  # epoch seconds; None until an SLA clock sets it


@dataclass(frozen=True)
class Grant:
    queue_id: int
    language: str  # an item language, or ANY_LANGUAGE for items of any language
    min_wait_s: float  # the item must have waited at least this long


def _skills_wait(policy: QueuePolicy, worker: WorkerView) -> float:
    """Seconds of waiting after which the worker's skills are enough (NEVER if not)."""

    def meets(drop: int) -> bool:
        return all(
            worker.skills.get(skill, 0) >= level - drop
            for skill, level in policy.required_skills.items()
        )

    if meets(0):
        return 0
    drop = 0
    for step in policy.relaxation:
        drop = max(drop, step.skill_drop)
        if meets(drop):
            return step.after_s
    return NEVER


def _language_waits(policy: QueuePolicy, worker: WorkerView) -> dict[str, float]:
    """For each item language the worker can take: after how many seconds."""
    waits: dict[str, float] = dict.fromkeys(worker.languages, 0)
    accepted: set[str] = set()
    for step in policy.relaxation:
        accepted |= step.languages
        if accepted & worker.languages:
            # The step opens this queue's items of any language to speakers of
            # the step's languages.
            waits.setdefault(ANY_LANGUAGE, step.after_s)
            break
    return waits


def grants(policies: Iterable[QueuePolicy], worker: WorkerView) -> list[Grant]:
    """What the worker may take: per queue and item language, after how long."""
    out: list[Grant] = []
    for policy in policies:
        if policy.process_id not in worker.certified or worker.free.get(policy.channel, 0) <= 0:
            continue
        skills_wait = _skills_wait(policy, worker)
        if skills_wait == NEVER:
            continue
        # Items without a language fit everyone, subject to the skills wait alone.
        out.append(Grant(policy.queue_id, "", skills_wait))
        for language, wait in _language_waits(policy, worker).items():
            out.append(Grant(policy.queue_id, language, max(skills_wait, wait)))
    return out


def wait_needed(grants_of_queue: Sequence[Grant], language: str) -> float:
    """The least wait any grant asks of an item in this language (NEVER if none fits)."""
    waits = [g.min_wait_s for g in grants_of_queue if g.language in {language, ANY_LANGUAGE}]
    return min(waits, default=NEVER)


def sort_key(item: ItemView, ordering: Sequence[str] = DEFAULT_ORDERING) -> tuple[float, ...]:
    """The item's place in line: lower comes first; the id breaks ties."""
    values = {
        "priority": float(item.priority),
        "due_at": NEVER if item.due_at is None else item.due_at,
        "created_at": item.created_at,
    }
    return (*(values[key] for key in ordering), float(item.id))


@dataclass
class Router:
    """Picks items for a worker from queues in memory, as the SQL claim does."""

    policies: Mapping[int, QueuePolicy] = field(default_factory=dict)

    def eligible(self, item: ItemView, worker: WorkerView, now: float) -> bool:
        policy = self.policies.get(item.queue_id)
        if policy is None:
            return False
        mine = grants([policy], worker)
        return now - item.queued_at >= wait_needed(mine, item.language)

    def pick(
        self,
        items: Iterable[ItemView],
        worker: WorkerView,
        now: float,
        *,
        queue_id: int | None = None,
    ) -> ItemView | None:
        """The best item the worker may take now, of one queue or across all."""
        by_queue: dict[int, list[Grant]] = {}
        for g in grants(self.policies.values(), worker):
            by_queue.setdefault(g.queue_id, []).append(g)
        ordering = DEFAULT_ORDERING
        if queue_id is not None:
            ordering = self.policies[queue_id].ordering if queue_id in self.policies else ()
        best: ItemView | None = None
        best_key: tuple[float, ...] = ()
        for item in items:
            if queue_id is not None and item.queue_id != queue_id:
                continue
            mine = by_queue.get(item.queue_id)
            if not mine or now - item.queued_at < wait_needed(mine, item.language):
                continue
            key = sort_key(item, ordering)
            if best is None or key < best_key:
                best, best_key = item, key
        return best
