from __future__ import annotations

import functools

from django.http import HttpRequest

from offload.tenancy import selectors, visibility


def principal(request: HttpRequest) -> dict[str, object]:
    """The signed-in user's principal, for navigation by role, and the unread count of
    their inbox for the header's badge.

    The count is a callable the template calls (once, cached): one COUNT on pages that
    show the header, none on htmx fragments, which do not.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"principal": None, "notification_unread_count": 0}
    cached = getattr(request, "_offload_principal", None)
    if cached is None:
        cached = visibility.principal_for_user(user)
        request._offload_principal = cached  # type: ignore[attr-defined]
    if cached is None:
        return {"principal": None, "notification_unread_count": 0}
    count = functools.cache(
        functools.partial(selectors.notification_unread_count, principal=cached)
    )
    return {"principal": cached, "notification_unread_count": count}
