"""Failures the use cases raise that are worth trying again."""

from __future__ import annotations


class ConcurrencyConflict(Exception):
    """Another writer changed the same rows first (a rebalance overlap); decide again."""


class PositionMoved(Exception):
    """The partition's stored position is not the one the batch was read from (a broker
    recovery reset it, another replica moved it): read the positions again, store nothing."""


class CatalogNotCaughtUp(Exception):
    """The catalog could not be read up to its end in time; decide later, do not reject."""
