"""Pages of scheduling: the schedules (and a form to generate one), one schedule
(requirements vs coverage per process on a chart, cost per site, the grid of a site
in its local time, publish and roster), time off (an agent's requests and shifts;
the planners' queue with the coverage each request costs), and the planning rules
(each site's opening hours, days a week and rest, and the agents' contracted hours,
edited in place with htmx).

Provider pages only: a client is sent home from the pages without an object and
gets a 404 for a schedule or a request (it sees none). Writes go through
schedule_services; their field errors show next to the form's fields.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from offload.contracts.models import Process
from offload.core import errors, htmx
from offload.tenancy import visibility
from offload.tenancy.models import Site
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.workers import selectors as worker_selectors
from offload.workers.models import Worker, WorkerKind
from offload.workforce import schedule_selectors as selectors
from offload.workforce import schedule_services as services
from offload.workforce import scheduling
from offload.workforce.models import (
    AgentContract,
    Schedule,
    ScheduledShift,
    SitePlanningRule,
    TimeOffRequest,
    TimeOffStatus,
)
from offload.workforce.models.schedules import (
    DEFAULT_CONTRACTED_HOURS,
    DEFAULT_MAX_DAYS_PER_WEEK,
    DEFAULT_MIN_REST_HOURS,
)
from offload.workforce.page_forms import (
    BAD_DATETIME,
    BAD_NUMBER,
    posted_date,
    posted_id,
)

LIST_SIZE = 100
BAD_ACTION = "pick publish or roster"
BAD_DECISION = "pick approve or reject"
NOT_AN_AGENT = "only agents request time off here"
ONE_HOUR = timedelta(hours=1)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
AGENTS_SHOWN = 500
NO_SUCH_SITE = "not a site of your organisation"


def _can_plan(principal: Principal) -> bool:
    return principal.has_role(*visibility.PERMISSIONS["schedule.manage"])


# ------------------------------------------------------------------ the list


@member_required
def schedule_list(request: HttpRequest, principal: Principal) -> HttpResponse:
    """The schedules, newest first, and a form to generate one from the forecasts."""
    if not principal.is_provider:
        return redirect("home")
    form: Mapping[str, str] = request.POST if request.method == "POST" else {}
    problems: dict[str, str] = {}
    status = 200
    tz = ZoneInfo(principal.organisation.timezone)
    if request.method == "POST":
        try:
            schedule = _generate(principal, form, tz)
        except errors.OffloadError as exc:
            problems, status = (
                errors.form_errors(exc),
                422 if isinstance(exc, errors.ValidationFailed) else 403,
            )
        else:
            return redirect("schedule_detail", pk=schedule.pk)
    today = datetime.now(tz).date()
    context = {
        "schedules": selectors.schedule_list(principal=principal).order_by("-id")[:LIST_SIZE],
        "form": form,
        "problems": problems,
        "can_plan": _can_plan(principal),
        "default_start": (today + timedelta(days=7 - today.weekday())).isoformat(),
        "days_max": services.DAYS_MAX,
        "tz": tz.key,
    }
    return render(request, "workforce/schedule_list.html", context, status=status)


def _generate(principal: Principal, form: Mapping[str, str], tz: ZoneInfo) -> Schedule:
    problems: list[tuple[str, str | None]] = []
    day = posted_date(form.get("start_date", ""), "start_date", problems)
    start = datetime.combine(day, datetime.min.time()) if day is not None else None
    days = posted_id(form.get("days", ""))
    problems.append(("days", None if days is not None else BAD_NUMBER))
    errors.raise_failures(problems)
    assert start is not None
    assert days is not None
    try:
        return services.schedule_generate(
            actor=principal,
            provider=principal.organisation,
            start=start.replace(tzinfo=tz),
            days=days,
            name=form.get("name", "")[:200],
        )
    except errors.ValidationFailed as exc:
        # The page's field is the date; the service names the horizon's start.
        renamed = [
            errors.FieldError("start_date" if e.field == "start" else e.field, e.message)
            for e in exc.errors
        ]
        raise errors.ValidationFailed(renamed) from exc


# ------------------------------------------------------------------ one schedule


@dataclass
class GridRow:
    label: str
    cells: list[str] = field(default_factory=list)  # "" off, "on", "break"


@dataclass
class Grid:
    site: Site
    hours: list[datetime]  # local, one per column
    rows: list[GridRow]


def _chart(schedule: Schedule, tz: ZoneInfo) -> dict[str, Any]:
    """Required and scheduled agents per process, one pair of lines each."""
    required, scheduled = selectors.schedule_coverage(schedule=schedule)
    names = dict(
        Process.objects.filter(
            pk__in={p for p, _ in required} | {p for p, _ in scheduled}
        ).values_list("pk", "name")
    )
    steps = [schedule.start + k * timedelta(minutes=30) for k in range(schedule.days * 48)]
    series = []
    for process_id in sorted(names):
        series.append(
            {
                "process": names[process_id],
                "required": [required.get((process_id, t), 0) for t in steps],
                "scheduled": [scheduled.get((process_id, t), 0) for t in steps],
            }
        )
    return {"labels": [t.astimezone(tz).strftime("%a %H:%M") for t in steps], "series": series}


def _grid(schedule: Schedule, site: Site, shifts: list[ScheduledShift]) -> Grid:
    """Rows per agent (unrostered shifts one row each), one column per local hour from
    the horizon's start to the last shift's end; overnight shifts run across midnight."""
    zone = ZoneInfo(site.timezone)
    first = schedule.start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    last = max([schedule.end, *(s.end for s in shifts)])
    hours: list[datetime] = []
    t = first.astimezone(UTC)
    while t < last:
        hours.append(t)
        t += ONE_HOUR
    by_row: dict[str, list[ScheduledShift]] = defaultdict(list)
    for shift in shifts:
        if shift.worker is not None:
            key = shift.worker.user.get_full_name() or shift.worker.user.username
        else:
            key = f"Open shift #{shift.pk} ({shift.process.name})"
        by_row[key].append(shift)
    rows = []
    for label in sorted(by_row, key=lambda k: (k.startswith("Open shift"), k)):
        row = GridRow(label)
        for hour in hours:
            cell = ""
            for shift in by_row[label]:
                if shift.start < hour + ONE_HOUR and hour < shift.end:
                    on_break = (
                        shift.break_start is not None
                        and shift.break_end is not None
                        and shift.break_start < hour + ONE_HOUR
                        and hour < shift.break_end
                    )
                    cell = "break" if on_break else "on"
            row.cells.append(cell)
        rows.append(row)
    return Grid(site=site, hours=[h.astimezone(zone) for h in hours], rows=rows)


@member_required
def schedule_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """A schedule: coverage chart, cost per site, a site's grid, publish and roster."""
    schedule = get_visible_or_404(principal, Schedule.objects.select_related("provider"), pk=pk)
    problems: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "publish":
                services.schedule_publish(actor=principal, schedule=schedule)
            elif action == "roster":
                services.roster_generate(actor=principal, schedule=schedule)
            else:
                raise errors.ValidationFailed.single("action", BAD_ACTION)
        except errors.OffloadError as exc:
            problems, status = errors.form_errors(exc), exc.status
        else:
            return redirect("schedule_detail", pk=schedule.pk)
    tz = ZoneInfo(schedule.provider.timezone)
    sites = list(Site.objects.filter(provider=schedule.provider).order_by("name"))
    costs = {str(k): v for k, v in (schedule.cost_per_site or {}).items()}
    site_costs = [(s, costs.get(str(s.pk))) for s in sites]
    chosen = next((s for s in sites if s.pk == posted_id(request.GET.get("site", ""))), None)
    if chosen is None:
        chosen = next((s for s, c in site_costs if c), sites[0] if sites else None)
    grid = None
    if chosen is not None:
        shifts = list(
            selectors.schedule_shift_list(principal=principal, schedule=schedule, site_id=chosen.pk)
        )
        grid = _grid(schedule, chosen, shifts)
    context = {
        "schedule": schedule,
        "chart": _chart(schedule, tz),
        "tz": tz.key,
        "site_costs": site_costs,
        "grid": grid,
        "sites": sites,
        "problems": problems,
        "can_plan": _can_plan(principal),
    }
    return render(request, "workforce/schedule_detail.html", context, status=status)


# ------------------------------------------------------------------ time off


def _parse_local(value: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=tz)


@member_required
def time_off_list(request: HttpRequest, principal: Principal) -> HttpResponse:
    """An agent's own requests and shifts with a form to ask for time off; planners
    also see the queue of open requests with what approving each would cost."""
    if not principal.is_provider:
        return redirect("home")
    worker = worker_selectors.worker_for_principal(principal)
    tz = ZoneInfo(
        worker.site.timezone if worker and worker.site else principal.organisation.timezone
    )
    form: Mapping[str, str] = request.POST if request.method == "POST" else {}
    problems: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            _request(principal, worker, form, tz)
        except errors.OffloadError as exc:
            problems, status = (
                errors.form_errors(exc),
                422 if isinstance(exc, errors.ValidationFailed) else 403,
            )
        else:
            return redirect("time_off_list")
    queue: list[tuple[TimeOffRequest, list[dict[str, object]]]] = []
    can_plan = _can_plan(principal)
    if can_plan:
        pending = selectors.time_off_list(principal=principal, status=TimeOffStatus.REQUESTED)
        queue = [(r, selectors.time_off_coverage_cost(time_off=r)) for r in pending[:LIST_SIZE]]
    now = datetime.now(UTC)
    context = {
        "worker": worker,
        "mine": (
            selectors.time_off_list(principal=principal, worker=worker).order_by("-start")[
                :LIST_SIZE
            ]
            if worker is not None
            else []
        ),
        "shifts": (
            list(
                selectors.worker_shifts(
                    worker=worker, start=now - timedelta(days=1), end=now + timedelta(days=14)
                ).order_by("start")
            )
            if worker is not None
            else []
        ),
        "queue": queue,
        "decided": (
            selectors.time_off_list(principal=principal)
            .exclude(status=TimeOffStatus.REQUESTED)
            .order_by("-decided_at")[:20]
            if can_plan
            else []
        ),
        "can_plan": can_plan,
        "form": form,
        "problems": problems,
        "tz": tz.key,
    }
    return render(request, "workforce/time_off_list.html", context, status=status)


def _request(principal: Principal, worker: Any, form: Mapping[str, str], tz: ZoneInfo) -> None:
    if worker is None:
        raise errors.ValidationFailed.single("form", NOT_AN_AGENT)
    problems: list[tuple[str, str | None]] = []
    moments: dict[str, datetime] = {}
    for name in ("start", "end"):
        try:
            moments[name] = _parse_local(form.get(name, ""), tz)
        except ValueError:
            problems.append((name, BAD_DATETIME))
    errors.raise_failures(problems)
    services.time_off_request(
        actor=principal,
        worker=worker,
        start=moments["start"],
        end=moments["end"],
        reason=form.get("reason", "")[:500],
    )


@member_required
def time_off_decide(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Approve or reject a request (POST); a GET goes back to the queue."""
    time_off = get_visible_or_404(
        principal, TimeOffRequest.objects.select_related("worker__provider"), pk=pk
    )
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            if decision not in ("approve", "reject"):
                raise errors.ValidationFailed.single("decision", BAD_DECISION)
            services.time_off_decide(
                actor=principal, time_off=time_off, approve=decision == "approve"
            )
        except errors.OffloadError as exc:
            return render(
                request,
                "workforce/time_off_refused.html",
                {"problem": exc.detail, "time_off": time_off},
                status=exc.status,
            )
    return redirect(reverse("time_off_list") + "#queue")


# ------------------------------------------------------------------ planning rules


@dataclass
class DayRow:
    index: int
    name: str
    open: str
    close: str
    problem: str = ""

    @property
    def note(self) -> str:
        """Closed, all day, overnight or nothing (an ordinary day, or one in error)."""
        if not self.open and not self.close:
            return "closed"
        try:
            opens, closes = scheduling.parse_clock(self.open), scheduling.parse_clock(self.close)
        except ValueError:
            return ""
        if opens % scheduling.DAY_MINUTES == closes % scheduling.DAY_MINUTES:
            return "all day"
        return "closes the next day" if closes < opens else ""


@dataclass
class SiteRules:
    site: Site
    rule: SitePlanningRule | None
    days: list[DayRow]
    max_days_per_week: str
    min_rest_hours: str
    problems: dict[str, str] = field(default_factory=dict)


@dataclass
class ContractRow:
    worker: Worker
    hours: str
    is_default: bool
    problem: str = ""
    saved: bool = False


def _site_rules(site: Site, rule: SitePlanningRule | None) -> SiteRules:
    """A site's rules as its form shows them: the stored ones, or the defaults."""
    stored = (rule.opening_hours if rule is not None else None) or [["00:00", "24:00"]] * 7
    days = [
        DayRow(i, name, *(day if day is not None else ("", "")))
        for i, (name, day) in enumerate(zip(WEEKDAY_NAMES, stored, strict=False))
    ]
    return SiteRules(
        site=site,
        rule=rule,
        days=days,
        max_days_per_week=str(rule.max_days_per_week if rule else DEFAULT_MAX_DAYS_PER_WEEK),
        min_rest_hours=str(rule.min_rest_hours if rule else DEFAULT_MIN_REST_HOURS),
    )


def _posted_rules(site: Site, rule: SitePlanningRule | None, form: Mapping[str, str]) -> SiteRules:
    """The site's form as posted, to show again with its errors."""
    days = [
        DayRow(i, name, form.get(f"open_{i}", "")[:8], form.get(f"close_{i}", "")[:8])
        for i, name in enumerate(WEEKDAY_NAMES)
    ]
    return SiteRules(
        site=site,
        rule=rule,
        days=days,
        max_days_per_week=form.get("max_days_per_week", "")[:8],
        min_rest_hours=form.get("min_rest_hours", "")[:8],
    )


def _rules_set(principal: Principal, site: Site, form: Mapping[str, str]) -> None:
    """Set a site's rules from its form: a day with neither time is closed."""
    opening: list[list[str] | None] = []
    for i in range(len(WEEKDAY_NAMES)):
        opened, closed = form.get(f"open_{i}", "").strip(), form.get(f"close_{i}", "").strip()
        opening.append([opened, closed] if opened or closed else None)
    max_days, rest = (
        posted_id(form.get("max_days_per_week", "")),
        posted_id(form.get("min_rest_hours", "")),
    )
    if max_days is None or rest is None:
        # Every field's problem at once: the service's checks, and the numbers missing.
        _, problems = services.site_planning_rule_check(
            opening_hours=opening, max_days_per_week=max_days, min_rest_hours=rest
        )
        errors.raise_failures(
            [
                *problems,
                ("max_days_per_week", None if max_days is not None else BAD_NUMBER),
                ("min_rest_hours", None if rest is not None else BAD_NUMBER),
            ]
        )
    assert max_days is not None
    assert rest is not None
    services.site_planning_rule_set(
        actor=principal,
        site=site,
        opening_hours=opening,
        max_days_per_week=max_days,
        min_rest_hours=rest,
    )


def _day_problems(problems: dict[str, str], rules: SiteRules) -> None:
    """The service names a day `opening_hours[i]`; the form shows it on day i's row."""
    for day in rules.days:
        day.problem = problems.get(f"opening_hours[{day.index}]", "")
    rules.problems = problems


def _contract_rows(principal: Principal) -> list[ContractRow]:
    agents = visibility.visible(
        principal,
        Worker.objects.filter(
            provider_id=principal.organisation.pk, kind=WorkerKind.AGENT, is_active=True
        ).select_related("user", "site"),
    ).order_by("site__name", "user__username", "id")[:AGENTS_SHOWN]
    hours = dict(
        visibility.visible(principal, AgentContract.objects.all()).values_list(
            "worker_id", "hours_per_week"
        )
    )
    return [
        ContractRow(
            worker=a,
            hours=str(hours.get(a.pk, DEFAULT_CONTRACTED_HOURS)),
            is_default=a.pk not in hours,
        )
        for a in agents
    ]


def _rules_page(
    request: HttpRequest,
    principal: Principal,
    *,
    posted: SiteRules | None = None,
    contract: ContractRow | None = None,
    status: int = 200,
) -> HttpResponse:
    sites = visibility.visible(
        principal, Site.objects.filter(provider_id=principal.organisation.pk)
    ).order_by("name")
    rules = {r.site_id: r for r in visibility.visible(principal, SitePlanningRule.objects.all())}
    site_rules = [
        posted if posted is not None and posted.site.pk == s.pk else _site_rules(s, rules.get(s.pk))
        for s in sites
    ]
    rows = _contract_rows(principal)
    if contract is not None:
        rows = [contract if r.worker.pk == contract.worker.pk else r for r in rows]
    context = {
        "sites": site_rules,
        "contracts": rows,
        "agents_shown": AGENTS_SHOWN,
        "can_plan": _can_plan(principal),
        "default_hours": DEFAULT_CONTRACTED_HOURS,
    }
    return render(request, "workforce/planning_rules.html", context, status=status)


@member_required
def planning_rules(request: HttpRequest, principal: Principal) -> HttpResponse:
    """Each site's rules (opening hours per weekday in its local time, days a week,
    rest) with a form per site, and the agents' contracted hours, each edited in its
    row. A POST sets one site's rules (the form names the site)."""
    if not principal.is_provider:
        return redirect("home")
    if request.method != "POST":
        return _rules_page(request, principal)
    site_id = posted_id(request.POST.get("site_id", ""))
    site = (
        visibility.visible(principal, Site.objects.filter(provider_id=principal.organisation.pk))
        .select_related("provider")
        .filter(pk=site_id)
        .first()
        if site_id is not None
        else None
    )
    if site is None:
        raise Http404(NO_SUCH_SITE)
    try:
        _rules_set(principal, site, request.POST)
    except errors.OffloadError as exc:
        rule = SitePlanningRule.objects.filter(site=site).first()
        posted = _posted_rules(site, rule, request.POST)
        _day_problems(errors.form_errors(exc), posted)
        return _rules_page(request, principal, posted=posted, status=exc.status)
    return redirect(reverse("planning_rules") + f"#site-{site.pk}")


@member_required
def agent_contract_edit(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Set an agent's contracted hours (POST, from its row on the rules page); htmx
    gets the row back, saved or with the error next to the hours. A GET goes back to
    the page."""
    worker = get_visible_or_404(
        principal,
        Worker.objects.filter(kind=WorkerKind.AGENT).select_related("user", "site", "provider"),
        pk=pk,
    )
    anchor = reverse("planning_rules") + f"#agent-{worker.pk}"
    if request.method != "POST":
        return redirect(anchor)
    raw = request.POST.get("hours_per_week", "").strip()
    row = ContractRow(worker=worker, hours=raw[:8], is_default=False)
    status = 200
    try:
        hours = posted_id(raw)
        if hours is None:
            raise errors.ValidationFailed.single("hours_per_week", BAD_NUMBER)
        services.agent_contract_set(actor=principal, worker=worker, hours_per_week=hours)
    except errors.OffloadError as exc:
        problems = errors.form_errors(exc)
        row.problem = problems.get("hours_per_week") or next(iter(problems.values()), "")
        status = exc.status
    else:
        row.saved = True
    fragment = htmx.is_fragment_request(request)
    if not fragment and row.saved:
        return redirect(anchor)
    if fragment:
        # htmx swaps 2xx answers only: the row with its error comes back as a 200.
        response = render(
            request,
            "workforce/partials/_planning_contract_row.html",
            {"row": row, "can_plan": _can_plan(principal)},
        )
    else:
        response = _rules_page(request, principal, contract=row, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
