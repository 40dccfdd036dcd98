from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, include, path
from django.urls.resolvers import RoutePattern

from config.api import api


def by_first_segment(urls: tuple[list[Any], str, str]) -> tuple[list[Any], str, str]:
    """The API's routes grouped under their first path segment.

    django-ninja lists every route of the API flat, and Django tries them in turn:
    a request for /api/v1/items/... matched some 80 patterns first, a sixth of an
    API request's Python. Grouped, it tries the groups' prefixes, then its group's
    routes. A route `seg/rest` moves into the group `seg/`; one with no `/rest`
    (`items`), or led by a converter (the catch-all), stays outside, after the
    groups, in its order. No path can match two groups, or a group and a literal
    route outside it (their first segments differ, or one needs more after the
    slash), so the first match is the same route as before as long as the
    converter-led routes stay last; within a group the order is kept. The largest
    groups (the items' and the work's routes) come first."""
    patterns, app_name, namespace = urls
    groups: dict[str, list[URLPattern]] = {}
    outside: list[Any] = []
    for pattern in patterns:
        head, slash, rest = str(pattern.pattern).partition("/")
        if not (slash and rest and "<" not in head and isinstance(pattern, URLPattern)):
            outside.append(pattern)
            continue
        groups.setdefault(head, []).append(
            URLPattern(
                RoutePattern(rest, name=pattern.name, is_endpoint=True),
                pattern.callback,
                pattern.default_args,
                pattern.name,
            )
        )
    by_size = sorted(groups, key=lambda head: -len(groups[head]))
    grouped = [path(f"{head}/", include(groups[head])) for head in by_size]
    return grouped + outside, app_name, namespace


urlpatterns = [
    path("api/v1/", by_first_segment(api.urls)),
    path("admin/", admin.site.urls),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="tenancy/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("offload.work.urls")),
    path("", include("offload.workforce.urls")),
    path("", include("offload.twin.urls")),
    path("", include("offload.workers.urls")),
    path("", include("offload.contracts.urls")),
    path("", include("offload.tenancy.urls")),
]
