from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from query_projection.domain.projection import ProjectionBatch, rows_touched_by
from query_projection.domain.versions import UnversionedEvent
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    BookingStatus,
    CancellationReason,
    EventSaleChanged,
    RejectionReason,
    TicketTypeSaleChanged,
    decode_event,
)
from ticketing_contracts.events.catalog import TicketTypeChanged, TicketTypeRemoved


def fold(envelopes: list[EventEnvelope], batch: ProjectionBatch | None = None) -> ProjectionBatch:
    batch = batch or ProjectionBatch()
    for envelope in envelopes:
        batch.apply(envelope, decode_event(envelope))
    return batch


def rows(batch: ProjectionBatch) -> tuple[object, ...]:
    return (dict(batch.venues), dict(batch.shows), dict(batch.bookings), dict(batch.stock))


def test_venue_is_created_updated_and_deleted(scenario):
    venue_id = uuid4()
    created = scenario.venue_created(venue_id, name="Old Hall")
    updated = scenario.venue_updated(venue_id, name="New Hall")
    batch = fold([created, updated])
    assert batch.venues[venue_id].name == "New Hall"
    assert batch.venues[venue_id].version == 2

    fold([scenario.venue_deleted(venue_id)], batch)
    assert batch.venues[venue_id].deleted


def test_late_venue_update_does_not_resurrect_a_deleted_venue(scenario):
    venue_id = uuid4()
    created = scenario.venue_created(venue_id)
    updated = scenario.venue_updated(venue_id, name="Renamed")
    deleted = scenario.venue_deleted(venue_id)
    batch = fold([created, deleted, updated, created])
    assert batch.venues[venue_id].deleted
    assert batch.venues[venue_id].version == 3


def test_event_follows_its_catalog_lifecycle(scenario):
    venue = scenario.venue_created()
    created = scenario.event_created(scenario.subject_id(venue), quantities=(100, 20))
    event_id = scenario.subject_id(created)
    later = created.data["starts_at"]
    envelopes = [
        created,
        scenario.details_changed(event_id, "Renamed", "Now with fireworks"),
        scenario.ticket_type_added(event_id, quantity=5),
        scenario.published(event_id),
        scenario.rescheduled(event_id, scenario.clock + timedelta(days=400)),
        scenario.cancelled(event_id),
    ]
    show = fold(envelopes).shows[event_id]
    assert show.name == "Renamed"
    assert show.description == "Now with fireworks"
    assert [t.quantity for t in show.ticket_types] == [100, 20, 5]
    assert show.status == "cancelled"
    assert show.starts_at.isoformat() != later
    assert show.version == 6


def test_event_creation_seeds_provisional_stock_that_inventory_replaces(scenario):
    created = scenario.event_created(uuid4(), quantities=(100,))
    event_id = scenario.subject_id(created)
    (ticket_type_id,) = scenario.ticket_type_ids(created)
    batch = fold([created])
    seeded = batch.stock[(event_id, ticket_type_id)]
    assert (seeded.available, seeded.provisional, seeded.stock_version) == (100, True, 0)

    fold([scenario.stock_changed(event_id, ticket_type_id, quantity=100, stock_version=0)], batch)
    assert batch.stock[(event_id, ticket_type_id)].provisional is False

    fold([created], batch)
    assert batch.stock[(event_id, ticket_type_id)].provisional is False


def test_booking_status_follows_the_lifecycle(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4(), quantity=3)
    booking_id = scenario.subject_id(requested)
    batch = fold([requested])
    booking = batch.bookings[booking_id]
    assert booking.status is BookingStatus.PENDING
    assert str(booking.total_price) == "148.50"
    assert booking.customer_email == "zoe@example.com"

    fold([scenario.booking_confirmed(requested)], batch)
    assert batch.bookings[booking_id].status is BookingStatus.CONFIRMED
    fold([scenario.booking_cancelled(requested)], batch)
    assert batch.bookings[booking_id].status is BookingStatus.CANCELLED


@pytest.mark.parametrize("ending", ["booking_rejected", "booking_expired"])
def test_booking_can_end_rejected_or_expired(scenario, ending):
    requested = scenario.booking_requested(uuid4(), uuid4())
    final = getattr(scenario, ending)(requested)
    batch = fold([requested, final])
    status = batch.bookings[scenario.subject_id(requested)].status
    assert status in (BookingStatus.REJECTED, BookingStatus.EXPIRED)
    assert status.value.lower() in ending


def test_booking_shows_its_payment_pending_then_captured_with_the_reference(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4())
    booking_id = scenario.subject_id(requested)
    batch = fold([requested])
    assert batch.bookings[booking_id].payment_status == "pending"
    fold([scenario.payment_captured(requested, "pi_42")], batch)
    booking = batch.bookings[booking_id]
    assert (booking.status, booking.payment_status, booking.payment_reference) == (
        BookingStatus.PENDING,
        "captured",
        "pi_42",
    )
    confirmed = scenario.booking_confirmed(requested)
    fold([confirmed, confirmed], batch)
    booking = batch.bookings[booking_id]
    assert (booking.status, booking.payment_status, booking.payment_reference) == (
        BookingStatus.CONFIRMED,
        "captured",
        "pi_42",
    )


def test_a_confirmation_carrying_its_capture_shows_the_payment_captured(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4())
    confirmed = scenario.booking_confirmed(requested, provider_reference="pi_43")

    batch = fold([requested, confirmed])

    booking = batch.bookings[scenario.subject_id(requested)]
    assert (booking.status, booking.payment_status, booking.payment_reference) == (
        BookingStatus.CONFIRMED,
        "captured",
        "pi_43",
    )
    # Replayed out of order, the newer confirmation still decides.
    replayed = fold([confirmed, requested, confirmed])
    booking = replayed.bookings[scenario.subject_id(requested)]
    assert (booking.status, booking.payment_status, booking.payment_reference) == (
        BookingStatus.CONFIRMED,
        "captured",
        "pi_43",
    )


def test_declined_payment_shows_declined_and_a_sold_out_booking_no_payment(scenario):
    declined = scenario.booking_requested(uuid4(), uuid4())
    sold_out = scenario.booking_requested(uuid4(), uuid4())
    batch = fold(
        [
            declined,
            sold_out,
            scenario.booking_rejected(declined, RejectionReason.PAYMENT_DECLINED),
            scenario.booking_rejected(sold_out),
        ]
    )
    assert batch.bookings[scenario.subject_id(declined)].payment_status == "declined"
    assert batch.bookings[scenario.subject_id(declined)].reason == "payment_declined"
    assert batch.bookings[scenario.subject_id(sold_out)].payment_status is None


def test_a_capture_refunded_after_expiry_shows_refunded_even_when_replayed(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4())
    captured = scenario.payment_captured(requested, "pi_7")
    expired = scenario.booking_expired(requested)
    refunded = scenario.payment_refunded(requested, "pi_7")
    batch = fold([requested, expired, captured, refunded, captured, requested])
    booking = batch.bookings[scenario.subject_id(requested)]
    assert (booking.status, booking.payment_status, booking.payment_reference) == (
        BookingStatus.EXPIRED,
        "refunded",
        "pi_7",
    )


def test_a_booking_cancelled_with_its_event_shows_why_and_its_refund(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4())
    batch = fold(
        [
            requested,
            scenario.payment_captured(requested, "pi_8"),
            scenario.booking_confirmed(requested),
            scenario.booking_cancelled(requested, CancellationReason.EVENT_CANCELLED),
            scenario.payment_refunded(requested, "pi_8"),
        ]
    )
    booking = batch.bookings[scenario.subject_id(requested)]
    assert (booking.status, booking.reason, booking.payment_status) == (
        BookingStatus.CANCELLED,
        "event_cancelled",
        "refunded",
    )
    by_owner = scenario.booking_requested(uuid4(), uuid4())
    batch = fold(
        [by_owner, scenario.booking_confirmed(by_owner), scenario.booking_cancelled(by_owner)]
    )
    assert batch.bookings[scenario.subject_id(by_owner)].reason is None


def test_late_booking_requested_never_overwrites_confirmed_but_fills_details(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4())
    confirmed = scenario.booking_confirmed(requested)
    batch = fold([confirmed, requested])
    booking = batch.bookings[scenario.subject_id(requested)]
    assert booking.status is BookingStatus.CONFIRMED
    assert booking.version == 2
    assert booking.hold_expires_at is not None
    assert booking.created_at == requested.occurred_at


def test_replaying_every_message_changes_nothing(scenario):
    venue = scenario.venue_created()
    created = scenario.event_created(scenario.subject_id(venue))
    event_id = scenario.subject_id(created)
    (ticket_type_id,) = scenario.ticket_type_ids(created)
    requested = scenario.booking_requested(event_id, ticket_type_id)
    envelopes = [
        venue,
        created,
        scenario.published(event_id),
        scenario.stock_changed(event_id, ticket_type_id, quantity=100),
        requested,
        scenario.stock_changed(event_id, ticket_type_id, quantity=100, reserved=2),
        scenario.booking_confirmed(requested),
        scenario.stock_changed(event_id, ticket_type_id, quantity=100, sold=2),
    ]
    once = fold(envelopes)
    before = rows(once)
    fold(envelopes, once)
    fold(list(reversed(envelopes)), once)
    assert rows(once) == before


def test_availability_follows_stock_changed_and_ignores_an_older_stock_version(scenario):
    event_id, ticket_type_id = uuid4(), uuid4()
    held = scenario.stock_changed(event_id, ticket_type_id, quantity=100, reserved=20)
    sold = scenario.stock_changed(event_id, ticket_type_id, quantity=100, reserved=5, sold=15)
    batch = fold([held])
    stock = batch.stock[(event_id, ticket_type_id)]
    assert (stock.reserved, stock.sold, stock.available, stock.stock_version) == (20, 0, 80, 1)

    fold([sold, held], batch)
    stock = batch.stock[(event_id, ticket_type_id)]
    assert (stock.reserved, stock.sold, stock.available, stock.stock_version) == (5, 15, 80, 2)
    assert stock.provisional is False


def test_a_stock_change_loads_the_stock_row_of_its_ticket_type(scenario):
    event_id, ticket_type_id = uuid4(), uuid4()
    changed = scenario.stock_changed(event_id, ticket_type_id, quantity=10, reserved=1)
    touched = rows_touched_by([decode_event(changed)])
    assert touched.stock_keys == {(event_id, ticket_type_id)}
    assert (touched.event_ids, touched.booking_ids) == (frozenset(), frozenset())


def test_an_old_logs_per_booking_facts_still_set_the_stock(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4())
    event_id, ticket_type_id = (
        UUID(requested.data["event_id"]),
        UUID(requested.data["ticket_type_id"]),
    )
    initialised = scenario.stock_initialised(event_id, ticket_type_id, 10)
    reserved = scenario.outcome("reserved", requested, quantity=10, reserved=2, sold=0)
    sold = scenario.outcome("sold", requested, quantity=10, reserved=0, sold=2)
    stock = fold([initialised, sold, reserved]).stock[(event_id, ticket_type_id)]
    assert (stock.reserved, stock.sold, stock.available, stock.stock_version) == (0, 2, 8, 3)
    assert rows_touched_by([decode_event(sold)]).stock_keys == {(event_id, ticket_type_id)}


def test_stock_changed_continues_where_an_old_log_left_off(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4())
    event_id, ticket_type_id = (
        UUID(requested.data["event_id"]),
        UUID(requested.data["ticket_type_id"]),
    )
    old_sold = scenario.outcome("sold", requested, quantity=10, reserved=0, sold=2)
    newer = scenario.stock_changed(event_id, ticket_type_id, quantity=10, reserved=3, sold=2)
    stale = scenario.stock_changed(
        event_id, ticket_type_id, quantity=10, reserved=9, sold=0, stock_version=0
    )
    stock = fold([old_sold, newer, stale]).stock[(event_id, ticket_type_id)]
    assert (stock.reserved, stock.sold, stock.available, stock.stock_version) == (3, 2, 5, 2)


def test_catalog_event_without_aggregate_version_is_refused(scenario):
    envelope = scenario.venue_created().model_copy(update={"aggregate_version": None})
    with pytest.raises(UnversionedEvent):
        fold([envelope])


def test_rejection_without_stock_leaves_stock_alone(scenario):
    requested = scenario.booking_requested(uuid4(), uuid4())
    rejected = scenario.rejection(requested, quantity=1, reserved=1, sold=0)
    rejected = rejected.model_copy(update={"data": {**rejected.data, "stock": None}})
    assert fold([rejected]).stock == {}


def test_sale_terms_follow_the_catalog_and_an_older_change_is_ignored(scenario):
    opens = scenario.clock + timedelta(days=1)
    created = scenario.event_created(uuid4(), quantities=(100, 20))
    event_id = scenario.subject_id(created)
    stalls, balcony = scenario.ticket_type_ids(created)
    first = scenario.envelope(
        EventSaleChanged(
            event_id=event_id, sale_starts_at=opens, sale_ends_at=None, max_tickets_per_account=4
        )
    )
    balcony_presale = scenario.envelope(
        TicketTypeSaleChanged(
            event_id=event_id,
            ticket_type_id=balcony,
            sale_starts_at=opens - timedelta(hours=2),
            sale_ends_at=None,
            max_tickets_per_account=2,
        )
    )
    second = scenario.envelope(
        EventSaleChanged(
            event_id=event_id, sale_starts_at=opens, sale_ends_at=None, max_tickets_per_account=6
        )
    )

    show = fold([created, first, balcony_presale, second, first]).shows[event_id]

    assert (show.sale_starts_at, show.sale_ends_at, show.max_tickets_per_account) == (
        opens,
        None,
        6,
    )
    by_id = {t.ticket_type_id: t for t in show.ticket_types}
    assert by_id[stalls].sale_starts_at is None, "its own bound: none, the event's applies"
    assert (by_id[balcony].sale_starts_at, by_id[balcony].max_tickets_per_account) == (
        opens - timedelta(hours=2),
        2,
    )


# --- organiser edits (issue 25) ------------------------------------------------------


def ticket_type_changed(scenario, event_id, ticket_type_id, **changes):
    fields = {
        "name": "Tier 0",
        "price": Decimal("49.50"),
        "currency": "EUR",
        "quantity": 100,
        "sales_closed": False,
    }
    return scenario.envelope(
        TicketTypeChanged(event_id=event_id, ticket_type_id=ticket_type_id, **(fields | changes))
    )


def test_a_ticket_type_edit_replaces_its_editable_state_and_leaves_the_others(scenario):
    created = scenario.event_created(uuid4(), quantities=(100, 20))
    event_id = scenario.subject_id(created)
    stalls, balcony = scenario.ticket_type_ids(created)
    edited = ticket_type_changed(
        scenario,
        event_id,
        stalls,
        name="Front stalls",
        price=Decimal("60.00"),
        quantity=150,
        sales_closed=True,
    )

    show = fold([created, edited, edited]).shows[event_id]

    front, other = show.ticket_types
    assert (front.name, front.price, front.quantity, front.sales_closed) == (
        "Front stalls",
        Decimal("60.00"),
        150,
        True,
    )
    assert (other.ticket_type_id, other.quantity, other.sales_closed) == (balcony, 20, False)
    assert show.version == 2


def test_an_older_edit_after_a_newer_one_changes_nothing(scenario):
    created = scenario.event_created(uuid4(), quantities=(100,))
    event_id = scenario.subject_id(created)
    (stalls,) = scenario.ticket_type_ids(created)
    closed = ticket_type_changed(scenario, event_id, stalls, sales_closed=True)
    reopened = ticket_type_changed(scenario, event_id, stalls, sales_closed=False)

    show = fold([created, closed, reopened, closed]).shows[event_id]

    assert not show.ticket_types[0].sales_closed


def test_a_removed_ticket_type_stays_removed_when_its_addition_comes_again(scenario):
    created = scenario.event_created(uuid4(), quantities=(100,))
    event_id = scenario.subject_id(created)
    added = scenario.ticket_type_added(event_id, quantity=5)
    extra = added.data["ticket_type"]["ticket_type_id"]
    removed = scenario.envelope(TicketTypeRemoved(event_id=event_id, ticket_type_id=extra))

    show = fold([created, added, removed, added]).shows[event_id]

    assert [(str(t.ticket_type_id), t.removed) for t in show.ticket_types][-1] == (extra, True)
    assert [t.removed for t in show.ticket_types].count(True) == 1


def test_the_events_hold_and_offer_windows_follow_its_sale_fact(scenario):
    created = scenario.event_created(uuid4())
    event_id = scenario.subject_id(created)
    sale = scenario.envelope(
        EventSaleChanged(
            event_id=event_id,
            sale_starts_at=None,
            sale_ends_at=None,
            max_tickets_per_account=None,
            hold_minutes=10,
            waitlist_offer_minutes=30,
        )
    )

    show = fold([created, sale]).shows[event_id]

    assert (show.hold_minutes, show.waitlist_offer_minutes) == (10, 30)
