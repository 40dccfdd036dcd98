"""Registers the worker models: a provider's own, never seen by its clients.

A client sees who works its items only as an item's assignee id; the roster, the
skills, the capacities and the presence log stay with the provider.
"""

from offload.tenancy import visibility
from offload.workers.models import PresenceChange, Worker, WorkerChannel

visibility.register(Worker, visibility.owner_rule("provider"))
visibility.register(WorkerChannel, visibility.owner_rule("worker__provider"))
visibility.register(PresenceChange, visibility.owner_rule("provider"))
