"""Registers tenancy's own models with the visibility rules."""

from offload.tenancy import visibility
from offload.tenancy.models import (
    ApiKey,
    AuditEvent,
    Membership,
    Notification,
    Organisation,
    Site,
    User,
)

visibility.register(Organisation, visibility.owner_rule("pk", partners_see=True))
visibility.register(Site, visibility.owner_rule("provider", partners_see=True))
visibility.register(User, visibility.user_rule)
visibility.register(Membership, visibility.owner_rule("organisation"))
visibility.register(ApiKey, visibility.owner_rule("organisation"))
visibility.register(AuditEvent, visibility.owner_rule("organisation"))
visibility.register(Notification, visibility.recipient_rule)
