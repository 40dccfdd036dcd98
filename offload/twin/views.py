"""Pages of the digital twin: scenarios, the new-scenario form with its changes, a
scenario with its runs, a run's progress (htmx polling until it is done), and runs
compared side by side with charts. Provider-only: a client is sent home."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from offload.contracts.models import Process
from offload.core import errors, htmx
from offload.tenancy import visibility
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.twin import changes, live, selectors, services
from offload.twin.engine import model as engine_model
from offload.twin.models import RunStatus, Scenario, ScenarioRun
from offload.twin.visibility_rules import MANAGE
from offload.work import routing
from offload.work.models import Queue
from offload.workers.models import Worker, WorkerKind

LIST_SIZE = 100
RECENT_RUNS = 50
POLL_SECONDS = 2
CHANGES_MAX = services.CHANGES_MAX
# Form fields of each change kind and how to read them.
INTS = frozenset({"count", "like", "process", "queue", "capacity", "concurrency"})
FLOATS = frozenset({"hourly_cost", "share", "service_s", "failure_rate", "percent"})
LISTS = frozenset({"languages", "ordering"})
ID_LISTS = frozenset({"processes"})
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    changes.ADD_AGENTS: ("count", "site", "like", "processes", "languages", "hourly_cost"),
    changes.REMOVE_AGENTS: ("site", "count"),
    changes.MOVE_WORK: ("process", "language", "site", "capacity"),
    changes.BOT_SHARE: ("process", "share", "service_s", "concurrency"),
    changes.ROUTING_RULE: ("queue", "ordering", "after_minutes", "skill_drop", "step_languages"),
    changes.VOLUME: ("process", "percent"),
    changes.AHT: ("process", "percent"),
}
KIND_LABELS = {
    changes.ADD_AGENTS: "Add agents",
    changes.REMOVE_AGENTS: "Remove agents",
    changes.MOVE_WORK: "Move work to a site",
    changes.BOT_SHARE: "Bots take a share",
    changes.ROUTING_RULE: "Change a routing rule",
    changes.VOLUME: "Change volume",
    changes.AHT: "Change handling time",
}
NOT_A_NUMBER = "must be a number"
BAD_DATE = "must be a date (YYYY-MM-DD)"


def _provider_only(principal: Principal) -> bool:
    return principal.is_provider


def _reader(principal: Principal) -> str:
    """'' when the principal reads the twin, else why not."""
    try:
        selectors.require_reader(principal)
    except errors.PermissionDenied as exc:
        return exc.detail
    return ""


def _not_allowed(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "twin/not_allowed.html", {"reason": reason}, status=403)


# ------------------------------------------------------------------ scenario list


@member_required
def twin_scenario_list(request: HttpRequest, principal: Principal) -> HttpResponse:
    if not _provider_only(principal):
        return redirect("home")
    if reason := _reader(principal):
        return _not_allowed(request, reason)
    scenarios = list(selectors.scenario_list(principal=principal)[:LIST_SIZE])
    runs = list(
        selectors.run_list(principal=principal)
        .filter(status=RunStatus.SUCCEEDED)
        .order_by("-pk")[:RECENT_RUNS]
    )
    context = {
        "scenarios": scenarios,
        "runs": runs,
        "can_manage": visibility.allowed(principal, MANAGE),
    }
    return render(request, "twin/scenario_list.html", context)


# ------------------------------------------------------------------ new scenario


def _options(principal: Principal) -> dict[str, Any]:
    """What the change forms offer: the live configuration's processes, queues,
    sites and agents (as the twin names them)."""
    provider = principal.organisation
    processes = list(
        visibility.visible(principal, Process.objects.filter(provider=provider)).order_by("name")
    )
    queues = list(
        visibility.visible(principal, Queue.objects.filter(provider=provider, is_review=False))
        .select_related("process")
        .order_by("process__name", "name")
    )
    agents = list(
        visibility.visible(
            principal,
            Worker.objects.filter(provider=provider, kind=WorkerKind.AGENT, is_active=True),
        )
        .select_related("user", "site")
        .order_by("site__name", "user__username")
    )
    names = [a.site.name for a in {a.site_id: a for a in agents if a.site}.values() if a.site]
    sites = sorted(
        {live.site_label(a.site.name, a.site.slug, names) for a in agents if a.site is not None}
    )
    return {
        "processes": processes,
        "queues": queues,
        "sites": sites,
        "agents": agents,
        "kinds": list(KIND_LABELS.items()),
        "ordering_keys": list(routing.ORDERING_KEYS),
    }


def _number(raw: str, field: str, cast: type[int] | type[float]) -> int | float:
    try:
        return cast(raw)
    except ValueError as exc:
        raise errors.ValidationFailed.single(field, NOT_A_NUMBER) from exc


def change_from_form(params: Any, index: int, position: int) -> dict[str, Any]:
    """One change from the form's fields `c<index>_<field>` (empty fields left out),
    the `position`-th of the scenario's changes."""
    prefix = f"c{index}_"
    kind = params.get(prefix + "kind", "")
    out: dict[str, Any] = {"kind": kind}
    where = f"changes[{position}]"
    for name in FORM_FIELDS.get(kind, ()):
        if name in ID_LISTS:
            values = [v for v in params.getlist(prefix + name) if v]
            if values:
                out[name] = [int(_number(v, f"{where}.{name}", int)) for v in values]
            continue
        raw = (params.get(prefix + name) or "").strip()
        if not raw:
            continue
        if name in INTS:
            out[name] = _number(raw, f"{where}.{name}", int)
        elif name in FLOATS:
            out[name] = _number(raw, f"{where}.{name}", float)
        elif name in LISTS:
            out[name] = [v.strip() for v in raw.split(",") if v.strip()]
        else:
            out[name] = raw
    if kind == changes.ROUTING_RULE and "after_minutes" in out:
        out["relaxation"] = [
            {
                "after_s": int(
                    _number(str(out.pop("after_minutes")), f"{where}.after_s", float) * 60
                ),
                "skill_drop": int(out.pop("skill_drop", 0) or 0),
                "languages": [
                    v.strip() for v in str(out.pop("step_languages", "")).split(",") if v.strip()
                ],
            }
        ]
    for extra in ("after_minutes", "skill_drop", "step_languages"):
        out.pop(extra, None)
    if kind == changes.BOT_SHARE and "share" in out:
        out["share"] = float(out["share"]) / 100  # the form asks for a percent
    return out


def _change_indexes(params: Any) -> list[int]:
    found = []
    for key in params:
        if key.startswith("c") and key.endswith("_kind") and key[1:-5].isdigit():
            found.append(int(key[1:-5]))
    return sorted(found)[:CHANGES_MAX]


def _start(raw: str, tz: str) -> datetime | None:
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError as exc:
        raise errors.ValidationFailed.single("start", BAD_DATE) from exc
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))


def _replay_from(raw: str) -> date | None:
    """The form's replay date (midnight in the provider's zone, as the service reads
    a date); empty: no replay."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError as exc:
        raise errors.ValidationFailed.single("replay_from", BAD_DATE) from exc


def _posted_changes(params: Any) -> list[dict[str, Any]]:
    """The posted change blocks as the form shows them again after an error."""
    out = []
    for position, index in enumerate(_change_indexes(params)):
        prefix = f"c{index}_"
        values = {k[len(prefix) :]: params.get(k) for k in params if k.startswith(prefix)}
        values["processes"] = params.getlist(prefix + "processes")
        out.append({"index": position, "kind": values.get("kind", ""), "values": values})
    return out


@member_required
def twin_scenario_new(request: HttpRequest, principal: Principal) -> HttpResponse:
    if not _provider_only(principal):
        return redirect("home")
    if not visibility.allowed(principal, MANAGE):
        return _not_allowed(
            request, visibility.ROLE_REQUIRED.format(roles="admin, ops_manager, wfm_planner")
        )
    tz = principal.organisation.timezone or "UTC"
    context: dict[str, Any] = {"tz": tz, **_options(principal)}
    status = 200
    if request.method == "POST":
        params = request.POST
        try:
            raw_changes = [
                change_from_form(params, index, position)
                for position, index in enumerate(_change_indexes(params))
            ]
            scenario = services.scenario_create(
                actor=principal,
                provider=principal.organisation,
                name=params.get("name", ""),
                description=params.get("description", ""),
                start=_start(params.get("start", ""), tz),
                days=int(_number(params.get("days", "7") or "7", "days", int)),
                changes=raw_changes,
                seed=int(_number(params.get("seed", "1") or "1", "seed", int)),
                replications=int(
                    _number(params.get("replications", "5") or "5", "replications", int)
                ),
                replay_from=_replay_from(params.get("replay_from", "")),
            )
            return redirect("twin_scenario_detail", pk=scenario.pk)
        except errors.ValidationFailed as exc:
            context["problems"], status = exc.errors, 422
        except errors.PermissionDenied as exc:
            context["problems"], status = [errors.FieldError("name", exc.detail)], 403
        context["posted"] = params
        posted_changes = _posted_changes(params)
        for block in posted_changes:
            where = f"changes[{block['index']}]"
            block["problems"] = [
                p for p in context.get("problems", []) if p.field.startswith(where)
            ]
        context["posted_changes"] = posted_changes
        context["form_problems"] = [
            p for p in context.get("problems", []) if not p.field.startswith("changes[")
        ]
        context["replay_problems"] = [
            p for p in context.get("problems", []) if p.field == "replay_from"
        ]
    else:
        tomorrow = (timezone.now() + timedelta(days=1)).astimezone(ZoneInfo(tz)).date()
        context["posted"] = {"start": tomorrow.isoformat(), "days": "7", "replications": "5"}
    return render(request, "twin/scenario_new.html", context, status=status)


@member_required
def twin_change_form(request: HttpRequest, principal: Principal) -> HttpResponse:
    """One change's small form, for the new-scenario page to append (htmx)."""
    if not _provider_only(principal):
        return redirect("home")
    kind = request.GET.get("kind", "")
    index = request.GET.get("index", "0")
    context = {
        "change": {
            "index": int(index) if index.isdigit() and len(index) < 4 else 0,
            "kind": kind if kind in KIND_LABELS else changes.ADD_AGENTS,
            "values": {},
        },
        **_options(principal),
    }
    return render(request, "twin/partials/_change_form.html", context)


# ------------------------------------------------------------------ a scenario


@member_required
def twin_scenario_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    scenario = get_visible_or_404(principal, Scenario.objects.all(), pk=pk)
    if reason := _reader(principal):
        return _not_allowed(request, reason)
    context: dict[str, Any] = {
        "scenario": scenario,
        "can_manage": visibility.allowed(principal, MANAGE),
    }
    status = 200
    if request.method == "POST":
        try:
            run = services.scenario_run(actor=principal, scenario=scenario)
            return redirect("twin_run_detail", pk=run.pk)
        except errors.PermissionDenied as exc:
            context["problem"], status = exc.detail, 403
    base = engine_model.Scenario.from_dict(scenario.built)
    context["described"] = [
        changes.describe(changes.parse(c), engine_model.Scenario.from_dict(scenario.base))
        for c in scenario.changes
    ]
    context["runs"] = list(selectors.run_list(principal=principal, scenario_id=scenario.pk))
    context["counts"] = {
        "processes": len(base.processes),
        "queues": len(base.queues),
        "agents": len(base.agents),
        "bots": len(base.bots),
        "sites": sorted({a.site for a in base.agents}),
    }
    return render(request, "twin/scenario_detail.html", context, status=status)


# ------------------------------------------------------------------ a run


def _comparison_context(principal: Principal, runs: list[ScenarioRun]) -> dict[str, Any]:
    comparison = selectors.runs_compare(principal=principal, runs=runs)
    charts = {
        "series": [
            {
                "label": s.label,
                "starts": list(s.starts),
                "service_level": {k: list(v) for k, v in s.service_level.items()},
                "backlog": list(s.backlog),
                "occupancy": {k: list(v) for k, v in s.occupancy.items()},
            }
            for s in comparison.series
        ]
    }
    return {"comparison": comparison, "charts": charts}


@member_required
def twin_run_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """A run: its progress, polled by htmx every few seconds until it finishes, then
    its figures."""
    run = get_visible_or_404(principal, ScenarioRun.objects.select_related("scenario"), pk=pk)
    if reason := _reader(principal):
        return _not_allowed(request, reason)
    if request.method == "POST":
        return redirect("twin_run_detail", pk=run.pk)
    context: dict[str, Any] = {"run": run, "poll_seconds": POLL_SECONDS}
    if run.status == RunStatus.SUCCEEDED:
        context.update(_comparison_context(principal, [run]))
    if htmx.is_fragment_request(request):
        response = render(request, "twin/partials/_run_progress.html", context)
        if run.is_finished:
            # The whole page shows the figures now: htmx reloads it.
            response["HX-Refresh"] = "true"
    else:
        response = render(request, "twin/run_detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# ------------------------------------------------------------------ compare


def _run_ids(params: Any) -> list[int]:
    """The runs to compare, the baseline first: as written in `?runs=3,1`, or, from
    ticked boxes (one `runs` each, listed newest first), oldest first."""
    values = params.getlist("runs")
    raw: list[str] = []
    for value in values:
        raw += [v.strip() for v in value.split(",")]
    ids = [int(v) for v in raw if v.isdigit() and len(v) <= 18]
    return sorted(ids) if len(values) > 1 else ids


@member_required
def twin_compare(request: HttpRequest, principal: Principal) -> HttpResponse:
    if not _provider_only(principal):
        return redirect("home")
    if reason := _reader(principal):
        return _not_allowed(request, reason)
    context: dict[str, Any] = {
        "recent": list(
            selectors.run_list(principal=principal)
            .filter(status=RunStatus.SUCCEEDED)
            .order_by("-pk")[:RECENT_RUNS]
        )
    }
    ids = _run_ids(request.GET)
    status = 200
    if ids:
        try:
            runs = selectors.runs_get(principal=principal, run_ids=ids, field="runs")
            context.update(_comparison_context(principal, runs))
        except errors.ValidationFailed as exc:
            context["problems"], status = exc.errors, 422
    context["chosen"] = ids
    return render(request, "twin/compare.html", context, status=status)
