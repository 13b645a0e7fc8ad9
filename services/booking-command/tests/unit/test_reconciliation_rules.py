"""What the reconciliation after a restore makes of each difference between the event
store, inventory, the read models and the payment provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from booking_command.domain.reconciliation import (
    Comparison,
    HeldBooking,
    Holdings,
    Kind,
    Payment,
    Repair,
    ShownBooking,
    ShownFacts,
    StoredBooking,
    StoredFacts,
    TicketCount,
    TicketKey,
    compare,
)

EVENT, STALLS = uuid4(), uuid4()


def stored(status: str = "CONFIRMED", version: int = 3, **changes: object) -> StoredBooking:
    booking = StoredBooking(
        booking_id=uuid4(),
        event_id=EVENT,
        ticket_type_id=STALLS,
        quantity=2,
        status=status,
        published_version=version,
        payment_status="captured" if status == "CONFIRMED" else None,
        payment_reference="pi_1" if status == "CONFIRMED" else None,
        total_minor=9900,
        currency="EUR",
        payment_due=False,
        held_event_ids=frozenset({uuid4(), uuid4()}),
    )
    return replace(booking, **changes)  # type: ignore[arg-type]


def held(booking_id: UUID, state: str = "sold") -> HeldBooking:
    return HeldBooking(booking_id, EVENT, STALLS, 2, state)


def shown(booking_id: UUID, status: str = "CONFIRMED", version: int = 3) -> ShownBooking:
    return ShownBooking(
        booking_id,
        EVENT,
        STALLS,
        2,
        status,
        version,
        "captured",
        "pi_1",
        "zoe@example.com",
        Decimal("99.00"),
        "EUR",
    )


def captured(booking_id: UUID, amount: int = 9900, refunded: int = 0) -> Payment:
    return Payment(
        f"pi_{booking_id.hex[:6]}", booking_id, "succeeded", amount, amount, refunded, "eur"
    )


def holdings(
    stored_bookings: list[StoredBooking] = (),  # type: ignore[assignment]
    held_bookings: list[HeldBooking] = (),  # type: ignore[assignment]
    shown_bookings: list[ShownBooking] = (),  # type: ignore[assignment]
    payments: list[Payment] = (),  # type: ignore[assignment]
    *,
    tickets: Mapping[TicketKey, TicketCount] | None = None,
    store_position: int = 100,
    read_model_position: int | None = 100,
) -> Holdings:
    by_booking: dict[UUID, list[Payment]] = {}
    for payment in payments:
        by_booking.setdefault(payment.booking_id, []).append(payment)
    sold = sum(b.quantity for b in stored_bookings if b.status == "CONFIRMED")
    counts = tickets or {(EVENT, STALLS): TicketCount(100, 0, sold)}
    return Holdings(
        stored={b.booking_id: b for b in stored_bookings},
        held={b.booking_id: b for b in held_bookings},
        shown={b.booking_id: b for b in shown_bookings},
        payments=by_booking,
        inventory_tickets=counts,
        read_model_tickets=counts,
        store_position=store_position,
        read_model_position=read_model_position,
    )


def consistent_booking() -> tuple[StoredBooking, HeldBooking, ShownBooking, Payment]:
    booking = stored()
    return (
        booking,
        held(booking.booking_id),
        shown(booking.booking_id),
        captured(booking.booking_id),
    )


def only(comparison: Comparison) -> list[tuple[Kind, str]]:
    return [(finding.kind, finding.subject) for finding in comparison.findings]


def test_a_confirmed_booking_every_side_agrees_on_is_no_finding() -> None:
    booking, at_inventory, in_read_models, payment = consistent_booking()

    comparison = compare(holdings([booking], [at_inventory], [in_read_models], [payment]))

    assert comparison.findings == []
    assert comparison.consistent


def test_a_paid_booking_the_store_lost_is_released_set_aside_and_refunded_by_a_person() -> None:
    lost = uuid4()

    comparison = compare(
        holdings(
            [],
            [held(lost)],
            [shown(lost)],
            [captured(lost)],
            tickets={(EVENT, STALLS): TicketCount(100, 0, 2)},
        )
    )

    [finding] = comparison.of_kind(Kind.NOT_IN_EVENT_STORE)
    assert finding.subject == str(lost)
    assert finding.repairs == (
        Repair.RELEASE_AT_INVENTORY,
        Repair.SET_ASIDE_IN_READ_MODELS,
        Repair.REFUND_LOST_PAYMENT,
    )
    assert finding.action is not None
    assert f"refund 9900 eur of payment pi_{lost.hex[:6]}" in finding.action
    assert "zoe@example.com" in finding.action
    # Tickets sold differ until the repairs are made and the read models rebuilt.
    assert [f.subject for f in comparison.of_kind(Kind.TICKETS_DIFFER)] == [str(STALLS)]
    assert not comparison.consistent


def test_a_lost_booking_that_was_refunded_already_needs_no_person() -> None:
    lost = uuid4()

    comparison = compare(
        holdings(
            [],
            [held(lost, "released")],
            [shown(lost, "CANCELLED", 5)],
            [captured(lost, refunded=9900)],
        )
    )

    [finding] = comparison.of_kind(Kind.NOT_IN_EVENT_STORE)
    assert finding.repairs == (Repair.SET_ASIDE_IN_READ_MODELS,)
    assert finding.action is None


def test_a_lost_booking_repaired_and_refunded_is_no_finding_any_more() -> None:
    lost = uuid4()

    comparison = compare(
        holdings([], [held(lost, "released_unclaimed")], [], [captured(lost, refunded=9900)])
    )

    assert comparison.findings == []


def test_read_models_ahead_of_the_store_are_set_aside() -> None:
    # Confirmed in the store; cancelled in the lost window (read models at version 5).
    booking = stored("CONFIRMED", 3)

    comparison = compare(
        holdings(
            [booking],
            [held(booking.booking_id)],
            [shown(booking.booking_id, "CANCELLED", 5)],
            [captured(booking.booking_id)],
        )
    )

    assert only(comparison) == [(Kind.READ_MODEL_DIFFERS, str(booking.booking_id))]
    assert comparison.findings[0].repairs == (Repair.SET_ASIDE_IN_READ_MODELS,)


def test_a_different_fact_at_the_same_version_is_set_aside() -> None:
    booking = stored("EXPIRED", 3, payment_status=None, payment_reference=None)

    comparison = compare(
        holdings([booking], [held(booking.booking_id, "released")], [shown(booking.booking_id)])
    )

    assert only(comparison) == [(Kind.READ_MODEL_DIFFERS, str(booking.booking_id))]


def test_read_models_behind_the_store_are_settling_not_a_finding_to_act_on() -> None:
    booking = stored("CONFIRMED", 3)

    comparison = compare(
        holdings(
            [booking],
            [held(booking.booking_id, "reserved")],
            [shown(booking.booking_id, "PENDING", 1)],
            [captured(booking.booking_id)],
        )
    )

    assert only(comparison) == [(Kind.SETTLING, str(booking.booking_id))]
    assert comparison.consistent


def test_a_payment_still_due_is_settling() -> None:
    booking = stored("PENDING", 1, payment_status="pending", payment_due=True)

    comparison = compare(
        holdings(
            [booking],
            [held(booking.booking_id, "reserved")],
            [shown(booking.booking_id, "PENDING", 1)],
        )
    )

    assert only(comparison) == [(Kind.SETTLING, str(booking.booking_id))]


def test_a_pending_booking_inventory_sold_while_its_payment_is_due_again_is_settling() -> None:
    # Pending in the restored store, confirmed in the lost window: the worker charges it
    # again (the provider answers with the same capture) and confirms it.
    booking = stored("PENDING", 1, payment_status="pending", payment_due=True)

    comparison = compare(
        holdings(
            [booking],
            [held(booking.booking_id, "sold")],
            [shown(booking.booking_id, "PENDING", 1)],
            [captured(booking.booking_id)],
        )
    )

    assert only(comparison) == [(Kind.SETTLING, str(booking.booking_id))]


def test_a_confirmed_booking_whose_tickets_inventory_gave_back_needs_a_person() -> None:
    booking = stored("CONFIRMED", 3)

    comparison = compare(
        holdings(
            [booking],
            [held(booking.booking_id, "released")],
            [shown(booking.booking_id)],
            [captured(booking.booking_id)],
            tickets={(EVENT, STALLS): TicketCount(100, 0, 2)},
        )
    )

    [finding] = comparison.of_kind(Kind.INVENTORY_DIFFERS)
    assert finding.action is not None
    assert "cancel the booking" in finding.action


def test_a_confirmed_booking_refunded_at_the_provider_needs_a_person() -> None:
    booking, at_inventory, in_read_models, _ = consistent_booking()

    comparison = compare(
        holdings(
            [booking],
            [at_inventory],
            [in_read_models],
            [captured(booking.booking_id, refunded=9900)],
        )
    )

    [finding] = comparison.of_kind(Kind.PAYMENT_DIFFERS)
    assert finding.action is not None
    assert "cancel the booking" in finding.action


def test_a_confirmed_booking_charged_twice_needs_a_person() -> None:
    booking, at_inventory, in_read_models, payment = consistent_booking()
    second = replace(payment, intent_id="pi_second")

    comparison = compare(holdings([booking], [at_inventory], [in_read_models], [payment, second]))

    [finding] = comparison.of_kind(Kind.PAYMENT_DIFFERS)
    assert finding.action is not None
    assert "charged twice" in finding.action


def test_an_ended_booking_with_a_capture_left_needs_a_refund() -> None:
    booking = stored("REJECTED", 2, payment_status="declined")

    comparison = compare(
        holdings(
            [booking],
            [held(booking.booking_id, "released")],
            [shown(booking.booking_id, "REJECTED", 2)],
            [captured(booking.booking_id)],
        )
    )

    [finding] = comparison.of_kind(Kind.PAYMENT_DIFFERS)
    assert finding.action is not None
    assert "refund" in finding.action


def test_positions_the_read_models_saw_beyond_the_restored_store_are_advanced() -> None:
    comparison = compare(holdings(store_position=80, read_model_position=120))

    [finding] = comparison.of_kind(Kind.POSITIONS_BEHIND)
    assert finding.repairs == (Repair.ADVANCE_POSITIONS,)
    assert finding.says == {"event_store": 80, "read_models": 120}


def test_tickets_sold_are_compared_per_ticket_type() -> None:
    booking, at_inventory, in_read_models, payment = consistent_booking()
    oversold_in_read_models = {(EVENT, STALLS): TicketCount(100, 0, 4)}

    comparison = compare(
        replace(
            holdings([booking], [at_inventory], [in_read_models], [payment]),
            read_model_tickets=oversold_in_read_models,
        )
    )

    [finding] = comparison.of_kind(Kind.TICKETS_DIFFER)
    assert finding.says == {"event_store_confirmed": 2, "inventory_sold": 2, "read_models_sold": 4}


RECORDED = datetime(2030, 1, 1, 12, tzinfo=UTC)


def event_facts(version: int, recorded_at: datetime) -> tuple[StoredFacts, ShownFacts]:
    return (
        StoredFacts(EVENT, version, recorded_at, frozenset({uuid4()})),
        ShownFacts(EVENT, version, recorded_at),
    )


def with_events(stored: StoredFacts | None, shown: ShownFacts) -> Holdings:
    return replace(
        holdings(),
        stored_events={EVENT: stored} if stored else {},
        shown_events={EVENT: shown},
    )


def test_an_event_shown_as_the_store_holds_it_is_no_finding() -> None:
    stored, shown = event_facts(3, RECORDED)

    assert compare(with_events(stored, shown)).findings == []


def test_an_event_changed_again_after_the_restore_at_a_lost_changes_version_is_set_aside() -> None:
    # Lost: a ticket type added at version 3; the restored store added another at version 3.
    stored, _ = event_facts(3, RECORDED + timedelta(minutes=5))
    shown = ShownFacts(EVENT, 3, RECORDED)

    [finding] = compare(with_events(stored, shown)).findings

    assert (finding.kind, finding.repairs) == (
        Kind.CATALOG_DIFFERS,
        (Repair.SET_ASIDE_IN_READ_MODELS,),
    )


def test_an_event_the_store_does_not_hold_is_set_aside_and_a_person_told() -> None:
    _, shown = event_facts(2, RECORDED)

    [finding] = compare(with_events(None, shown)).findings

    assert finding.kind is Kind.CATALOG_DIFFERS
    assert finding.action is not None
    assert "create it again" in finding.action


def test_an_event_the_read_models_have_not_caught_up_with_is_settling() -> None:
    stored, _ = event_facts(4, RECORDED)

    [finding] = compare(with_events(stored, ShownFacts(EVENT, 3, RECORDED))).findings

    assert finding.kind is Kind.SETTLING
