"""Inventory's stock facts: the one it publishes now, and the older ones an old log holds."""

import json
from typing import Any
from uuid import UUID, uuid4

import pytest

from ticketing_contracts.events import (
    ContractViolation,
    ReleaseReason,
    ReservationRejected,
    StockChanged,
    StockInitialised,
    StockLevel,
    TicketsReleased,
    TicketsReserved,
    TicketsSold,
    decode_message,
    encode_envelope,
)
from ticketing_contracts.topics import INVENTORY_EVENTS

EVENT_ID = UUID("6f1d2c52-4f0e-4a49-9d0c-3b8f1f3c0a01")
TICKET_TYPE_ID = UUID("0c6b8d4e-2a7f-4c1b-8e5d-9a3f2b1c0d02")
BOOKING_ID = UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03")
STOCK = {"quantity": 100, "reserved": 20, "sold": 30, "available": 50}


def _stock_changed() -> StockChanged:
    return StockChanged(
        event_id=EVENT_ID,
        ticket_type_id=TICKET_TYPE_ID,
        stock=StockLevel(**STOCK),
        stock_version=42,
    )


def test_a_stock_change_round_trips_through_its_kafka_message() -> None:
    fact = _stock_changed()
    envelope = fact.to_envelope(correlation_id="req-1", producer="inventory")
    decoded_envelope, decoded = decode_message(encode_envelope(envelope))
    assert decoded == fact
    assert (decoded_envelope.type, decoded_envelope.version) == ("inventory.stock_changed", 1)
    assert envelope.data == {
        "event_id": str(EVENT_ID),
        "ticket_type_id": str(TICKET_TYPE_ID),
        "stock": STOCK,
        "stock_version": 42,
    }


def test_a_stock_change_is_keyed_by_the_event_and_about_its_ticket_type() -> None:
    fact = _stock_changed()
    assert fact.TOPIC == INVENTORY_EVENTS
    assert fact.partition_key() == str(EVENT_ID)
    assert fact.subject() == str(TICKET_TYPE_ID)


def test_a_stock_change_needs_the_stock_and_its_version() -> None:
    envelope = _stock_changed().to_envelope(correlation_id="c", producer="inventory")
    raw = json.loads(encode_envelope(envelope))
    del raw["data"]["stock_version"]
    with pytest.raises(ContractViolation, match=r"data\.stock_version"):
        decode_message(json.dumps(raw))
    raw = json.loads(encode_envelope(envelope))
    raw["data"]["stock"] = None
    with pytest.raises(ContractViolation, match=r"data\.stock"):
        decode_message(json.dumps(raw))


def _published_before(fact_type: str, data: dict[str, Any]) -> str:
    """A record as inventory published it before `inventory.stock_changed` existed."""
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "type": fact_type,
            "version": 1,
            "occurred_at": "2026-11-30T12:00:00+00:00",
            "correlation_id": "req-1",
            "causation_id": str(uuid4()),
            "producer": "inventory",
            "subject": str(BOOKING_ID),
            "data": data,
        }
    )


BOOKING_FIELDS = {
    "booking_id": str(BOOKING_ID),
    "event_id": str(EVENT_ID),
    "ticket_type_id": str(TICKET_TYPE_ID),
    "quantity": 2,
    "stock": STOCK,
    "stock_version": 7,
}


@pytest.mark.parametrize(
    ("fact_type", "extra", "fact_class"),
    [
        ("inventory.tickets_reserved", {}, TicketsReserved),
        ("inventory.tickets_sold", {}, TicketsSold),
        ("inventory.tickets_released", {"reason": "expired"}, TicketsReleased),
        ("inventory.reservation_rejected", {"reason": "sold_out"}, ReservationRejected),
    ],
)
def test_the_per_booking_facts_of_an_old_log_still_decode(
    fact_type: str, extra: dict[str, str], fact_class: type[TicketsReserved]
) -> None:
    _, decoded = decode_message(_published_before(fact_type, {**BOOKING_FIELDS, **extra}))
    assert isinstance(decoded, fact_class)
    assert (decoded.booking_id, decoded.ticket_type_id) == (BOOKING_ID, TICKET_TYPE_ID)
    assert (decoded.stock, decoded.stock_version) == (StockLevel(**STOCK), 7)


def test_an_old_released_fact_keeps_its_reason() -> None:
    _, decoded = decode_message(
        _published_before("inventory.tickets_released", {**BOOKING_FIELDS, "reason": "cancelled"})
    )
    assert isinstance(decoded, TicketsReleased)
    assert decoded.reason is ReleaseReason.CANCELLED


def test_an_old_stock_initialised_fact_still_decodes() -> None:
    _, decoded = decode_message(
        _published_before(
            "inventory.stock_initialised",
            {
                "event_id": str(EVENT_ID),
                "ticket_type_id": str(TICKET_TYPE_ID),
                "stock": {"quantity": 100, "reserved": 0, "sold": 0, "available": 100},
                "stock_version": 0,
            },
        )
    )
    assert isinstance(decoded, StockInitialised)
    assert (decoded.ticket_type_id, decoded.stock.available) == (TICKET_TYPE_ID, 100)
