"""Ticket rules without I/O: how many tickets a confirmation gives, their codes, what voids
them, and what the door says about a ticket."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from entry.domain.scans import TicketAtDoor, admitted, is_conflict, refusal
from entry.domain.tickets import new_code, tickets_for, void_reason_for
from ticketing_contracts.events import CancellationReason, decode_event
from ticketing_contracts.tickets import ScanAnswer


def test_a_confirmation_gives_one_ticket_per_seat_for_the_name_on_the_booking(facts) -> None:
    confirmed = decode_event(facts.confirmed(facts.event_created(), quantity=4, holder="Ada"))

    tickets = tickets_for(confirmed)

    assert [ticket.position_in_booking for ticket in tickets] == [0, 1, 2, 3]
    assert {ticket.holder_name for ticket in tickets} == {"Ada"}
    assert {ticket.status for ticket in tickets} == {"valid"}
    assert len({ticket.code for ticket in tickets}) == 4
    assert len({ticket.ticket_id for ticket in tickets}) == 4


def test_tickets_of_an_event_already_cancelled_are_born_voided(facts) -> None:
    confirmed = decode_event(facts.confirmed(facts.event_created(), quantity=2))

    tickets = tickets_for(confirmed, event_cancelled=True)

    assert {(t.status, t.voided_reason) for t in tickets} == {("voided", "event_cancelled")}


def test_codes_are_24_base32_characters() -> None:
    codes = {new_code() for _ in range(200)}

    assert len(codes) == 200
    assert all(re.fullmatch(r"[A-Z2-7]{24}", code) for code in codes)


def test_what_voids_a_bookings_tickets(facts) -> None:
    booking = facts.confirmed(facts.event_created())

    assert void_reason_for(decode_event(facts.cancelled(booking))) == "booking_cancelled"
    by_event = facts.cancelled(booking, CancellationReason.EVENT_CANCELLED)
    assert void_reason_for(decode_event(by_event)) == "event_cancelled"
    assert void_reason_for(decode_event(facts.refunded(booking))) == "payment_refunded"
    assert void_reason_for(decode_event(booking)) is None


def ticket(**overrides: object) -> TicketAtDoor:
    values: dict[str, object] = {
        "ticket_id": uuid4(),
        "event_id": uuid4(),
        "holder_name": "Ada",
        "ticket_type_name": "Standing",
        "status": "valid",
        "checked_in_at": None,
        "entrance": None,
        "voided_reason": None,
    }
    return TicketAtDoor(**{**values, **overrides})  # type: ignore[arg-type]


def test_a_checked_in_ticket_answers_when_and_where_it_was_first_checked_in() -> None:
    first = datetime(2030, 6, 1, 19, 5, tzinfo=UTC)

    answer = refusal(ticket(status="checked_in", checked_in_at=first, entrance="North gate"))

    assert (answer.result, answer.checked_in_at, answer.entrance) == (
        "already_checked_in",
        first,
        "North gate",
    )


def test_an_old_code_of_a_reissued_ticket_is_voided_whatever_the_ticket_is_now() -> None:
    answer = refusal(ticket(status="valid", retired=True))

    assert (answer.result, answer.voided_reason) == ("voided", "reissued")


def test_a_voided_ticket_says_why() -> None:
    answer = refusal(ticket(status="voided", voided_reason="payment_refunded"))

    assert (answer.result, answer.voided_reason) == ("voided", "payment_refunded")


def test_a_valid_ticket_is_admitted_not_refused() -> None:
    valid = ticket()
    now = datetime.now(UTC)

    assert admitted(valid, now, "Gate 2").result == "admitted"
    with pytest.raises(ValueError, match="admitted"):
        refusal(valid)


@pytest.mark.parametrize(
    ("admitted_offline", "result", "conflict"),
    [
        (True, "admitted", False),
        (True, "already_checked_in", True),
        (True, "not_a_ticket", True),
        (False, "voided", False),
        (False, "admitted", False),
    ],
)
def test_a_conflict_is_someone_let_in_offline_whom_the_server_refuses(
    admitted_offline: bool, result: str, conflict: bool
) -> None:
    answer = ScanAnswer(result=result)  # type: ignore[arg-type]

    assert is_conflict(admitted_offline, answer) is conflict
