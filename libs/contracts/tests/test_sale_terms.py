"""Sale windows and purchase limits in the commands, the catalog facts and the hold call."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from ticketing_contracts.commands import ChangeSaleTerms, CreateEvent, TicketTypeSpec
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    EventCreated,
    EventSaleChanged,
    TicketTypeAdded,
    decode_message,
    encode_envelope,
)
from ticketing_contracts.holds import HoldRequest, Refused

OPENS = datetime(2030, 5, 1, 10, tzinfo=UTC)


def test_a_sale_that_ends_before_it_starts_is_refused_on_events_ticket_types_and_changes() -> None:
    backwards = {"sale_starts_at": OPENS, "sale_ends_at": OPENS - timedelta(minutes=1)}
    with pytest.raises(ValidationError, match="sale_ends_at must be after sale_starts_at"):
        ChangeSaleTerms(**backwards)
    with pytest.raises(ValidationError, match="sale_ends_at must be after sale_starts_at"):
        TicketTypeSpec(name="Stalls", price=Decimal("10"), quantity=5, **backwards)
    with pytest.raises(ValidationError, match="sale_ends_at must be after sale_starts_at"):
        CreateEvent(
            venue_id=uuid4(),
            name="Gig",
            starts_at=OPENS + timedelta(days=30),
            ticket_types=[TicketTypeSpec(name="Stalls", price=Decimal("10"), quantity=5)],
            **backwards,
        )


def test_sale_terms_need_timezones_and_a_limit_of_at_least_one_ticket() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        ChangeSaleTerms(sale_starts_at=datetime(2030, 5, 1, 10))
    with pytest.raises(ValidationError, match="max_tickets_per_account"):
        ChangeSaleTerms(max_tickets_per_account=0)
    assert ChangeSaleTerms() == ChangeSaleTerms(
        sale_starts_at=None, sale_ends_at=None, max_tickets_per_account=None
    )


def _version_1(event_type: str, data: dict[str, object]) -> bytes:
    envelope = EventEnvelope(
        type=event_type,
        version=1,
        correlation_id="c",
        producer="booking-command",
        subject="s",
        data=data,
    )
    return encode_envelope(envelope)


def _ticket_type_v1() -> dict[str, object]:
    return {
        "ticket_type_id": str(uuid4()),
        "name": "Stalls",
        "price": "10.00",
        "currency": "EUR",
        "quantity": 5,
    }


def test_catalog_facts_from_before_sale_terms_decode_with_none() -> None:
    created = _version_1(
        "event.created",
        {
            "event_id": str(uuid4()),
            "venue_id": str(uuid4()),
            "name": "Gig",
            "starts_at": "2030-06-01T20:00:00Z",
            "ticket_types": [_ticket_type_v1()],
        },
    )
    added = _version_1(
        "event.ticket_type_added", {"event_id": str(uuid4())} | {"ticket_type": _ticket_type_v1()}
    )

    _, event = decode_message(created)
    _, ticket_type_added = decode_message(added)

    assert isinstance(event, EventCreated)
    assert (event.sale_starts_at, event.sale_ends_at, event.max_tickets_per_account) == (
        None,
        None,
        None,
    )
    [ticket_type] = event.ticket_types
    assert (ticket_type.sale_starts_at, ticket_type.max_tickets_per_account) == (None, None)
    assert isinstance(ticket_type_added, TicketTypeAdded)
    assert ticket_type_added.ticket_type.sale_ends_at is None


def test_a_sale_change_round_trips_with_its_unbounded_end() -> None:
    change = EventSaleChanged(
        event_id=uuid4(), sale_starts_at=OPENS, sale_ends_at=None, max_tickets_per_account=4
    )
    envelope = change.to_envelope(correlation_id="c", producer="booking-command")

    assert decode_message(encode_envelope(envelope))[1] == change
    assert envelope.data["sale_ends_at"] is None


def test_a_hold_names_the_account_it_counts_against() -> None:
    fields = {"booking_id": uuid4(), "event_id": uuid4(), "ticket_type_id": uuid4()}
    with pytest.raises(ValidationError, match="owner_id"):
        HoldRequest.model_validate({**fields, "quantity": 1})
    assert HoldRequest(**fields, quantity=1, owner_id="user-1").owner_id == "user-1"


def test_a_refusal_says_why_only_with_the_fields_of_its_reason() -> None:
    not_on_sale = Refused(booking_id=uuid4(), reason="not_on_sale", sale_starts_at=OPENS)
    limited = Refused(
        booking_id=uuid4(),
        reason="purchase_limit_reached",
        limit_scope="event",
        max_tickets_per_account=4,
        tickets_held_or_bought=3,
    )

    assert not_on_sale.details() == {"sale_starts_at": "2030-05-01T10:00:00Z", "sale_ends_at": None}
    assert limited.details() == {
        "limit_scope": "event",
        "max_tickets_per_account": 4,
        "tickets_held_or_bought": 3,
    }
    assert Refused(booking_id=uuid4(), reason="sold_out").details() == {}
