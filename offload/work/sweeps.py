"""Importing the services module registers the work app's sweeps (`work.system_retry`)."""

from offload.work import services  # noqa: F401
