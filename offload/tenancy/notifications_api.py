"""The caller's own notification inbox: `GET /notifications`, `GET /notifications/{id}`,
`GET /notifications/unread-count`, `POST /notifications/{id}/read`,
`POST /notifications/read-all` and `GET/PATCH /notifications/preferences`.
See docs/notifications.md."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from offload.core import pagination
from offload.core.pagination import DEFAULT_LIMIT
from offload.core.schemas import Page
from offload.tenancy import notifications, selectors, visibility
from offload.tenancy.api import principal_of
from offload.tenancy.models import Notification, User
from offload.tenancy.schemas import (
    NotificationFilter,
    NotificationOut,
    NotificationPreferencesOut,
    NotificationPreferencesPatch,
    NotificationsMarkedOut,
    NotificationUnreadCountOut,
)

router = Router(tags=["notifications"])


def _preferences(user: User) -> dict[str, object]:
    return {"notify_by_email": user.notify_by_email, "email": user.email}


# The fixed paths come before `/notifications/{notification_id}`.


@router.get("/notifications", response=Page[NotificationOut])
def notification_list(
    request: HttpRequest,
    filters: Query[NotificationFilter],
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    """The caller's inbox, newest first (an organisation's key has none: empty)."""
    qs = selectors.notification_list(principal=principal_of(request), unread_only=filters.unread)
    items, next_cursor = pagination.paginate(qs, cursor=cursor, limit=limit, newest_first=True)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/notifications/unread-count", response=NotificationUnreadCountOut)
def notification_unread_count(request: HttpRequest) -> dict[str, int]:
    return {"unread": selectors.notification_unread_count(principal=principal_of(request))}


@router.post("/notifications/read-all", response=NotificationsMarkedOut)
def notification_mark_all_read(request: HttpRequest) -> dict[str, int]:
    marked = notifications.notification_mark_all_read(actor=principal_of(request))
    return {"marked": marked}


@router.get("/notifications/preferences", response=NotificationPreferencesOut)
def notification_preferences_get(request: HttpRequest) -> dict[str, object]:
    return _preferences(notifications.own_user(principal_of(request)))


@router.patch("/notifications/preferences", response=NotificationPreferencesOut)
def notification_preferences_update(
    request: HttpRequest, payload: NotificationPreferencesPatch
) -> dict[str, object]:
    user = notifications.notification_preferences_update(
        actor=principal_of(request), notify_by_email=payload.notify_by_email
    )
    return _preferences(user)


@router.get("/notifications/{notification_id}", response=NotificationOut)
def notification_get(request: HttpRequest, notification_id: int) -> Notification:
    principal = principal_of(request)
    return visibility.get_visible(principal, Notification.objects.all(), pk=notification_id)


@router.post("/notifications/{notification_id}/read", response=NotificationOut)
def notification_mark_read(request: HttpRequest, notification_id: int) -> Notification:
    """Idempotent: marking a read notification again answers it unchanged."""
    principal = principal_of(request)
    notification = visibility.get_visible(principal, Notification.objects.all(), pk=notification_id)
    return notifications.notification_mark_read(actor=principal, notification=notification)
