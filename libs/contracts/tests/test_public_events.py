import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import ClassVar
from uuid import uuid4

import pytest
from pydantic import ValidationError

from ticketing_contracts.asyncapi import message_name, render
from ticketing_contracts.commands import CreateEvent, RequestBooking, TicketTypeSpec
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingRequested,
    CancellationReason,
    ContractViolation,
    EventCreated,
    PublicEvent,
    ReservationRejected,
    TicketType,
    UndecodableMessage,
    UnknownEventType,
    VenueCreated,
    decode_message,
    encode_envelope,
    registered_events,
)
from ticketing_contracts.events.base import register

ASYNCAPI_COPY = Path(__file__).parents[1] / "asyncapi.json"


def _booking_requested() -> BookingRequested:
    return BookingRequested(
        booking_id=uuid4(),
        event_id=uuid4(),
        ticket_type_id=uuid4(),
        quantity=2,
        owner_id="user-1",
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        unit_price=Decimal("10.50"),
        total_price=Decimal("21.00"),
        currency="EUR",
        hold_expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )


def test_an_event_round_trips_through_its_kafka_message() -> None:
    event = _booking_requested()
    envelope = event.to_envelope(correlation_id="req-1", producer="booking-command")
    decoded_envelope, decoded = decode_message(encode_envelope(envelope))
    assert decoded == event
    assert decoded_envelope.type == "booking.requested"
    assert decoded_envelope.subject == str(event.booking_id)


def test_show_events_are_keyed_by_the_show_and_venue_events_by_the_venue() -> None:
    booking = _booking_requested()
    assert booking.partition_key() == str(booking.event_id)
    venue = VenueCreated(venue_id=uuid4(), name="Hall", capacity=10, address="Main St 1")
    assert venue.partition_key() == str(venue.venue_id)


def test_money_is_published_as_an_exact_decimal_string() -> None:
    envelope = _booking_requested().to_envelope(correlation_id="c", producer="p")
    assert envelope.data["total_price"] == "21.00"


def test_undecodable_bytes_are_a_contract_error() -> None:
    with pytest.raises(UndecodableMessage):
        decode_message(b"\x00not json")


def test_an_unknown_schema_version_is_a_contract_error() -> None:
    envelope = _booking_requested().to_envelope(correlation_id="c", producer="p")
    raw = json.loads(encode_envelope(envelope))
    raw["version"] = 99
    with pytest.raises(UnknownEventType, match="version 99"):
        decode_message(json.dumps(raw))


def test_data_that_breaks_the_schema_is_a_contract_violation() -> None:
    envelope = _booking_requested().to_envelope(correlation_id="c", producer="p")
    raw = json.loads(encode_envelope(envelope))
    raw["data"]["quantity"] = 11
    with pytest.raises(ContractViolation, match="quantity"):
        decode_message(json.dumps(raw))


def test_rejections_name_a_known_reason() -> None:
    with pytest.raises(ValidationError):
        ReservationRejected(
            booking_id=uuid4(), event_id=uuid4(), ticket_type_id=uuid4(), quantity=1, reason="meh"
        )


def test_every_event_type_is_registered_once_in_its_newest_version() -> None:
    types = [cls.TYPE for cls in registered_events()]
    assert len(types) == len(set(types))
    assert len(types) >= 18


def _confirmed_v1_message() -> bytes:
    """A confirmation as version 1 published it: no payment reference (its capture was the
    PaymentCaptured before it)."""
    envelope = EventEnvelope(
        type="booking.confirmed",
        version=1,
        correlation_id="c",
        producer="booking-command",
        subject="s",
        data={
            "booking_id": str(uuid4()),
            "event_id": str(uuid4()),
            "ticket_type_id": str(uuid4()),
            "quantity": 2,
            "owner_id": "user-1",
            "customer_name": "Ada Lovelace",
            "customer_email": "ada@example.com",
            "total_price": "21.00",
            "currency": "EUR",
        },
    )
    return encode_envelope(envelope)


def test_a_version_1_confirmation_still_decodes_as_the_newest_version_without_a_payment() -> None:
    envelope, event = decode_message(_confirmed_v1_message())

    assert envelope.version == 1
    assert isinstance(event, BookingConfirmed)
    assert event.provider_reference is None
    assert event.total_price == Decimal("21.00")


def test_a_confirmation_carries_the_captured_payment_that_confirmed_it() -> None:
    _, old = decode_message(_confirmed_v1_message())
    assert isinstance(old, BookingConfirmed)
    confirmed = old.model_copy(update={"provider_reference": "pi_123"})

    envelope = confirmed.to_envelope(correlation_id="c", producer="booking-command")
    _, decoded = decode_message(encode_envelope(envelope))

    assert envelope.version == 2
    assert decoded == confirmed


def test_an_event_class_that_cannot_upcast_its_older_versions_is_refused() -> None:
    class Unfinished(PublicEvent):
        TYPE: ClassVar[str] = "test.unfinished"
        VERSION: ClassVar[int] = 2
        TOPIC: ClassVar[str] = "test"

    with pytest.raises(TypeError, match="cannot upcast version 1"):
        register(Unfinished)


def test_committed_asyncapi_document_matches_the_models() -> None:
    assert ASYNCAPI_COPY.read_text() == render(), (
        "libs/contracts/asyncapi.json is stale: python -m ticketing_contracts > "
        "libs/contracts/asyncapi.json"
    )
    document = json.loads(ASYNCAPI_COPY.read_text())
    for event_class in registered_events():
        assert message_name(event_class) in document["components"]["messages"]


@pytest.mark.parametrize(
    "name",
    ["<script>alert(1)</script>", 'Robert "Bobby"', "Tom & Jerry", "Line\nBreak", "", " " * 3],
)
def test_booking_refuses_markup_and_control_characters_in_names(name: str) -> None:
    with pytest.raises(ValidationError, match="customer_name"):
        RequestBooking(
            event_id=uuid4(),
            ticket_type_id=uuid4(),
            quantity=1,
            customer_name=name,
            customer_email="a@example.com",
        )


@pytest.mark.parametrize("name", ["Zoë O'Brien-Łukasz", "山田 太郎", "J. R. R. Tolkien", "Ñandú"])
def test_booking_accepts_names_in_any_script(name: str) -> None:
    command = RequestBooking(
        event_id=uuid4(),
        ticket_type_id=uuid4(),
        quantity=10,
        customer_name=f"  {name} ",
        customer_email="Someone@Example.COM",
        payment_token="tok_visa",
    )
    assert command.customer_name == name
    assert command.customer_email == "someone@example.com"


@pytest.mark.parametrize("token", [None, "", "tk", "tok visa", "tok_<b>", "t" * 256, "tok_\u00e9"])
def test_booking_needs_a_bounded_plain_payment_token(token: str | None) -> None:
    fields = {
        "event_id": uuid4(),
        "ticket_type_id": uuid4(),
        "quantity": 1,
        "customer_name": "Ada",
        "customer_email": "a@example.com",
    }
    if token is not None:
        fields["payment_token"] = token
    with pytest.raises(ValidationError, match="payment_token"):
        RequestBooking.model_validate(fields)


def test_a_payment_token_is_kept_out_of_the_commands_repr() -> None:
    command = RequestBooking(
        event_id=uuid4(),
        ticket_type_id=uuid4(),
        quantity=1,
        customer_name="Ada",
        customer_email="a@example.com",
        payment_token="tok_visa",
    )
    assert command.payment_token == "tok_visa"
    assert "tok_visa" not in repr(command)


@pytest.mark.parametrize("quantity", [0, 11, -1])
def test_booking_quantity_is_between_one_and_ten(quantity: int) -> None:
    with pytest.raises(ValidationError, match="quantity"):
        RequestBooking(
            event_id=uuid4(),
            ticket_type_id=uuid4(),
            quantity=quantity,
            customer_name="Ada",
            customer_email="a@example.com",
        )


def test_event_needs_a_timezone_and_unique_ticket_type_names() -> None:
    stalls = TicketTypeSpec(name="Stalls", price=Decimal("10"), quantity=5)
    with pytest.raises(ValidationError, match="timezone"):
        CreateEvent(
            venue_id=uuid4(), name="Gig", starts_at=datetime(2030, 1, 1), ticket_types=[stalls]
        )
    with pytest.raises(ValidationError, match="unique"):
        CreateEvent(
            venue_id=uuid4(),
            name="Gig",
            starts_at=datetime(2030, 1, 1, tzinfo=UTC),
            ticket_types=[stalls, TicketTypeSpec(name="stalls", price=Decimal("1"), quantity=1)],
        )


def test_prices_refuse_negative_amounts_and_fractions_of_cents() -> None:
    for price in ("-1", "1.001"):
        with pytest.raises(ValidationError, match="price"):
            TicketType(
                ticket_type_id=uuid4(), name="A", price=Decimal(price), currency="EUR", quantity=1
            )


def test_event_created_carries_ticket_types() -> None:
    ticket = TicketType(
        ticket_type_id=uuid4(), name="A", price=Decimal("5.00"), currency="EUR", quantity=3
    )
    event = EventCreated(
        event_id=uuid4(),
        venue_id=uuid4(),
        name="Gig",
        starts_at=datetime(2030, 1, 1, tzinfo=UTC),
        ticket_types=(ticket,),
    )
    assert event.partition_key() == str(event.event_id)


def test_a_booking_cancelled_message_from_before_the_reason_still_decodes() -> None:
    ids = {"booking_id": uuid4(), "event_id": uuid4(), "ticket_type_id": uuid4(), "quantity": 1}
    by_event = BookingCancelled(
        **ids, cancelled_by="admin-1", reason=CancellationReason.EVENT_CANCELLED
    )
    envelope = by_event.to_envelope(correlation_id="req-1", producer="booking-command")
    assert decode_message(encode_envelope(envelope))[1] == by_event
    published_before = envelope.model_dump(mode="json")
    del published_before["data"]["reason"]
    _, decoded = decode_message(json.dumps(published_before))
    assert isinstance(decoded, BookingCancelled)
    assert (decoded.cancelled_by, decoded.reason) == ("admin-1", None)
