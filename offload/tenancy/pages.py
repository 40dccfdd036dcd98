"""What every page needs from tenancy: the signed-in principal and visible lookups."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from django.contrib.auth.decorators import login_required
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render

from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import User
from offload.tenancy.visibility import Principal

M = TypeVar("M", bound=Model)
P = ParamSpec("P")

NO_ORGANISATION_TEMPLATE = "tenancy/no_organisation.html"


def member_required(
    view: Callable[Concatenate[HttpRequest, Principal, P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Sign-in required, then the user's principal is passed to the view.

    A signed-in user who belongs to no organisation gets a page that says so (403),
    not a 404 or a 500.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        user = request.user
        assert isinstance(user, User)  # login_required below has let only users through
        principal = visibility.principal_for_user(user)
        if principal is None:
            return render(request, NO_ORGANISATION_TEMPLATE, status=403)
        # The navigation's context processor reads this instead of asking the database again.
        request._offload_principal = principal  # type: ignore[attr-defined]
        return view(request, principal, *args, **kwargs)

    return login_required(wrapped)


def get_visible_or_404(principal: Principal, queryset: QuerySet[M], **lookup: object) -> M:
    """A visible object for a page; another client's object is a 404 like a missing one."""
    try:
        return visibility.get_visible(principal, queryset, **lookup)
    except errors.NotFound as exc:
        raise Http404(str(exc)) from exc
