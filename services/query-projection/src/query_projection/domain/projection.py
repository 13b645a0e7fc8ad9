"""How each public event changes the read-model rows: pure rules, no I/O.

A batch loads the rows its messages touch into a `ProjectionBatch`, folds every
message into it, and the adapters write back the touched rows. Every rule is
idempotent: applying a message twice, or an older message after a newer one,
leaves the rows as they were.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from query_projection.domain.read_models import (
    Booking,
    Show,
    Stock,
    StockKey,
    TicketTypeRow,
    Venue,
)
from query_projection.domain.versions import (
    booking_version,
    catalog_version,
    is_newer,
    stock_replaces,
)
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingExpired,
    BookingRejected,
    BookingRequested,
    BookingStatus,
    EventCancelled,
    EventCreated,
    EventDetailsChanged,
    EventPublished,
    EventRescheduled,
    EventSaleChanged,
    PaymentCaptured,
    PaymentRefunded,
    PaymentStatus,
    PublicEvent,
    RejectionReason,
    ReservationRejected,
    StockChanged,
    StockInitialised,
    StockLevel,
    TicketsReleased,
    TicketsReserved,
    TicketsSold,
    TicketType,
    TicketTypeAdded,
    TicketTypeSaleChanged,
    VenueCreated,
    VenueDeleted,
    VenueUpdated,
)
from ticketing_contracts.events.catalog import TicketTypeChanged, TicketTypeRemoved

VenueEvent = VenueCreated | VenueUpdated | VenueDeleted
ShowEvent = (
    EventCreated
    | EventDetailsChanged
    | TicketTypeAdded
    | EventSaleChanged
    | TicketTypeSaleChanged
    | TicketTypeChanged
    | TicketTypeRemoved
    | EventPublished
    | EventRescheduled
    | EventCancelled
)
BookingEvent = (
    BookingRequested
    | BookingConfirmed
    | BookingRejected
    | BookingCancelled
    | BookingExpired
    | PaymentCaptured
    | PaymentRefunded
)
# What inventory publishes today (`StockChanged`, one per ticket type and transaction)
# and what it published before, per booking, which an old log still holds.
StockFact = (
    StockChanged
    | StockInitialised
    | TicketsReserved
    | ReservationRejected
    | TicketsSold
    | TicketsReleased
)

BOOKING_STATUS_BY_EVENT: dict[type[PublicEvent], BookingStatus] = {
    BookingRequested: BookingStatus.PENDING,
    BookingConfirmed: BookingStatus.CONFIRMED,
    BookingRejected: BookingStatus.REJECTED,
    BookingCancelled: BookingStatus.CANCELLED,
    BookingExpired: BookingStatus.EXPIRED,
}


@dataclass(frozen=True)
class RowKeys:
    """The rows a set of messages may change; a batch loads exactly these."""

    venue_ids: frozenset[UUID] = frozenset()
    event_ids: frozenset[UUID] = frozenset()
    booking_ids: frozenset[UUID] = frozenset()
    stock_keys: frozenset[StockKey] = frozenset()


def rows_touched_by(events: Iterable[PublicEvent]) -> RowKeys:
    venue_ids: set[UUID] = set()
    event_ids: set[UUID] = set()
    booking_ids: set[UUID] = set()
    stock_keys: set[StockKey] = set()
    for event in events:
        if isinstance(event, VenueCreated | VenueUpdated | VenueDeleted):
            venue_ids.add(event.venue_id)
        elif isinstance(event, EventCreated):
            event_ids.add(event.event_id)
            stock_keys.update((event.event_id, t.ticket_type_id) for t in event.ticket_types)
        elif isinstance(event, TicketTypeAdded):
            event_ids.add(event.event_id)
            stock_keys.add((event.event_id, event.ticket_type.ticket_type_id))
        elif isinstance(
            event,
            EventDetailsChanged
            | EventSaleChanged
            | TicketTypeSaleChanged
            | TicketTypeChanged
            | TicketTypeRemoved
            | EventPublished
            | EventRescheduled
            | EventCancelled,
        ):
            event_ids.add(event.event_id)
        elif isinstance(event, BookingEvent):
            booking_ids.add(event.booking_id)
        elif isinstance(event, StockFact):
            stock_keys.add((event.event_id, event.ticket_type_id))
    return RowKeys(
        frozenset(venue_ids), frozenset(event_ids), frozenset(booking_ids), frozenset(stock_keys)
    )


# --- venues -------------------------------------------------------------------------


def project_venue(row: Venue | None, envelope: EventEnvelope, event: VenueEvent) -> Venue | None:
    version = catalog_version(envelope)
    if not is_newer(row.version if row else None, version):
        return row
    if isinstance(event, VenueDeleted):
        if row is None:
            return None
        return dataclasses.replace(
            row, deleted=True, version=version, updated_at=envelope.occurred_at
        )
    return Venue(
        venue_id=event.venue_id,
        name=event.name,
        capacity=event.capacity,
        address=event.address,
        deleted=False,
        version=version,
        updated_at=envelope.occurred_at,
    )


# --- shows --------------------------------------------------------------------------


def _ticket_type_row(ticket_type: TicketType, sort_order: int) -> TicketTypeRow:
    return TicketTypeRow(
        ticket_type_id=ticket_type.ticket_type_id,
        name=ticket_type.name,
        price=ticket_type.price,
        currency=ticket_type.currency,
        quantity=ticket_type.quantity,
        sort_order=sort_order,
        sale_starts_at=ticket_type.sale_starts_at,
        sale_ends_at=ticket_type.sale_ends_at,
        max_tickets_per_account=ticket_type.max_tickets_per_account,
    )


def project_show(row: Show | None, envelope: EventEnvelope, event: ShowEvent) -> Show | None:
    version = catalog_version(envelope)
    if isinstance(event, EventCreated):
        if row is not None:
            return row
        return Show(
            event_id=event.event_id,
            venue_id=event.venue_id,
            name=event.name,
            description=event.description,
            starts_at=event.starts_at,
            status="draft",
            ticket_types=tuple(_ticket_type_row(t, i) for i, t in enumerate(event.ticket_types)),
            version=version,
            created_at=envelope.occurred_at,
            updated_at=envelope.occurred_at,
            sale_starts_at=event.sale_starts_at,
            sale_ends_at=event.sale_ends_at,
            max_tickets_per_account=event.max_tickets_per_account,
        )
    if row is None:
        # Messages of one show share a partition, in order: nothing to attach this to.
        return None
    if isinstance(event, TicketTypeAdded):
        # Adding is keyed by the ticket type id, so it is applied even when a newer
        # change of the show's fields was seen first.
        known = {t.ticket_type_id for t in row.ticket_types}
        if event.ticket_type.ticket_type_id not in known:
            added = _ticket_type_row(event.ticket_type, len(row.ticket_types))
            row = dataclasses.replace(row, ticket_types=(*row.ticket_types, added))
        if not is_newer(row.version, version):
            return row
        return dataclasses.replace(row, version=version, updated_at=envelope.occurred_at)
    if isinstance(event, TicketTypeRemoved):
        # Removal is final, so it is applied whatever its order, like an addition.
        row = dataclasses.replace(
            row,
            ticket_types=tuple(
                dataclasses.replace(t, removed=True)
                if t.ticket_type_id == event.ticket_type_id
                else t
                for t in row.ticket_types
            ),
        )
        if not is_newer(row.version, version):
            return row
        return dataclasses.replace(row, version=version, updated_at=envelope.occurred_at)
    if not is_newer(row.version, version):
        return row
    changed = dataclasses.replace(row, version=version, updated_at=envelope.occurred_at)
    if isinstance(event, EventDetailsChanged):
        return dataclasses.replace(changed, name=event.name, description=event.description)
    if isinstance(event, EventPublished):
        return dataclasses.replace(changed, status="published")
    if isinstance(event, EventRescheduled):
        return dataclasses.replace(changed, starts_at=event.starts_at)
    if isinstance(event, EventSaleChanged):
        return dataclasses.replace(
            changed,
            **_sale_terms(event),
            hold_minutes=event.hold_minutes,
            waitlist_offer_minutes=event.waitlist_offer_minutes,
        )
    if isinstance(event, TicketTypeChanged):
        ticket_types = tuple(
            dataclasses.replace(
                t,
                name=event.name,
                price=event.price,
                currency=event.currency,
                quantity=event.quantity,
                sales_closed=event.sales_closed,
            )
            if t.ticket_type_id == event.ticket_type_id
            else t
            for t in changed.ticket_types
        )
        return dataclasses.replace(changed, ticket_types=ticket_types)
    if isinstance(event, TicketTypeSaleChanged):
        ticket_types = tuple(
            dataclasses.replace(t, **_sale_terms(event))
            if t.ticket_type_id == event.ticket_type_id
            else t
            for t in changed.ticket_types
        )
        return dataclasses.replace(changed, ticket_types=ticket_types)
    return dataclasses.replace(changed, status="cancelled")


def _sale_terms(event: EventSaleChanged | TicketTypeSaleChanged) -> dict[str, Any]:
    return {
        "sale_starts_at": event.sale_starts_at,
        "sale_ends_at": event.sale_ends_at,
        "max_tickets_per_account": event.max_tickets_per_account,
    }


# --- bookings -----------------------------------------------------------------------


def _payment_after(
    payment_status: str | None, event: BookingEvent
) -> tuple[str | None, str | None]:
    """The payment status and reference once `event` is the booking's newest event."""
    if isinstance(event, BookingRequested):
        return PaymentStatus.PENDING.value, None
    if isinstance(event, PaymentCaptured):
        return PaymentStatus.CAPTURED.value, event.provider_reference
    if isinstance(event, BookingConfirmed) and event.provider_reference is not None:
        # Since version 2 the capture that confirms a booking travels in its confirmation.
        return PaymentStatus.CAPTURED.value, event.provider_reference
    if isinstance(event, PaymentRefunded):
        return PaymentStatus.REFUNDED.value, event.provider_reference
    if isinstance(event, BookingRejected):
        declined = event.reason is RejectionReason.PAYMENT_DECLINED
        return (PaymentStatus.DECLINED.value if declined else None), None
    if isinstance(event, BookingExpired) and payment_status == PaymentStatus.PENDING:
        return None, None
    return payment_status, None


def _reason_of(event: BookingEvent) -> str | None:
    """Why the booking ended: a rejection's reason, or `event_cancelled` for a confirmed
    booking cancelled with its event (None when its owner or an admin cancelled it)."""
    if isinstance(event, BookingRejected):
        return event.reason.value
    if isinstance(event, BookingCancelled) and event.reason is not None:
        return event.reason.value
    return None


def project_booking(row: Booking | None, envelope: EventEnvelope, event: BookingEvent) -> Booking:
    # Payment events keep the status; their versions order them among the status changes.
    status = BOOKING_STATUS_BY_EVENT.get(type(event)) or (
        row.status if row is not None else BookingStatus.PENDING
    )
    version = booking_version(envelope, status)
    reason = _reason_of(event)
    payment_status, payment_reference = _payment_after(
        row.payment_status if row is not None else None, event
    )
    if row is None:
        created = Booking(
            booking_id=event.booking_id,
            event_id=event.event_id,
            ticket_type_id=event.ticket_type_id,
            quantity=event.quantity,
            status=status,
            version=version,
            owner_id=None,
            customer_name=None,
            customer_email=None,
            unit_price=None,
            total_price=None,
            currency=None,
            hold_expires_at=None,
            reason=reason,
            created_at=envelope.occurred_at,
            updated_at=envelope.occurred_at,
            payment_status=payment_status,
            payment_reference=payment_reference,
        )
        return _with_details(created, envelope, event)
    merged = _with_details(row, envelope, event)
    if not is_newer(row.version, version):
        return merged
    return dataclasses.replace(
        merged,
        status=status,
        version=version,
        reason=reason or merged.reason,
        updated_at=envelope.occurred_at,
        payment_status=payment_status,
        payment_reference=payment_reference or merged.payment_reference,
    )


def _with_details(row: Booking, envelope: EventEnvelope, event: BookingEvent) -> Booking:
    """Details never change once known, so they are merged whatever the order."""
    missing = {
        name: value for name, value in _details_of(event).items() if getattr(row, name) is None
    }
    created_at = min(row.created_at, envelope.occurred_at)
    if not missing and created_at == row.created_at:
        return row
    return dataclasses.replace(row, created_at=created_at, **missing)  # type: ignore[arg-type]


def _details_of(event: BookingEvent) -> dict[str, object]:
    if isinstance(event, BookingRequested):
        return {
            "owner_id": event.owner_id,
            "customer_name": event.customer_name,
            "customer_email": str(event.customer_email),
            "unit_price": event.unit_price,
            "total_price": event.total_price,
            "currency": event.currency,
            "hold_expires_at": event.hold_expires_at,
        }
    if isinstance(event, BookingConfirmed):
        return {
            "owner_id": event.owner_id,
            "customer_name": event.customer_name,
            "customer_email": str(event.customer_email),
            "total_price": event.total_price,
            "currency": event.currency,
        }
    return {}


# --- stock --------------------------------------------------------------------------


def project_stock(
    row: Stock | None,
    event_id: UUID,
    ticket_type_id: UUID,
    level: StockLevel,
    stock_version: int,
    *,
    provisional: bool = False,
) -> Stock:
    if row is not None and not stock_replaces(
        row.stock_version, row.provisional, stock_version, provisional
    ):
        return row
    return Stock(
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        quantity=level.quantity,
        reserved=level.reserved,
        sold=level.sold,
        available=level.available,
        stock_version=stock_version,
        provisional=provisional,
    )


def seeded_level(quantity: int) -> StockLevel:
    return StockLevel(quantity=quantity, reserved=0, sold=0, available=quantity)


# --- the batch ----------------------------------------------------------------------


@dataclass
class ProjectionBatch:
    """The rows one batch may change, loaded before and written back after the fold.

    A key present with `None` is a row known not to exist.
    """

    venues: dict[UUID, Venue | None] = field(default_factory=dict)
    shows: dict[UUID, Show | None] = field(default_factory=dict)
    bookings: dict[UUID, Booking | None] = field(default_factory=dict)
    stock: dict[StockKey, Stock | None] = field(default_factory=dict)
    touched_venues: set[UUID] = field(default_factory=set)
    touched_shows: set[UUID] = field(default_factory=set)
    touched_bookings: set[UUID] = field(default_factory=set)
    touched_stock: set[StockKey] = field(default_factory=set)

    def apply(self, envelope: EventEnvelope, event: PublicEvent) -> None:
        if isinstance(event, VenueCreated | VenueUpdated | VenueDeleted):
            self.venues[event.venue_id] = project_venue(
                self.venues.get(event.venue_id), envelope, event
            )
            self.touched_venues.add(event.venue_id)
        elif isinstance(event, ShowEvent):
            self._apply_show(envelope, event)
        elif isinstance(event, BookingEvent):
            self.bookings[event.booking_id] = project_booking(
                self.bookings.get(event.booking_id), envelope, event
            )
            self.touched_bookings.add(event.booking_id)
        elif isinstance(event, StockFact) and event.stock is not None:
            self._apply_stock(
                event.event_id,
                event.ticket_type_id,
                event.stock,
                event.stock_version,
                provisional=False,
            )

    def _apply_show(self, envelope: EventEnvelope, event: ShowEvent) -> None:
        self.shows[event.event_id] = project_show(self.shows.get(event.event_id), envelope, event)
        self.touched_shows.add(event.event_id)
        seeded = (
            event.ticket_types
            if isinstance(event, EventCreated)
            else (event.ticket_type,)
            if isinstance(event, TicketTypeAdded)
            else ()
        )
        for ticket_type in seeded:
            self._apply_stock(
                event.event_id,
                ticket_type.ticket_type_id,
                seeded_level(ticket_type.quantity),
                0,
                provisional=True,
            )

    def _apply_stock(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        level: StockLevel,
        stock_version: int,
        *,
        provisional: bool,
    ) -> None:
        key = (event_id, ticket_type_id)
        self.stock[key] = project_stock(
            self.stock.get(key),
            event_id,
            ticket_type_id,
            level,
            stock_version,
            provisional=provisional,
        )
        self.touched_stock.add(key)

    def events_with_changed_sales(self) -> set[UUID]:
        return {event_id for event_id, _ in self.touched_stock}
