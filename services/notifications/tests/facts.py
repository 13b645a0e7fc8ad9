"""Contract facts as booking-command publishes them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingRequested,
    CancellationReason,
    EventCreated,
    PaymentRefunded,
    PublicEvent,
    TicketType,
)

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
