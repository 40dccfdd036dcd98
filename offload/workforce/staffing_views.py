"""Page: the staffing calculator, for the provider's planners (a form; htmx posts it
and swaps in the answer, with each field's error next to the field)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from pydantic import ValidationError

from offload.core import errors, htmx
from offload.tenancy.pages import member_required
from offload.tenancy.visibility import Principal
from offload.workforce import staffing_calculator
from offload.workforce.staffing_calculator import Staffing, StaffingRow
from offload.workforce.staffing_schemas import StaffingIn

PAGE = "workforce/staffing_calculator.html"
RESULT = "workforce/partials/_staffing_result.html"
REQUIRED = "is required"
NOT_A_NUMBER = "must be a number"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    unit: str
    default: str
    required: bool = True
    percent: bool = False  # entered in %, a fraction to the formulas
    percent_range: str = ""  # the range, in %, for an out-of-range value


FIELDS = (
    Field("calls", "Calls offered", "per interval", "100"),
    Field("interval_s", "Interval", "seconds", "1800"),
    Field("aht_s", "Average handling time", "seconds", "180"),
    Field("target_s", "Answer within", "seconds", "20"),
    Field(
        "service_level",
        "Service level",
        "% of calls",
        "80",
        percent=True,
        percent_range="must be more than 0 % and at most 100 %",
    ),
    Field(
        "max_occupancy",
        "Maximum occupancy",
        "% (optional)",
        "85",
        required=False,
        percent=True,
        percent_range="must be more than 0 % and at most 100 %",
    ),
    Field("patience_s", "Mean patience", "seconds (optional: Erlang A)", "", required=False),
    Field(
        "shrinkage",
        "Shrinkage",
        "% (optional)",
        "30",
        required=False,
        percent=True,
        percent_range="must be at least 0 % and less than 100 %",
    ),
)
BY_NAME = {f.name: f for f in FIELDS}


def _parse(data: QueryDict) -> tuple[dict[str, float | None], dict[str, str]]:
    """The form's numbers as the calculator takes them, and a message per bad field."""
    values: dict[str, float | None] = {}
    problems: dict[str, str] = {}
    for field in FIELDS:
        raw = data.get(field.name, "").strip().replace(",", "")
        if not raw:
            if field.required:
                problems[field.name] = REQUIRED
            values[field.name] = None
            continue
        try:
            number = float(raw)
        except ValueError:
            problems[field.name] = NOT_A_NUMBER
            continue
        if not math.isfinite(number):
            problems[field.name] = NOT_A_NUMBER
            continue
        values[field.name] = number / 100 if field.percent else number
    return values, problems


def _validate(values: dict[str, float | None]) -> tuple[StaffingIn | None, dict[str, str]]:
    try:
        return StaffingIn.model_validate(values), {}
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "calls"
            field = BY_NAME.get(name)
            message = field.percent_range if field and field.percent else str(error["msg"])
            problems.setdefault(name, message)
        return None, problems


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _row(row: StaffingRow) -> dict[str, Any]:
    a = row.erlang_a
    return {
        "agents": row.agents,
        "scheduled_fte": row.scheduled_fte,
        "p_wait": _pct(row.p_wait),
        "service_level": _pct(row.service_level),
        "asa_s": "∞" if row.asa_s is None else f"{row.asa_s:.1f}",
        "occupancy": _pct(row.occupancy),
        "meets_target": row.meets_target,
        "erlang_a": None
        if a is None
        else {
            "p_wait": _pct(a.p_wait),
            "abandon": _pct(a.abandon),
            "service_level": _pct(a.service_level),
            "asa_s": f"{a.asa_s:.1f}",
            "occupancy": _pct(a.occupancy),
        },
    }


def _answer(staffing: Staffing) -> dict[str, Any]:
    return {
        "traffic": f"{staffing.traffic_erlangs:.2f}",
        "agents": staffing.agents,
        "scheduled_fte": staffing.scheduled_fte,
        "shrinkage": _pct(staffing.shrinkage),
        "required": _row(staffing.required),
        "curve": [_row(r) for r in staffing.curve],
    }


@member_required
def staffing_calculator_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    """GET: the form with a worked example; POST: the answer (a fragment for htmx).

    Clients are sent home; provider people outside the planning roles get a 403.
    """
    if not principal.is_provider:
        return redirect("home")
    try:
        staffing_calculator.staffing_require(principal)
    except errors.PermissionDenied:
        return render(request, "403.html", status=403)
    answer = None
    problems: dict[str, str] = {}
    raw: QueryDict
    if request.method == "POST":
        raw = request.POST
        values, problems = _parse(raw)
        payload, invalid = (None, {}) if problems else _validate(values)
        problems |= invalid
        if payload is not None:
            try:
                answer = _answer(staffing_calculator.staffing_calculate(**payload.model_dump()))
            except errors.ValidationFailed as exc:
                problems = errors.form_errors(exc)
    else:
        raw = QueryDict(mutable=True)
        raw.update({f.name: f.default for f in FIELDS})
    fields = [
        {"field": f, "value": raw.get(f.name, ""), "error": problems.get(f.name, "")}
        for f in FIELDS
    ]
    fragment = request.method == "POST" and htmx.is_fragment_request(request)
    # A fragment also carries each field's error out of band, next to its field.
    context = {"fields": fields, "answer": answer, "problems": problems, "oob": fragment}
    response = render(request, RESULT if fragment else PAGE, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
