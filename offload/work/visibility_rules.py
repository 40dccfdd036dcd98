"""Registers the work models with the visibility rules."""

from offload.tenancy import visibility
from offload.work.models import (
    Attachment,
    ItemRetry,
    Queue,
    WebhookDelivery,
    WebhookEndpoint,
    WorkItem,
    WorkItemEvent,
)

for model in (
    Attachment,
    Queue,
    WorkItem,
    WorkItemEvent,
    ItemRetry,
    WebhookEndpoint,
    WebhookDelivery,
):
    visibility.register(model, visibility.tenant_rule())
