"""Errors raised when a local dependency cannot be reached or started."""

from __future__ import annotations


class InfrastructureUnavailable(RuntimeError):
    """A server the stack needs (PostgreSQL, Redis, the broker) is not usable."""


class ServiceStartError(RuntimeError):
    """A service process died or did not become ready in time."""
