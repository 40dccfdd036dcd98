"""A two-client world for the cross-cutting API tests.

One provider (Northwind) serves two clients (Acme, Globex); each client has an
engagement with a calendar, an SLA policy, a rate card, a process with an SOP, a
contract document with an uploaded file, users and API keys, and a Northwind agent
certified on that process. A second provider (Initech), which has nothing to do with
either client, owns a site and an agent of its own.

Every object of a side carries the side's name (or its slug) in a name, so a
test can search a response's text for a name that must not be there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from offload.contracts import services as contract_services
from offload.contracts.tests.factories import make_engagement, make_policy, make_rate_card
from offload.tenancy import notifications
from offload.tenancy.models import Organisation, Site
from offload.tenancy.tests.factories import (
    make_api_key,
    make_client,
    make_provider,
    make_site,
    make_user,
)
from offload.twin import services as twin_services
from offload.twin.models import ScenarioRun
from offload.work import attachments, escalations, mailboxes, webhooks
from offload.work.models import Offer, WebhookDelivery
from offload.work.tests.factories import make_item
from offload.workers.tests.factories import make_agent
from offload.workforce import schedule_services
from offload.workforce.tests import factories as forecast_factories

# Forecasts of the sides' processes start here (a Monday, UTC).
FORECAST_START = datetime(2026, 11, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Refs:
    """One side's object ids, named as the API's path parameters name them."""

    org_id: int
    engagement_id: int
    calendar_id: int
    policy_id: int
    card_id: int
    process_id: int
    document_id: int
    site_id: int
    user_id: int
    key_id: int
    item_id: int
    queue_id: int
    endpoint_id: int
    delivery_id: int
    attachment_id: int
    mailbox_id: int
    # A worker of the provider certified on the side's process (workers belong to the
    # provider: no client sees one, not even its provider's).
    worker_id: int
    offer_id: int
    # In the side's admin's inbox (the side's admin key acts as that admin).
    notification_id: int
    # An escalation rule of the side's SLA policy.
    rule_id: int
    # Not path parameters: bodies name a process and a client by slug (POST /items),
    # and a provider user who is not a worker yet (POST /workers).
    process_slug: str
    client_slug: str
    new_worker_user_id: int
    # Escalation rules name their policy by slug.
    policy_slug: str
    # Forecasting (the provider's own, like workers): a forecast of the side's process,
    # an adjustment of it and its staffing target.
    forecast_id: int
    adjustment_id: int
    target_id: int
    # Scheduling (the provider's own): a solved draft schedule covering the side's
    # process, and a time-off request of the side's worker.
    schedule_id: int
    time_off_id: int
    template_id: int
    # The twin (the provider's own): a scenario built from the live configuration,
    # and a queued run of it.
    scenario_id: int
    run_id: int
    # Planning rules (the provider's own): the rule of the side's site (shared by the
    # provider's sides) and the contract of the side's worker, both at the defaults.
    planning_rule_id: int
    agent_contract_id: int


def placeholder_refs() -> Refs:
    """Refs that fill every path and body with well-typed values, to read shapes."""
    values = {f.name: ("x" if f.type in {"str", str} else 1) for f in fields(Refs)}
    return Refs(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Side:
    organisation: Organisation
    refs: Refs
    admin_key: str  # secret of a read+write key acting as the side's admin user
    markers: tuple[str, ...]  # lower-case names that appear in this side's objects


@dataclass(frozen=True)
class World:
    northwind: Organisation
    northwind_key: str  # the provider admin's read+write key
    northwind_site: Site
    acme: Side
    globex: Side
    initech: Organisation  # an unrelated provider
    initech_key: str
    initech_site: Site


def make_client_side(provider: Organisation, name: str, *, site: Site) -> Side:
    """A client of `provider` with one of everything, every name starting with `name`."""
    slug = name.lower()
    client = make_client(f"{name} Corp", slug=f"{slug}-corp")
    engagement = make_engagement(client, provider, name=f"{name} support", slug=f"{slug}-support")
    policy = make_policy(engagement)
    card = make_rate_card(engagement, name=f"{name} rates", slug=f"{slug}-rates")
    process = contract_services.process_create(
        actor=None,
        engagement=engagement,
        name=f"{name} email",
        slug=f"{slug}-email",
        channel="email",
        sla_policy=policy,
        sop=f"# {name} SOP\n\nAnswer within the hour.",
    )
    document = contract_services.document_create(
        actor=None,
        engagement=engagement,
        kind="msa",
        title=f"{name} MSA",
        effective_from=date(2026, 1, 1),
        file=SimpleUploadedFile(f"{slug}-msa.pdf", b"%PDF-1.4 signed", "application/pdf"),
    )
    # The endpoint first, so the item's events leave deliveries in its log.
    endpoint = webhooks.webhook_endpoint_create(
        actor=None,
        client=client,
        provider=provider,
        url=f"https://{slug}.example.com/hooks",
        event_types=["*"],
    )
    item = make_item(process, reference=f"{slug}-1", subject=f"{name} customer wants a refund")
    attachment = attachments.attachment_add(
        actor=None,
        item=item,
        filename=f"{slug}-invoice.pdf",
        data=b"%PDF-1.4 invoice of " + slug.encode(),
        content_type="application/pdf",
    )
    mailbox = mailboxes.mailbox_create(
        actor=None, process=process, address=f"support@{slug}.example.com", display_name=name
    )
    rule = escalations.escalation_rule_create(
        actor=None,
        client=client,
        provider=provider,
        policy_slug=policy.slug,
        metric="first_response",
        on_percent=100,
        raise_priority=True,
        notify_client=True,
    )
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id").first()
    assert delivery is not None
    admin = make_user(client, "client_admin", username=f"{slug}-admin")
    make_user(client, "client_viewer", username=f"{slug}-viewer")
    key, secret = make_api_key(client, user=admin)
    (notification,) = notifications.notification_send(
        recipients=[admin],
        kind="sla_warning",
        title=f"{name} item close to its SLA",
        body=f"{slug}-1 is due soon.",
        link=f"/items/{item.pk}/",
    )
    worker = make_agent(
        provider,
        user=make_user(provider, "agent", username=f"{slug}-agent"),
        site=site,
        processes=[process],
    )
    trainee = make_user(provider, "agent", username=f"{slug}-trainee")
    forecast = forecast_factories.make_forecast(process, FORECAST_START, [10.0, 12.0, 8.0])
    adjustment = forecast_factories.make_adjustment(process, FORECAST_START)
    staffing_target = forecast_factories.make_staffing_target(process)
    schedule = schedule_services.schedule_generate(
        actor=None,
        provider=provider,
        name=f"{name} week",
        start=FORECAST_START,
        days=1,
        requirements=[schedule_services.Requirement(process.pk, FORECAST_START, 1)],
    )
    template = schedule_services.shift_template_create(
        actor=None, provider=provider, name=f"{name} 8 h", length_minutes=480
    )
    planning_rule = schedule_services.site_planning_rule_set(
        actor=None,
        site=site,
        opening_hours=[["00:00", "24:00"]] * 7,
        max_days_per_week=5,
        min_rest_hours=11,
    )
    agent_contract = schedule_services.agent_contract_set(
        actor=None, worker=worker, hours_per_week=40
    )
    time_off = schedule_services.time_off_request(
        actor=None,
        worker=worker,
        start=FORECAST_START,
        end=FORECAST_START + timedelta(days=1),
        reason=f"{name} holiday",
    )
    scenario = twin_services.scenario_create(
        actor=None, provider=provider, name=f"{name} what-if", days=1, replications=1
    )
    # Queued, not run: the walks read it; test_services runs scenarios.
    run = ScenarioRun.objects.create(
        provider=provider, scenario=scenario, seed=1, replications=1, enqueued_at=timezone.now()
    )
    offered = make_item(process, reference=f"{slug}-2", subject=f"{name} invoice copy")
    offer = Offer.objects.create(
        client=client,
        provider=provider,
        item=offered,
        worker=worker,
        offered_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    return Side(
        organisation=client,
        refs=Refs(
            org_id=client.pk,
            engagement_id=engagement.pk,
            calendar_id=policy.calendar_id,
            policy_id=policy.pk,
            card_id=card.pk,
            process_id=process.pk,
            document_id=document.pk,
            site_id=site.pk,
            user_id=admin.pk,
            key_id=key.pk,
            item_id=item.pk,
            queue_id=item.queue_id,
            endpoint_id=endpoint.pk,
            delivery_id=delivery.pk,
            attachment_id=attachment.pk,
            mailbox_id=mailbox.pk,
            worker_id=worker.pk,
            offer_id=offer.pk,
            notification_id=notification.pk,
            rule_id=rule.pk,
            process_slug=process.slug,
            client_slug=client.slug,
            new_worker_user_id=trainee.pk,
            policy_slug=policy.slug,
            forecast_id=forecast.pk,
            adjustment_id=adjustment.pk,
            target_id=staffing_target.pk,
            schedule_id=schedule.pk,
            time_off_id=time_off.pk,
            template_id=template.pk,
            scenario_id=scenario.pk,
            run_id=run.pk,
            planning_rule_id=planning_rule.pk,
            agent_contract_id=agent_contract.pk,
        ),
        admin_key=secret,
        markers=(slug,),
    )


def make_world() -> World:
    northwind = make_provider("Northwind Services", slug="northwind")
    northwind_site = make_site(northwind, name="Northwind Manila", slug="northwind-manila")
    northwind_admin = make_user(northwind, "admin", username="northwind-admin")
    initech = make_provider(
        "Initech Outsourcing", slug="initech", country="MX", timezone="America/Monterrey"
    )
    initech_site = make_site(
        initech,
        name="Initech Monterrey",
        slug="initech-monterrey",
        country="MX",
        timezone="America/Monterrey",
    )
    initech_admin = make_user(initech, "admin", username="initech-admin")
    make_agent(initech, username="initech-agent", site=initech_site)
    return World(
        northwind=northwind,
        northwind_key=make_api_key(northwind, user=northwind_admin)[1],
        northwind_site=northwind_site,
        acme=make_client_side(northwind, "Acme", site=northwind_site),
        globex=make_client_side(northwind, "Globex", site=northwind_site),
        initech=initech,
        initech_key=make_api_key(initech, user=initech_admin)[1],
        initech_site=initech_site,
    )


@dataclass(frozen=True)
class Writers:
    """A provider and one client of it, with a read+write admin key each."""

    provider_key: str
    client: Side


def make_writers() -> Writers:
    provider = make_provider("Northwind Services", slug="northwind")
    site = make_site(provider, name="Northwind Manila", slug="northwind-manila")
    admin = make_user(provider, "admin", username="northwind-admin")
    return Writers(
        provider_key=make_api_key(provider, user=admin)[1],
        client=make_client_side(provider, "Acme", site=site),
    )
