"""Registers the work models with the visibility rules."""

from offload.tenancy import visibility
from offload.work.models import (
    Assignment,
    Attachment,
    AttainmentMonth,
    EmailMessage,
    EscalationRule,
    ItemRetry,
    Mailbox,
    Offer,
    Queue,
    SlaClock,
    WebhookDelivery,
    WebhookEndpoint,
    WorkItem,
    WorkItemEvent,
)

for model in (
    Assignment,
    Offer,
    Attachment,
    Queue,
    WorkItem,
    WorkItemEvent,
    ItemRetry,
    WebhookEndpoint,
    WebhookDelivery,
    Mailbox,
    EmailMessage,
    SlaClock,
    EscalationRule,
    AttainmentMonth,
):
    visibility.register(model, visibility.tenant_rule())
