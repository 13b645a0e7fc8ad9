"""Inventory's fact ids: one per decided fact, and another for the same stock version decided
again later, as a database restored from a backup does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from inventory.application.public_events import stock_message
from inventory.domain.outcomes import StockChanged
from inventory.domain.stock import StockSnapshot
from ticketing_contracts.events import decode_envelope

DECIDED_AT = datetime(2030, 1, 1, 12, tzinfo=UTC)


def _stock_changed(sold: int) -> StockChanged:
    return StockChanged(
        uuid4(), StockSnapshot(uuid4(), quantity=10, reserved=0, sold=sold, version=7)
    )


def _message_id(change: StockChanged, decided_at: datetime) -> object:
    return stock_message(
        change, correlation_id="c", topic="t", producer="inventory", decided_at=decided_at
    ).message_id


def test_a_decided_stock_fact_has_one_id() -> None:
    change = _stock_changed(sold=3)

    assert _message_id(change, DECIDED_AT) == _message_id(change, DECIDED_AT)


def test_the_same_stock_version_decided_again_later_gets_another_id() -> None:
    before_restore = _stock_changed(sold=3)
    after_restore = StockChanged(
        before_restore.event_id,
        StockSnapshot(before_restore.stock.ticket_type_id, 10, 0, 5, before_restore.stock.version),
    )

    assert _message_id(after_restore, DECIDED_AT + timedelta(minutes=5)) != _message_id(
        before_restore, DECIDED_AT
    )


def test_the_fact_says_when_it_was_decided() -> None:
    message = stock_message(
        _stock_changed(sold=1),
        correlation_id="c",
        topic="t",
        producer="inventory",
        decided_at=DECIDED_AT,
    )

    envelope = decode_envelope(message.value)
    assert (envelope.occurred_at, envelope.event_id) == (DECIDED_AT, message.message_id)
