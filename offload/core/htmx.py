"""Small helpers for pages that htmx updates in place."""

from __future__ import annotations

from django.http import HttpRequest


def is_fragment_request(request: HttpRequest) -> bool:
    """A fragment request from htmx; a history restore (back button) wants the full page."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
