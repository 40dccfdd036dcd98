"""Attended automation: an agent runs the invoice check on an item, server-side.

The check is the pure `invoice_check`; the duplicate lookup is a query over the
client's earlier items of the same process. The result is written as a
`bot_checked` event on the item (the calling agent is its actor) and answered; the
item's status does not change: the agent decides what to do with the findings.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from offload.contracts.models import Process
from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import Role
from offload.tenancy.visibility import Principal
from offload.work import history, leases, lifecycle, services
from offload.work.bots import invoice_check
from offload.work.lifecycle import Action, Status
from offload.work.models import WorkItem, WorkItemEvent

EVENT = "bot_checked"
NOT_AN_INVOICE_PROCESS = (
    "the invoice check applies to processes whose item schema has the invoice fields "
    "({fields}); process '{process}' has not"
)
CANNOT_CHECK = "cannot run a bot on an item that is {current}; allowed while it is: {allowed}"
# A retry's chain of earlier attempts is short; this only bounds a malformed one.
ANCESTORS_MAX = 50


def is_invoice_process(process: Process) -> bool:
    return invoice_check.applies_to(process.item_schema or {})


def _ancestors(item: WorkItem) -> set[int]:
    """The item's earlier attempts (a system failure's retry carries their payload)."""
    found: set[int] = set()
    parent = item.parent_id
    while parent is not None and parent not in found and len(found) < ANCESTORS_MAX:
        found.add(parent)
        parent = WorkItem.objects.filter(pk=parent).values_list("parent_id", flat=True).first()
    return found


def earlier_invoice(item: WorkItem) -> invoice_check.DuplicateOf:
    """The lookup of an earlier, not cancelled item of the same client and process with
    the same invoice (the item's own earlier attempts aside)."""
    ancestors = _ancestors(item)

    def lookup(tax_id: str, number: str) -> str | None:
        # The database narrows by invoice number (any case, any padding); the pure
        # normalisation decides.
        candidates = (
            WorkItem.objects.filter(
                client_id=item.client_id, process_id=item.process_id, pk__lt=item.pk
            )
            .exclude(Q(status=Status.CANCELLED) | Q(pk__in=ancestors))
            .filter(payload__invoice_number__icontains=number)
            .order_by("pk")
            .values_list("reference", "payload")
        )
        for reference, payload in candidates.iterator():
            if isinstance(payload, dict) and invoice_check.invoice_key(payload) == (
                tax_id,
                number,
            ):
                return str(reference)
        return None

    return lookup


def _check_status(item: WorkItem) -> None:
    """A check changes nothing, so it may run where a comment may (not on final items)."""
    current = Status(item.status)
    try:
        lifecycle.apply(current, Action.COMMENT)
    except lifecycle.IllegalMove as exc:
        sources = lifecycle.TABLE[Action.COMMENT].sources
        allowed = [s.value for s in Status if s in sources]
        raise errors.Conflict(
            CANNOT_CHECK.format(current=current, allowed=", ".join(allowed)),
            current=str(current),
        ) from exc


@transaction.atomic
def work_item_invoice_check(
    *, actor: Principal, item: WorkItem
) -> tuple[invoice_check.Result, WorkItemEvent]:
    """Run the invoice check on the item for a provider user who may act on it (its
    holder, or a supervisor, while it is held); write `bot_checked`; change nothing else."""
    visibility.require(actor, "work_item.act")
    locked = services.item_lock(actor, item)
    _check_status(locked)
    process = Process.objects.get(pk=locked.process_id)
    if not is_invoice_process(process):
        raise errors.Conflict(
            NOT_AN_INVOICE_PROCESS.format(
                fields=", ".join(invoice_check.FIELDS), process=process.slug
            )
        )
    result = invoice_check.check(locked.payload or {}, duplicate_of=earlier_invoice(locked))
    now = timezone.now()
    # Checking is working the item: the holder's lease is extended, as by a comment.
    leases.extend(locked, now)
    data: dict[str, Any] = {**result.as_dict(), "attended": Role.BOT not in actor.roles}
    event = history.append(locked, EVENT, actor=actor, data=data, at=now)
    return result, event
