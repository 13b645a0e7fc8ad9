"""Maps domain outcomes to the public inventory events and their outbox rows."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid5

from inventory.application.messages import OutgoingMessage
from inventory.domain import outcomes
from inventory.domain.stock import StockSnapshot
from service_kit.messaging import envelope_headers
from ticketing_contracts import events as public
from ticketing_contracts.envelope import EventEnvelope

# Outcome ids are derived from the causing message, so a re-run after a crash
# produces the same ids and downstream consumers deduplicate them.
OUTCOME_ID_NAMESPACE = UUID("0b6f4d0e-3c55-4b8e-9a57-6f1f2b7a1c40")


def outcome_message_id(cause: EventEnvelope, event: public.PublicEvent) -> UUID:
    return uuid5(OUTCOME_ID_NAMESPACE, f"{cause.event_id}:{event.TYPE}:{event.subject()}")


def stock_level(snapshot: StockSnapshot) -> public.StockLevel:
    return public.StockLevel(
        quantity=snapshot.quantity,
        reserved=snapshot.reserved,
        sold=snapshot.sold,
        available=snapshot.available,
    )


def public_event(outcome: outcomes.Outcome) -> public.PublicEvent:
    if isinstance(outcome, outcomes.StockInitialised):
        return public.StockInitialised(
            event_id=outcome.event_id,
            ticket_type_id=outcome.stock.ticket_type_id,
            stock=stock_level(outcome.stock),
            stock_version=outcome.stock.version,
        )
    line = outcome.booking
    stock = outcome.stock
    common: dict[str, object] = {
        "booking_id": line.booking_id,
        "event_id": line.event_id,
        "ticket_type_id": line.ticket_type_id,
        "quantity": line.quantity,
        "stock": stock_level(stock) if stock is not None else None,
        "stock_version": stock.version if stock is not None else 0,
    }
    match outcome:
        case outcomes.TicketsReserved():
            return public.TicketsReserved.model_validate(common)
        case outcomes.ReservationRejected(reason=reason):
            return public.ReservationRejected.model_validate({**common, "reason": reason})
        case outcomes.TicketsSold():
            return public.TicketsSold.model_validate(common)
        case outcomes.TicketsReleased(reason=release_reason):
            return public.TicketsReleased.model_validate({**common, "reason": release_reason})
    raise TypeError(f"no public event for {outcome!r}")


def outbox_message(
    outcome: outcomes.Outcome,
    *,
    cause: EventEnvelope,
    topic: str,
    producer: str,
    trace_headers: Sequence[tuple[str, bytes]] = (),
) -> OutgoingMessage:
    event = public_event(outcome)
    envelope = event.to_envelope(
        correlation_id=cause.correlation_id,
        causation_id=str(cause.event_id),
        producer=producer,
        event_id=outcome_message_id(cause, event),
    )
    return _outgoing(event, envelope, topic, trace_headers)


def decision_message(
    outcome: outcomes.Outcome, *, decision: str, correlation_id: str, topic: str, producer: str
) -> OutgoingMessage:
    """The outbox row of an outcome no consumed message caused (a hold asked for over
    HTTP, an unclaimed hold released): its id derives from `decision` and the booking, so
    a decision stored twice would still be published once."""
    event = public_event(outcome)
    envelope = event.to_envelope(
        correlation_id=correlation_id,
        producer=producer,
        event_id=uuid5(OUTCOME_ID_NAMESPACE, f"{decision}:{event.TYPE}:{event.subject()}"),
    )
    return _outgoing(event, envelope, topic, ())


def _outgoing(
    event: public.PublicEvent,
    envelope: EventEnvelope,
    topic: str,
    trace_headers: Sequence[tuple[str, bytes]],
) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=envelope.event_id,
        topic=topic,
        key=event.partition_key().encode(),
        value=public.encode_envelope(envelope),
        headers=[*envelope_headers(envelope), *trace_headers],
    )
