"""Business time: pure calendar arithmetic with no Django (the SLA engine's core)."""
