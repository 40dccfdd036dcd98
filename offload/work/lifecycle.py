"""The work-item lifecycle as one table: pure, no Django.

new -> queued -> assigned -> in_progress -> (waiting_on_client <-> in_progress)
-> completed -> closed, plus escalated, failed, cancelled, and reopen (a completed
item goes back to queued within the process's reopen window).

Each action moves an item from one of its source statuses to its target status.
`comment` and `reply` leave the status as it is. The routing issue adds `assign`,
`start` and `release`; they are in the table already so the machine is whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The item event types the services write (docs/events.md's vocabulary); webhooks
# subscribe to these and to the reserved ones the routing issue will write.
EVENT_TYPES = frozenset(
    {
        "created",
        "queued",
        "commented",
        "replied",
        "attachment_added",
        "waiting_on_client",
        "resumed",
        "escalated",
        "transferred",
        "completed",
        "failed",
        "retried",
        "reopened",
        "cancelled",
        "email_failed",
        "assigned",
        "released",
        "lease_expired",
        "wrap_up_ended",
        "bot_checked",
        "offered",
        "offer_declined",
        "offer_expired",
        # SLA clocks and escalation rules (docs/sla.md).
        "reprioritized",
        "sla_warning",
        "sla_breached",
        "sla_clock_reopened",
        "sla_policy_changed",
        "sla_escalated",
        "sla_notified",
    }
)
RESERVED_EVENT_TYPES = frozenset({"started", "closed", "field_changed"})


class Status(StrEnum):
    NEW = "new"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CLIENT = "waiting_on_client"
    ESCALATED = "escalated"
    COMPLETED = "completed"
    CLOSED = "closed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    QUEUE = "queue"
    ASSIGN = "assign"
    START = "start"
    RELEASE = "release"
    COMMENT = "comment"
    REPLY = "reply"
    WAIT = "wait"
    RESUME = "resume"
    ESCALATE = "escalate"
    TRANSFER = "transfer"
    COMPLETE = "complete"
    FAIL = "fail"
    REOPEN = "reopen"
    CLOSE = "close"
    CANCEL = "cancel"


# Statuses in which someone may still work on the item.
OPEN = frozenset(
    {
        Status.QUEUED,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.WAITING_ON_CLIENT,
        Status.ESCALATED,
    }
)
# A failed item stays open to a human: a business failure waits in the review queue
# to be corrected and transferred back, or cancelled.
FINAL = frozenset({Status.CLOSED, Status.CANCELLED})


@dataclass(frozen=True)
class Move:
    sources: frozenset[Status]
    target: Status | None  # None: the status does not change


TABLE: dict[Action, Move] = {
    Action.QUEUE: Move(frozenset({Status.NEW}), Status.QUEUED),
    Action.ASSIGN: Move(frozenset({Status.QUEUED, Status.ESCALATED}), Status.ASSIGNED),
    Action.START: Move(frozenset({Status.ASSIGNED}), Status.IN_PROGRESS),
    Action.RELEASE: Move(frozenset({Status.ASSIGNED, Status.IN_PROGRESS}), Status.QUEUED),
    Action.COMMENT: Move(OPEN | {Status.COMPLETED, Status.FAILED}, None),
    Action.REPLY: Move(OPEN, None),
    Action.WAIT: Move(
        frozenset({Status.QUEUED, Status.ASSIGNED, Status.IN_PROGRESS, Status.ESCALATED}),
        Status.WAITING_ON_CLIENT,
    ),
    Action.RESUME: Move(frozenset({Status.WAITING_ON_CLIENT}), Status.IN_PROGRESS),
    Action.ESCALATE: Move(
        frozenset({Status.QUEUED, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_ON_CLIENT}),
        Status.ESCALATED,
    ),
    Action.TRANSFER: Move(OPEN | {Status.FAILED}, Status.QUEUED),
    Action.COMPLETE: Move(OPEN, Status.COMPLETED),
    Action.FAIL: Move(OPEN, Status.FAILED),
    Action.REOPEN: Move(frozenset({Status.COMPLETED}), Status.QUEUED),
    Action.CLOSE: Move(frozenset({Status.COMPLETED}), Status.CLOSED),
    Action.CANCEL: Move(OPEN | {Status.NEW, Status.FAILED}, Status.CANCELLED),
}


def allowed_actions(current: Status) -> list[Action]:
    """The actions legal in `current`, in table order."""
    return [action for action, move in TABLE.items() if current in move.sources]


def apply(current: Status, action: Action) -> Status:
    """The status after `action`; raises IllegalMove when the table forbids it."""
    move = TABLE[action]
    if current not in move.sources:
        raise IllegalMove(current, action)
    return move.target if move.target is not None else current


class IllegalMove(Exception):
    def __init__(self, current: Status, action: Action) -> None:
        self.current = current
        self.action = action
        self.allowed = allowed_actions(current)
        super().__init__(
            f"cannot {action} an item that is {current}; allowed: "
            + (", ".join(self.allowed) or "none (final)")
        )
