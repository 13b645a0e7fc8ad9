import json
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing_contracts.events import (
    BookingRequested,
    ContractViolation,
    StockInitialised,
    StockLevel,
    UndecodableMessage,
    decode_message,
    encode_envelope,
)

MAX_BIGINT = 2**63 - 1
SAFE_ID_ALPHABET = string.ascii_letters + string.digits + "._:@/-"


def _booking_requested(**overrides: Any) -> BookingRequested:
    fields: dict[str, Any] = {
        "booking_id": uuid4(),
        "event_id": uuid4(),
        "ticket_type_id": uuid4(),
        "quantity": 2,
        "owner_id": str(uuid4()),
        "customer_name": "Ada Lovelace",
        "customer_email": "ada@example.com",
        "unit_price": Decimal("10.50"),
        "total_price": Decimal("21.00"),
        "currency": "EUR",
        "hold_expires_at": datetime.now(UTC) + timedelta(minutes=5),
    }
    fields.update(overrides)
    return BookingRequested(**fields)


def _message(**envelope_overrides: Any) -> dict[str, Any]:
    envelope = _booking_requested().to_envelope(
        correlation_id="req-1", producer="booking-command", position=7, aggregate_version=1
    )
    raw: dict[str, Any] = json.loads(encode_envelope(envelope))
    raw.update(envelope_overrides)
    return raw


def _data_message(**data_overrides: Any) -> dict[str, Any]:
    raw = _message()
    raw["data"].update(data_overrides)
    return raw


def test_a_nul_byte_in_the_correlation_id_is_a_contract_violation() -> None:
    with pytest.raises(ContractViolation, match="correlation_id"):
        decode_message(json.dumps(_message(correlation_id="req\x00-1")))


def test_an_over_long_correlation_id_is_a_contract_violation() -> None:
    with pytest.raises(ContractViolation, match="correlation_id"):
        decode_message(json.dumps(_message(correlation_id="c" * 129)))


@pytest.mark.parametrize("field", ["position", "aggregate_version"])
def test_a_position_beyond_a_postgres_bigint_is_a_contract_violation(field: str) -> None:
    with pytest.raises(ContractViolation, match=field):
        decode_message(json.dumps(_message(**{field: 2**63})))


def test_a_naive_occurred_at_is_a_contract_violation() -> None:
    with pytest.raises(ContractViolation, match="occurred_at"):
        decode_message(json.dumps(_message(occurred_at="2026-11-26T12:00:00")))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("causation_id", "cmd 9"),
        ("producer", "p" * 65),
        ("type", "booking.requested\n"),
        ("subject", "s" * 129),
        ("version", 1001),
    ],
)
def test_every_envelope_field_is_bounded(field: str, value: object) -> None:
    with pytest.raises(ContractViolation, match=field):
        decode_message(json.dumps(_message(**{field: value})))


def test_a_control_character_in_a_customer_name_is_a_contract_violation() -> None:
    with pytest.raises(ContractViolation, match=r"data\.customer_name"):
        decode_message(json.dumps(_data_message(customer_name="Ada\x07 Lovelace")))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("owner_id", "user\x00-1"),
        ("owner_id", "u" * 129),
        ("customer_email", "ada\x00@example.com"),
        ("hold_expires_at", "2030-01-01T00:00:00"),
    ],
)
def test_booking_data_fields_are_bounded(field: str, value: str) -> None:
    with pytest.raises(ContractViolation, match=f"data\\.{field}"):
        decode_message(json.dumps(_data_message(**{field: value})))


def test_stock_counts_must_fit_a_postgres_integer() -> None:
    envelope = StockInitialised(
        event_id=uuid4(),
        ticket_type_id=uuid4(),
        stock=StockLevel(quantity=5, reserved=0, sold=0, available=5),
        stock_version=1,
    ).to_envelope(correlation_id="c", producer="inventory")
    raw = json.loads(encode_envelope(envelope))
    raw["data"]["stock"]["quantity"] = 2**31
    with pytest.raises(ContractViolation, match=r"data\.stock\.quantity"):
        decode_message(json.dumps(raw))


def test_the_violation_names_the_field_without_echoing_the_nul_byte() -> None:
    with pytest.raises(ContractViolation) as caught:
        decode_message(json.dumps(_data_message(booking_id="\x00")))
    assert "data.booking_id" in str(caught.value)
    assert "\x00" not in str(caught.value)


def test_a_body_that_is_not_an_object_stays_undecodable() -> None:
    with pytest.raises(UndecodableMessage):
        decode_message(b"[1, 2]")


@given(
    correlation_id=st.text(SAFE_ID_ALPHABET, min_size=1, max_size=128),
    position=st.integers(min_value=0, max_value=MAX_BIGINT),
    version=st.integers(min_value=0, max_value=MAX_BIGINT),
)
def test_messages_within_the_bounds_still_decode(
    correlation_id: str, position: int, version: int
) -> None:
    event = _booking_requested()
    envelope = event.to_envelope(
        correlation_id=correlation_id,
        causation_id=correlation_id,
        producer="booking-command",
        position=position,
        aggregate_version=version,
    )
    decoded_envelope, decoded = decode_message(encode_envelope(envelope))
    assert decoded == event
    assert decoded_envelope == envelope


@given(control=st.characters(max_codepoint=31) | st.just("\x7f"))
def test_customer_names_with_control_characters_never_decode(control: str) -> None:
    with pytest.raises(ContractViolation, match="customer_name"):
        decode_message(json.dumps(_data_message(customer_name=f"Ada{control}Lovelace")))
