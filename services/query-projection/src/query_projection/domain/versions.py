"""Version guards: an old or repeated message never moves a read model backwards.

The Redis scripts in `adapters.redis_read_models` mirror these rules.
"""

from __future__ import annotations

from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import BookingStatus, ContractViolation

# Used only when a booking event arrives without an aggregate version.
BOOKING_STATUS_RANK: dict[BookingStatus, int] = {
    BookingStatus.PENDING: 1,
    BookingStatus.CONFIRMED: 2,
    BookingStatus.REJECTED: 2,
    BookingStatus.EXPIRED: 2,
    BookingStatus.CANCELLED: 3,
}


class UnversionedEvent(ContractViolation):
    """A catalog event without an aggregate version cannot be ordered; it is dead-lettered."""


def is_newer(stored_version: int | None, incoming_version: int) -> bool:
    return stored_version is None or incoming_version > stored_version


def stock_replaces(
    stored_version: int | None,
    stored_provisional: bool,
    incoming_version: int,
    incoming_provisional: bool,
) -> bool:
    """Whether an incoming stock level replaces the stored one.

    A provisional (catalog-seeded) level only fills a gap; inventory's own level
    replaces a provisional one of the same version and any older one.
    """
    if stored_version is None:
        return True
    if incoming_provisional:
        return False
    if stored_provisional:
        return incoming_version >= stored_version
    return incoming_version > stored_version


def catalog_version(envelope: EventEnvelope) -> int:
    if envelope.aggregate_version is None:
        raise UnversionedEvent(f"{envelope.type} {envelope.event_id} has no aggregate_version")
    return envelope.aggregate_version


def booking_version(envelope: EventEnvelope, status: BookingStatus) -> int:
    if envelope.aggregate_version is not None:
        return envelope.aggregate_version
    return BOOKING_STATUS_RANK[status]
