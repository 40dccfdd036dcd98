from __future__ import annotations

from django.http import HttpRequest

from offload.tenancy import visibility


def principal(request: HttpRequest) -> dict[str, object]:
    """The signed-in user's principal, for navigation by role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"principal": None}
    cached = getattr(request, "_offload_principal", None)
    if cached is None:
        cached = visibility.principal_for_user(user)
        request._offload_principal = cached  # type: ignore[attr-defined]
    return {"principal": cached}
