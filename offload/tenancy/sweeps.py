"""Importing the services module registers tenancy's sweeps."""

from offload.tenancy import services  # noqa: F401
