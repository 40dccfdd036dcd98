"""Registers the contract models with the visibility rules, and engagements as partners."""

from django.db.models import Q, QuerySet

from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
    SlaRecompute,
    SlaTarget,
    SopVersion,
)
from offload.tenancy import visibility
from offload.tenancy.models import Organisation

for model in (
    Engagement,
    ContractDocument,
    BusinessCalendar,
    SlaPolicy,
    SlaTarget,
    SlaRecompute,
    RateCard,
    Process,
    SopVersion,
):
    visibility.register(model, visibility.tenant_rule())


def engagement_partners(organisation: Organisation) -> QuerySet[Organisation]:
    return Organisation.objects.filter(
        Q(pk__in=Engagement.objects.filter(provider=organisation).values("client"))
        | Q(pk__in=Engagement.objects.filter(client=organisation).values("provider"))
    )


visibility.register_partners(engagement_partners)
