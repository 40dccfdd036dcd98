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
from datetime import date, timedelta

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
from offload.work import attachments, escalations, mailboxes, webhooks
from offload.work.models import Offer, WebhookDelivery
from offload.work.tests.factories import make_item
from offload.workers.tests.factories import make_agent


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
