"""Registers the work models with the visibility rules."""

from offload.tenancy import visibility
from offload.work.models import ItemRetry, Queue, WorkItem, WorkItemEvent

for model in (Queue, WorkItem, WorkItemEvent, ItemRetry):
    visibility.register(model, visibility.tenant_rule())
