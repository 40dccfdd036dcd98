"""Business time: pure calendar arithmetic with no Django (the SLA engine's core)."""

from offload.sla.business_time import BusinessCalendar

__all__ = ["BusinessCalendar"]
