"""Contract facts as booking-command publishes them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingExpired,
    BookingRequested,
    CancellationReason,
    EventCreated,
    PaymentRefunded,
    PublicEvent,
    TicketType,
)
from ticketing_contracts.events.inventory import OfferEnd, WaitlistOfferEnded, WaitlistOfferMade

STARTS_AT = datetime(2030, 6, 1, 19, 30, tzinfo=UTC)


def envelope_of(fact: PublicEvent) -> EventEnvelope:
    return fact.to_envelope(correlation_id="test", producer="booking-command")


class Booking:
    """One fan's booking of one event, and the facts about it."""

    def __init__(
        self,
        *,
        event_id: UUID | None = None,
        event_name: str = "Jazz Night",
        customer_name: str = "Ada Lovelace",
        customer_email: str = "ada@example.test",
        quantity: int = 2,
    ) -> None:
        self.event_id = event_id or uuid4()
        self.event_name = event_name
        self.ticket_type_id = uuid4()
        self.booking_id = uuid4()
        self.customer_name = customer_name
        self.customer_email = customer_email
        self.quantity = quantity
        self.total = Decimal("45.00") * quantity

    def event_created(self) -> EventCreated:
        return EventCreated(
            event_id=self.event_id,
            venue_id=uuid4(),
            name=self.event_name,
            starts_at=STARTS_AT,
            ticket_types=(
                TicketType(
                    ticket_type_id=self.ticket_type_id,
                    name="Standing",
                    price=Decimal("45.00"),
                    currency="EUR",
                    quantity=100,
                ),
            ),
        )

    def _ids(self) -> dict[str, object]:
        return {
            "booking_id": self.booking_id,
            "event_id": self.event_id,
            "ticket_type_id": self.ticket_type_id,
            "quantity": self.quantity,
        }

    def requested(self) -> BookingRequested:
        return BookingRequested(
            **self._ids(),
            owner_id="fan-1",
            customer_name=self.customer_name,
            customer_email=self.customer_email,
            unit_price=Decimal("45.00"),
            total_price=self.total,
            currency="EUR",
            hold_expires_at=STARTS_AT,
        )

    def confirmed(self) -> BookingConfirmed:
        return BookingConfirmed(
            **self._ids(),
            owner_id="fan-1",
            customer_name=self.customer_name,
            customer_email=self.customer_email,
            total_price=self.total,
            currency="EUR",
            provider_reference="pi_123",
        )

    def expired(self) -> BookingExpired:
        return BookingExpired(**self._ids())

    def cancelled(self, reason: CancellationReason | None = None) -> BookingCancelled:
        return BookingCancelled(**self._ids(), cancelled_by="fan-1", reason=reason)

    def refunded(self) -> PaymentRefunded:
        return PaymentRefunded(
            **self._ids(),
            amount=self.total,
            currency="EUR",
            provider_reference="pi_123",
            refund_reference="re_123",
            reason="booking_cancelled",
        )


class Offer:
    """A waitlist offer of a booking's event and ticket type to a fan, and its facts."""

    def __init__(
        self,
        booking: Booking,
        *,
        customer_name: str = "Grace Hopper",
        customer_email: str = "grace@example.test",
        quantity: int = 2,
        expires_at: datetime = datetime(2030, 1, 1, 12, 15, tzinfo=UTC),
    ) -> None:
        self.offer_id = uuid4()
        self._ids: dict[str, object] = {
            "event_id": booking.event_id,
            "ticket_type_id": booking.ticket_type_id,
            "entry_id": uuid4(),
            "offer_id": self.offer_id,
            "owner_id": "fan-2",
            "quantity": quantity,
        }
        self.customer_name = customer_name
        self.customer_email = customer_email
        self.expires_at = expires_at

    def made(self) -> WaitlistOfferMade:
        return WaitlistOfferMade(
            **self._ids,
            customer_name=self.customer_name,
            customer_email=self.customer_email,
            expires_at=self.expires_at,
        )

    def ended(self, outcome: OfferEnd) -> WaitlistOfferEnded:
        return WaitlistOfferEnded(**self._ids, outcome=outcome)
