"""REST endpoints for engagements, documents, calendars, SLA policies, rate cards and processes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from django.http import FileResponse, HttpRequest
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile
from pydantic import Field

from offload.contracts import calendar_preview, selectors, services
from offload.contracts.lifecycle import Stage
from offload.contracts.models import (
    BusinessCalendar,
    Channel,
    ContractDocument,
    DocumentKind,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
)
from offload.contracts.schemas import (
    SIGNATORY_MAX,
    CalendarIn,
    CalendarOut,
    CalendarPatch,
    CalendarPreviewOut,
    DocumentIn,
    DocumentOut,
    EngagementIn,
    EngagementOut,
    EngagementPatch,
    EngagementTransitionIn,
    ProcessIn,
    ProcessOut,
    ProcessPatch,
    RateCardIn,
    RateCardOut,
    RateCardPatch,
    SiteShoreOut,
    SlaPolicyIn,
    SlaPolicyOut,
    SlaPolicyPatch,
    SlaPolicyVersionOut,
    SlaTargetIn,
    SopVersionOut,
)
from offload.core import errors
from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page, resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.tenancy.models import Organisation, OrganisationKind
from offload.tenancy.schemas import Name
from offload.tenancy.visibility import Principal

router = Router(tags=["contracts"])


def _engagement_ref(principal: Principal, pk: int, field: str = "engagement_id") -> Engagement:
    qs = visibility.visible(principal, Engagement.objects.select_related("client", "provider"))
    return resolve(qs, field=field, pk=pk)


# ------------------------------------------------------------------ engagements


@router.get("/engagements", response=Page[EngagementOut])
def engagement_list(
    request: HttpRequest,
    status: Stage | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.engagement_list(principal=principal_of(request), status=status)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/engagements/{engagement_id}", response=EngagementOut)
def engagement_get(request: HttpRequest, engagement_id: int) -> Engagement:
    return visibility.get_visible(principal_of(request), Engagement.objects.all(), pk=engagement_id)


@router.post("/engagements", response={201: EngagementOut})
def engagement_create(request: HttpRequest, payload: EngagementIn) -> Status[Engagement]:
    principal = principal_of(request)
    clients = visibility.visible(
        principal, Organisation.objects.filter(kind=OrganisationKind.CLIENT)
    )
    client = resolve(clients, field="client_id", pk=payload.client_id)
    engagement = services.engagement_create(
        actor=principal,
        client=client,
        provider=principal.organisation,
        name=payload.name,
        slug=payload.slug or "",
        description=payload.description,
    )
    return Status(201, engagement)


@router.patch("/engagements/{engagement_id}", response=EngagementOut)
def engagement_update(
    request: HttpRequest, engagement_id: int, payload: EngagementPatch
) -> Engagement:
    principal = principal_of(request)
    engagement = visibility.get_visible(principal, Engagement.objects.all(), pk=engagement_id)
    return services.engagement_update(
        actor=principal, engagement=engagement, data=payload.model_dump(exclude_unset=True)
    )


@router.delete("/engagements/{engagement_id}", response={204: None})
def engagement_delete(request: HttpRequest, engagement_id: int) -> Status[None]:
    """Only an engagement nothing refers to yet; a live one moves to exit instead."""
    principal = principal_of(request)
    engagement = visibility.get_visible(principal, Engagement.objects.all(), pk=engagement_id)
    services.engagement_delete(actor=principal, engagement=engagement)
    return Status(204, None)


@router.post("/engagements/{engagement_id}/transition", response=EngagementOut)
def engagement_transition(
    request: HttpRequest, engagement_id: int, payload: EngagementTransitionIn
) -> Engagement:
    principal = principal_of(request)
    engagement = visibility.get_visible(principal, Engagement.objects.all(), pk=engagement_id)
    return services.engagement_transition(
        actor=principal, engagement=engagement, status=payload.status
    )


@router.get("/engagements/{engagement_id}/sites", response=list[SiteShoreOut])
def engagement_sites(request: HttpRequest, engagement_id: int) -> list[dict[str, object]]:
    principal = principal_of(request)
    engagement = visibility.get_visible(
        principal, Engagement.objects.select_related("client"), pk=engagement_id
    )
    return [
        {"site_id": s.site.pk, "site": s.site.name, "country": s.site.country, "shore": s.shore}
        for s in selectors.engagement_site_shores(engagement=engagement)
    ]


# ------------------------------------------------------------------ documents


@router.get("/documents", response=Page[DocumentOut])
def document_list(
    request: HttpRequest,
    engagement_id: int | None = None,
    kind: DocumentKind | None = None,
    current: bool = False,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.document_list(
        principal=principal_of(request),
        engagement_id=engagement_id,
        kind=kind,
        current_only=current,
    )
    return page(qs, cursor=cursor, limit=limit)


@router.get("/documents/{int:document_id}", response=DocumentOut)
def document_get(request: HttpRequest, document_id: int) -> ContractDocument:
    return visibility.get_visible(
        principal_of(request), ContractDocument.objects.all(), pk=document_id
    )


@router.post("/documents", response={201: DocumentOut})
def document_create(request: HttpRequest, payload: DocumentIn) -> Status[ContractDocument]:
    principal = principal_of(request)
    engagement = _engagement_ref(principal, payload.engagement_id)
    data = payload.model_dump(exclude={"engagement_id"})
    return Status(201, services.document_create(actor=principal, engagement=engagement, **data))


@router.post("/documents/upload", response={201: DocumentOut})
def document_upload(
    request: HttpRequest,
    engagement_id: Form[int],
    kind: Form[DocumentKind],
    title: Form[Name],
    effective_from: Form[date],
    file: File[UploadedFile],
    effective_to: Form[date | None] = None,
    signed_on: Form[date | None] = None,
    signed_by_client: Annotated[str, Form(max_length=SIGNATORY_MAX)] = "",
    signed_by_provider: Annotated[str, Form(max_length=SIGNATORY_MAX)] = "",
) -> Status[ContractDocument]:
    """A signed document as a file (multipart); a later upload of the same kind supersedes it."""
    principal = principal_of(request)
    engagement = _engagement_ref(principal, engagement_id)
    document = services.document_create(
        actor=principal,
        engagement=engagement,
        kind=kind,
        title=title,
        effective_from=effective_from,
        effective_to=effective_to,
        signed_on=signed_on,
        signed_by_client=signed_by_client,
        signed_by_provider=signed_by_provider,
        file=file,
    )
    return Status(201, document)


@router.get("/documents/{document_id}/file", response={200: None})
def document_file(request: HttpRequest, document_id: int) -> FileResponse:
    document = visibility.get_visible(
        principal_of(request), ContractDocument.objects.all(), pk=document_id
    )
    if not document.file:
        raise errors.NotFound("this document has no file; its text is in 'body'")
    return FileResponse(document.file.open("rb"), as_attachment=True)


# ------------------------------------------------------------------ calendars


@router.get("/calendars", response=Page[CalendarOut])
def calendar_list(
    request: HttpRequest,
    engagement_id: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.calendar_list(principal=principal_of(request), engagement_id=engagement_id)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/calendars/{calendar_id}", response=CalendarOut)
def calendar_get(request: HttpRequest, calendar_id: int) -> BusinessCalendar:
    return visibility.get_visible(
        principal_of(request), BusinessCalendar.objects.all(), pk=calendar_id
    )


@router.post("/calendars", response={201: CalendarOut})
def calendar_create(request: HttpRequest, payload: CalendarIn) -> Status[BusinessCalendar]:
    principal = principal_of(request)
    engagement = _engagement_ref(principal, payload.engagement_id)
    calendar = services.calendar_create(
        actor=principal,
        engagement=engagement,
        name=payload.name,
        slug=payload.slug or "",
        spec=payload.spec,
    )
    return Status(201, calendar)


@router.patch("/calendars/{calendar_id}", response=CalendarOut)
def calendar_update(
    request: HttpRequest, calendar_id: int, payload: CalendarPatch
) -> BusinessCalendar:
    principal = principal_of(request)
    calendar = visibility.get_visible(principal, BusinessCalendar.objects.all(), pk=calendar_id)
    return services.calendar_update(
        actor=principal, calendar=calendar, data=payload.model_dump(exclude_unset=True)
    )


PreviewDays = Annotated[int, Field(ge=1, le=calendar_preview.MAX_DAYS)]


@router.get("/calendars/{calendar_id}/preview", response=CalendarPreviewOut)
def calendar_preview_days(
    request: HttpRequest,
    calendar_id: int,
    days: PreviewDays = calendar_preview.DEFAULT_DAYS,
    start: date | None = None,
) -> dict[str, object]:
    """The calendar's days from `start` (today in its zone): open windows in local time,
    open minutes, and why a day is closed or short (docs/calendars.md#preview)."""
    calendar = visibility.get_visible(
        principal_of(request), BusinessCalendar.objects.all(), pk=calendar_id
    )
    preview = selectors.calendar_preview_days(calendar=calendar, start=start, days=days)
    return {
        "calendar_id": calendar.pk,
        "timezone": preview.timezone,
        "start": preview.start,
        "days": preview.days,
    }


@router.delete("/calendars/{calendar_id}", response={204: None})
def calendar_delete(request: HttpRequest, calendar_id: int) -> Status[None]:
    principal = principal_of(request)
    calendar = visibility.get_visible(principal, BusinessCalendar.objects.all(), pk=calendar_id)
    services.calendar_delete(actor=principal, calendar=calendar)
    return Status(204, None)


# ------------------------------------------------------------------ SLA policies


def _calendar_ref(principal: Principal, pk: int, field: str) -> BusinessCalendar:
    return resolve(
        visibility.visible(principal, BusinessCalendar.objects.all()), field=field, pk=pk
    )


def _targets(principal: Principal, targets: list[SlaTargetIn]) -> list[dict[str, Any]]:
    out = []
    for i, t in enumerate(targets):
        data = t.model_dump(exclude={"calendar_id"})
        data["credit"] = t.credit.model_dump(mode="json") if t.credit else {}
        data["bonus"] = t.bonus.model_dump(mode="json") if t.bonus else {}
        data["calendar"] = (
            _calendar_ref(principal, t.calendar_id, f"targets[{i}].calendar_id")
            if t.calendar_id is not None
            else None
        )
        out.append(data)
    return out


@router.get("/sla-policies", response=Page[SlaPolicyOut])
def sla_policy_list(
    request: HttpRequest,
    engagement_id: int | None = None,
    current: bool = False,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.sla_policy_list(
        principal=principal_of(request), engagement_id=engagement_id, current_only=current
    )
    return page(qs, cursor=cursor, limit=limit)


@router.get("/sla-policies/{policy_id}", response=SlaPolicyOut)
def sla_policy_get(request: HttpRequest, policy_id: int) -> SlaPolicy:
    return visibility.get_visible(
        principal_of(request), SlaPolicy.objects.prefetch_related("targets"), pk=policy_id
    )


@router.post("/sla-policies", response={201: SlaPolicyOut})
def sla_policy_create(request: HttpRequest, payload: SlaPolicyIn) -> Status[SlaPolicy]:
    principal = principal_of(request)
    engagement = _engagement_ref(principal, payload.engagement_id)
    policy = services.sla_policy_create(
        actor=principal,
        engagement=engagement,
        name=payload.name,
        slug=payload.slug or "",
        calendar=_calendar_ref(principal, payload.calendar_id, "calendar_id"),
        pause_statuses=payload.pause_statuses,
        warning_percents=payload.warning_percents,
        at_risk_percent=payload.at_risk_percent,
        targets=_targets(principal, payload.targets),
    )
    return Status(201, policy)


@router.patch("/sla-policies/{policy_id}", response=SlaPolicyOut)
def sla_policy_revise(request: HttpRequest, policy_id: int, payload: SlaPolicyPatch) -> SlaPolicy:
    """An edit creates the next version and answers it; the edited version is kept."""
    principal = principal_of(request)
    policy = visibility.get_visible(principal, SlaPolicy.objects.all(), pk=policy_id)
    return services.sla_policy_revise(
        actor=principal,
        policy=policy,
        name=payload.name,
        calendar=(
            _calendar_ref(principal, payload.calendar_id, "calendar_id")
            if payload.calendar_id is not None
            else None
        ),
        targets=_targets(principal, payload.targets) if payload.targets is not None else None,
        pause_statuses=payload.pause_statuses,
        warning_percents=payload.warning_percents,
        at_risk_percent=payload.at_risk_percent,
    )


@router.get("/sla-policies/{policy_id}/versions", response=list[SlaPolicyVersionOut])
def sla_policy_versions(request: HttpRequest, policy_id: int) -> list[dict[str, object]]:
    """Every version of this policy's slug, newest first, with who made each."""
    principal = principal_of(request)
    policy = visibility.get_visible(principal, SlaPolicy.objects.all(), pk=policy_id)
    return [
        {
            **{f: getattr(v.policy, f) for f in SlaPolicyOut.model_fields if f != "targets"},
            "targets": list(v.policy.targets.all()),
            "created_at": v.policy.created_at,
            "created_by": v.created_by,
        }
        for v in selectors.sla_policy_versions(principal=principal, policy=policy)
    ]


@router.delete("/sla-policies/{policy_id}", response={204: None})
def sla_policy_delete(request: HttpRequest, policy_id: int) -> Status[None]:
    principal = principal_of(request)
    policy = visibility.get_visible(principal, SlaPolicy.objects.all(), pk=policy_id)
    services.sla_policy_delete(actor=principal, policy=policy)
    return Status(204, None)


# ------------------------------------------------------------------ rate cards


@router.get("/rate-cards", response=Page[RateCardOut])
def rate_card_list(
    request: HttpRequest,
    engagement_id: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.rate_card_list(principal=principal_of(request), engagement_id=engagement_id)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/rate-cards/{card_id}", response=RateCardOut)
def rate_card_get(request: HttpRequest, card_id: int) -> RateCard:
    return visibility.get_visible(principal_of(request), RateCard.objects.all(), pk=card_id)


@router.post("/rate-cards", response={201: RateCardOut})
def rate_card_create(request: HttpRequest, payload: RateCardIn) -> Status[RateCard]:
    principal = principal_of(request)
    engagement = _engagement_ref(principal, payload.engagement_id)
    data = payload.model_dump(exclude={"engagement_id", "slug", "tiers"})
    card = services.rate_card_create(
        actor=principal,
        engagement=engagement,
        slug=payload.slug or "",
        tiers=[t.model_dump(mode="json") for t in payload.tiers],
        **data,
    )
    return Status(201, card)


@router.patch("/rate-cards/{card_id}", response=RateCardOut)
def rate_card_update(request: HttpRequest, card_id: int, payload: RateCardPatch) -> RateCard:
    principal = principal_of(request)
    card = visibility.get_visible(principal, RateCard.objects.all(), pk=card_id)
    data = payload.model_dump(exclude_unset=True, exclude={"tiers"})
    if payload.tiers is not None:
        data["tiers"] = [t.model_dump(mode="json") for t in payload.tiers]
    return services.rate_card_update(actor=principal, card=card, data=data)


@router.delete("/rate-cards/{card_id}", response={204: None})
def rate_card_delete(request: HttpRequest, card_id: int) -> Status[None]:
    principal = principal_of(request)
    card = visibility.get_visible(principal, RateCard.objects.all(), pk=card_id)
    services.rate_card_delete(actor=principal, card=card)
    return Status(204, None)


# ------------------------------------------------------------------ processes


def _process_out(process: Process) -> dict[str, object]:
    sop = selectors.process_current_sop(process)
    return {
        **{
            f: getattr(process, f)
            for f in ProcessOut.model_fields
            if f not in {"sop", "sop_version"}
        },
        "sop": sop.body if sop else "",
        "sop_version": sop.version if sop else None,
    }


def _policy_ref(principal: Principal, pk: int | None) -> SlaPolicy | None:
    if pk is None:
        return None
    return resolve(
        visibility.visible(principal, SlaPolicy.objects.all()), field="sla_policy_id", pk=pk
    )


@router.get("/processes", response=Page[ProcessOut])
def process_list(
    request: HttpRequest,
    engagement_id: int | None = None,
    channel: Channel | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.process_list(
        principal=principal_of(request), engagement_id=engagement_id, channel=channel
    )
    body = page(qs, cursor=cursor, limit=limit)
    body["items"] = [_process_out(p) for p in body["items"]]  # type: ignore[attr-defined]
    return body


@router.get("/processes/{process_id}", response=ProcessOut)
def process_get(request: HttpRequest, process_id: int) -> dict[str, object]:
    process = visibility.get_visible(principal_of(request), Process.objects.all(), pk=process_id)
    return _process_out(process)


@router.post("/processes", response={201: ProcessOut})
def process_create(request: HttpRequest, payload: ProcessIn) -> Status[dict[str, object]]:
    principal = principal_of(request)
    engagement = _engagement_ref(principal, payload.engagement_id)
    data = payload.model_dump(exclude={"engagement_id", "sla_policy_id", "slug"})
    process = services.process_create(
        actor=principal,
        engagement=engagement,
        slug=payload.slug or "",
        sla_policy=_policy_ref(principal, payload.sla_policy_id),
        **data,
    )
    return Status(201, _process_out(process))


@router.patch("/processes/{process_id}", response=ProcessOut)
def process_update(
    request: HttpRequest, process_id: int, payload: ProcessPatch
) -> dict[str, object]:
    principal = principal_of(request)
    process = visibility.get_visible(principal, Process.objects.all(), pk=process_id)
    data = payload.model_dump(exclude_unset=True, exclude={"sop", "sla_policy_id"})
    if "sla_policy_id" in payload.model_fields_set:
        data["sla_policy"] = _policy_ref(principal, payload.sla_policy_id)
    process = services.process_update(actor=principal, process=process, data=data, sop=payload.sop)
    return _process_out(process)


@router.delete("/processes/{process_id}", response={204: None})
def process_delete(request: HttpRequest, process_id: int) -> Status[None]:
    principal = principal_of(request)
    process = visibility.get_visible(principal, Process.objects.all(), pk=process_id)
    services.process_delete(actor=principal, process=process)
    return Status(204, None)


@router.get("/processes/{process_id}/sop-versions", response=list[SopVersionOut])
def process_sop_versions(request: HttpRequest, process_id: int) -> list[Any]:
    process = visibility.get_visible(principal_of(request), Process.objects.all(), pk=process_id)
    return list(process.sop_versions.order_by("-version"))
