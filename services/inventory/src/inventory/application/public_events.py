"""Maps what a transaction decided to the public inventory facts and their outbox rows.

A transaction publishes one `inventory.stock_changed` per ticket type whose stock it
changed, and an `inventory.reservation_rejected` for each booking it decided from the
booking's fact and refused. A fact's id names what was decided and when: the outbox row
keeps it, so a republished row is a duplicate downstream, while a database restored from
a backup that decides the same stock version again (later) publishes a new fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid5

from inventory.application.messages import OutgoingMessage
from inventory.domain import outcomes
from inventory.domain.stock import StockSnapshot
from inventory.domain.waitlist import OfferEnded, OfferFact, OfferMade
from service_kit.messaging import envelope_headers
from ticketing_contracts import events as public
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events.inventory import WaitlistOfferEnded, WaitlistOfferMade

OUTCOME_ID_NAMESPACE = UUID("0b6f4d0e-3c55-4b8e-9a57-6f1f2b7a1c40")


def stock_level(snapshot: StockSnapshot) -> public.StockLevel:
    """`available` is what general sale may hold: offered tickets are not, nor free ones
    while the waitlist has open entries (they go to it first)."""
    return public.StockLevel(
        quantity=snapshot.quantity,
        reserved=snapshot.reserved,
        sold=snapshot.sold,
        available=snapshot.available,
    )


def stock_changed(change: outcomes.StockChanged) -> public.StockChanged:
    return public.StockChanged(
        event_id=change.event_id,
        ticket_type_id=change.stock.ticket_type_id,
        stock=stock_level(change.stock),
        stock_version=change.stock.version,
    )


def decided_now() -> datetime:
    return datetime.now(UTC)


def stock_fact_id(fact: public.StockChanged, decided_at: datetime) -> UUID:
    """A ticket type reaches each stock version in exactly one committed transaction
    (every change bumps it, under the show's version check), so the version and the time it
    was decided name it, also across a restore of the database that repeats the version."""
    return uuid5(
        OUTCOME_ID_NAMESPACE,
        f"{fact.TYPE}:{fact.event_id}:{fact.ticket_type_id}:{fact.stock_version}:"
        f"{decided_at.astimezone(UTC).isoformat()}",
    )


def stock_message(
    change: outcomes.StockChanged,
    *,
    correlation_id: str,
    topic: str,
    producer: str,
    causation_id: str | None = None,
    trace_headers: Sequence[tuple[str, bytes]] = (),
    decided_at: datetime | None = None,
) -> OutgoingMessage:
    fact = stock_changed(change)
    decided_at = decided_at or decided_now()
    envelope = fact.to_envelope(
        correlation_id=correlation_id,
        causation_id=causation_id,
        producer=producer,
        event_id=stock_fact_id(fact, decided_at),
        occurred_at=decided_at,
    )
    return _outgoing(fact, envelope, topic, trace_headers)


def offer_fact(decided: OfferFact) -> WaitlistOfferMade | WaitlistOfferEnded:
    entry = decided.entry
    common = {
        "event_id": entry.event_id,
        "ticket_type_id": entry.ticket_type_id,
        "entry_id": entry.entry_id,
        "offer_id": decided.offer_id,
        "owner_id": entry.owner_id,
        "quantity": entry.quantity,
    }
    if isinstance(decided, OfferMade):
        return WaitlistOfferMade(
            **common,
            customer_name=entry.customer_name,
            customer_email=entry.customer_email,
            expires_at=decided.expires_at,
        )
    assert isinstance(decided, OfferEnded)
    return WaitlistOfferEnded(**common, outcome=decided.outcome)


def offer_message(
    decided: OfferFact,
    *,
    correlation_id: str,
    topic: str,
    producer: str,
    decided_at: datetime,
) -> OutgoingMessage:
    """An offer is made once and ends once, so its id and the fact's type name the fact."""
    fact = offer_fact(decided)
    envelope = fact.to_envelope(
        correlation_id=correlation_id,
        producer=producer,
        event_id=uuid5(
            OUTCOME_ID_NAMESPACE,
            f"{fact.TYPE}:{fact.offer_id}:{decided_at.astimezone(UTC).isoformat()}",
        ),
        occurred_at=decided_at,
    )
    return _outgoing(fact, envelope, topic, ())


def reservation_rejected(outcome: outcomes.ReservationRejected) -> public.ReservationRejected:
    line, stock = outcome.booking, outcome.stock
    return public.ReservationRejected(
        booking_id=line.booking_id,
        event_id=line.event_id,
        ticket_type_id=line.ticket_type_id,
        quantity=line.quantity,
        stock=stock_level(stock) if stock is not None else None,
        stock_version=stock.version if stock is not None else 0,
        reason=outcome.reason,
    )


def rejection_message(
    outcome: outcomes.ReservationRejected,
    *,
    cause: EventEnvelope,
    topic: str,
    producer: str,
    trace_headers: Sequence[tuple[str, bytes]] = (),
    decided_at: datetime | None = None,
) -> OutgoingMessage:
    """The refusal of a booking decided from its fact: its id derives from that fact and
    from when it was decided."""
    fact = reservation_rejected(outcome)
    decided_at = decided_at or decided_now()
    decided = decided_at.astimezone(UTC).isoformat()
    envelope = fact.to_envelope(
        correlation_id=cause.correlation_id,
        causation_id=str(cause.event_id),
        producer=producer,
        event_id=uuid5(
            OUTCOME_ID_NAMESPACE, f"{cause.event_id}:{fact.TYPE}:{fact.subject()}:{decided}"
        ),
        occurred_at=decided_at,
    )
    return _outgoing(fact, envelope, topic, trace_headers)


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
