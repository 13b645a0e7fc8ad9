from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from inventory.application.messages import DecodedMessage, MessagePosition
from inventory.application.process_batch import BatchResult, ProcessMessageBatch
from inventory.domain.bookings import BookingRecord, BookingState
from ticketing_contracts import events as public
from ticketing_contracts.events import decode_message

from .fakes import FakeCatalog, FakeStore, FakeUnitOfWork

EVENT = uuid4()
TICKETS = uuid4()
BALCONY = uuid4()
OUTCOMES = "inventory-outcomes"


class Feed:
    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}

    def message(self, event: public.PublicEvent, *, topic: str = "bookings") -> DecodedMessage:
        envelope = event.to_envelope(correlation_id=f"corr-{uuid4().hex[:6]}", producer="test")
        return self.again(DecodedMessage(MessagePosition(topic, 0, 0), envelope, event), topic)

    def again(self, message: DecodedMessage, topic: str = "bookings") -> DecodedMessage:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        return DecodedMessage(MessagePosition(topic, 0, offset), message.envelope, message.event)


def catalog(quantity: int, balcony: int | None = None) -> list[public.PublicEvent]:
    sizes = {TICKETS: ("Standing", quantity)}
    if balcony is not None:
        sizes[BALCONY] = ("Balcony", balcony)
    return [
        public.EventCreated(
            event_id=EVENT,
            venue_id=uuid4(),
            name="Show",
            starts_at=datetime.now(UTC) + timedelta(days=3),
            ticket_types=tuple(
                public.TicketType(
                    ticket_type_id=ticket_type_id,
                    name=name,
                    price=Decimal("10.00"),
                    currency="EUR",
                    quantity=size,
                )
                for ticket_type_id, (name, size) in sizes.items()
            ),
        ),
        public.EventPublished(event_id=EVENT),
    ]


def request(
    quantity: int, booking_id: UUID | None = None, ticket_type_id: UUID = TICKETS
) -> public.BookingRequested:
    return public.BookingRequested(
        booking_id=booking_id or uuid4(),
        event_id=EVENT,
        ticket_type_id=ticket_type_id,
        quantity=quantity,
        owner_id="user-1",
        customer_name="Ada Lovelace",
        customer_email="ada@example.org",
        unit_price=Decimal("10.00"),
        total_price=Decimal("10.00") * quantity,
        currency="EUR",
        hold_expires_at=datetime.now(UTC) + timedelta(minutes=10),
    )


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def catalog_progress() -> FakeCatalog:
    return FakeCatalog()


class Process:
    """The use case, told that each batch's partition continues after its last message."""

    def __init__(self, use_case: ProcessMessageBatch) -> None:
        self.use_case = use_case

    async def __call__(self, messages: list[DecodedMessage]) -> BatchResult:
        last = messages[-1].position
        next_offset = MessagePosition(last.topic, last.partition, last.offset + 1)
        return await self.use_case(messages, next_offset=next_offset)


DECIDED_AT = datetime(2030, 1, 1, 12, tzinfo=UTC)


def deciding_on(
    store: FakeStore,
    catalog_progress: FakeCatalog,
    clock: Callable[[], datetime] = lambda: DECIDED_AT,
) -> ProcessMessageBatch:
    return ProcessMessageBatch(
        lambda: FakeUnitOfWork(store),
        catalog_progress,
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )


@pytest.fixture
def use_case(store: FakeStore, catalog_progress: FakeCatalog) -> ProcessMessageBatch:
    return deciding_on(store, catalog_progress)


@pytest.fixture
def process(use_case: ProcessMessageBatch) -> Process:
    return Process(use_case)


def outcomes_of(store: FakeStore) -> list[public.PublicEvent]:
    return [decode_message(m.value)[1] for m in store.outbox if m.topic == OUTCOMES]


def of_type(store: FakeStore, kind: type[public.PublicEvent]) -> list[public.PublicEvent]:
    return [event for event in outcomes_of(store) if isinstance(event, kind)]


def stock_facts(store: FakeStore) -> list[public.StockChanged]:
    return [e for e in outcomes_of(store) if isinstance(e, public.StockChanged)]


def confirmation(booking: public.BookingRequested) -> public.BookingConfirmed:
    return public.BookingConfirmed(
        booking_id=booking.booking_id,
        event_id=booking.event_id,
        ticket_type_id=booking.ticket_type_id,
        quantity=booking.quantity,
        owner_id="user-1",
        customer_name="Ada Lovelace",
        customer_email="ada@example.org",
        total_price=booking.total_price,
        currency="EUR",
        provider_reference=f"pi_{booking.booking_id.hex[:12]}",
    )


def held_over_http(store: FakeStore, booking: public.BookingRequested) -> None:
    """As the hold call leaves a booking: its tickets reserved, waiting for its claim."""
    store.shows[EVENT].ticket_types[booking.ticket_type_id].reserve(booking.quantity)
    store.bookings[booking.booking_id] = BookingRecord(
        booking.booking_id,
        EVENT,
        booking.ticket_type_id,
        booking.quantity,
        BookingState.RESERVED,
        hold_expires_at=booking.hold_expires_at,
        claim_by=datetime.now(UTC) + timedelta(seconds=30),
    )


async def test_learning_the_catalog_publishes_the_stock_of_each_new_ticket_type(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5, balcony=3)])
    facts = {fact.ticket_type_id: fact for fact in stock_facts(store)}
    assert {k: (f.stock.available, f.stock_version) for k, f in facts.items()} == {
        TICKETS: (5, 0),
        BALCONY: (3, 0),
    }
    assert outcomes_of(store) == list(facts.values())


async def test_decides_a_whole_batch_in_one_commit(process: Process, store: FakeStore) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5)])
    learned = len(store.outbox)
    commits = store.commits
    await process([feed.message(request(2)) for _ in range(4)])
    assert store.commits == commits + 1
    assert store.shows[EVENT].ticket_types[TICKETS].reserved == 4
    decided = [decode_message(m.value)[1] for m in store.outbox[learned:]]
    rejected = [e for e in decided if isinstance(e, public.ReservationRejected)]
    assert [r.reason for r in rejected] == [
        public.RejectionReason.NOT_ENOUGH_TICKETS,
        public.RejectionReason.NOT_ENOUGH_TICKETS,
    ]
    [snapshot] = [e for e in decided if isinstance(e, public.StockChanged)]
    assert (snapshot.stock.reserved, snapshot.stock.available, snapshot.stock_version) == (4, 1, 2)
    assert len(decided) == 3


async def test_claiming_held_bookings_changes_no_stock_and_publishes_nothing(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(50)])
    outbox = list(store.outbox)
    bookings = [request(2) for _ in range(10)]
    for booking in bookings:
        held_over_http(store, booking)
    version = store.shows[EVENT].ticket_types[TICKETS].version
    result = await process([feed.message(booking) for booking in bookings])
    assert result.applied == 10
    assert store.outbox == outbox
    stock = store.shows[EVENT].ticket_types[TICKETS]
    assert (stock.reserved, stock.version) == (20, version)
    assert all(store.bookings[b.booking_id].claim_by is None for b in bookings)


async def test_confirming_a_batch_of_bookings_publishes_one_snapshot_per_ticket_type(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(50, balcony=20)])
    bookings = [request(2) for _ in range(6)] + [request(1, ticket_type_id=BALCONY)]
    bookings += [request(3, ticket_type_id=BALCONY) for _ in range(3)]
    for booking in bookings:
        held_over_http(store, booking)
    await process([feed.message(booking) for booking in bookings])  # their claims
    learned = len(store.outbox)

    await process([feed.message(confirmation(booking)) for booking in bookings])
    confirmed = [decode_message(m.value)[1] for m in store.outbox[learned:]]
    assert all(isinstance(fact, public.StockChanged) for fact in confirmed)
    levels = {
        fact.ticket_type_id: (fact.stock.reserved, fact.stock.sold, fact.stock.available)
        for fact in confirmed
        if isinstance(fact, public.StockChanged)
    }
    assert levels == {TICKETS: (0, 12, 38), BALCONY: (0, 10, 10)}


async def test_a_redelivered_batch_publishes_nothing_new(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(10)])
    batch = [feed.message(request(2)) for _ in range(3)]
    await process(batch)
    outbox = list(store.outbox)
    # Redelivered at the same positions, and published again at new ones.
    result = await process([*batch, *(feed.again(message) for message in batch)])
    assert result.duplicates == 6
    assert store.outbox == outbox
    assert store.shows[EVENT].ticket_types[TICKETS].reserved == 6


async def test_fact_ids_name_the_decisions_and_when_they_were_made(
    catalog_progress: FakeCatalog,
) -> None:
    # The same decisions at the same moment name their facts the same; decided again later
    # (a database restored from a backup reading the same facts) they do not.
    feed = Feed()
    learn = [feed.message(e, topic="catalog") for e in catalog(3)]
    batch = [feed.message(request(2)), feed.message(request(2))]
    ids = []
    for decided_at in (DECIDED_AT, DECIDED_AT, DECIDED_AT + timedelta(minutes=5)):
        store = FakeStore()
        process = Process(deciding_on(store, catalog_progress, clock=lambda at=decided_at: at))
        await process(learn)
        await process(batch)
        ids.append([message.message_id for message in store.outbox])
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == len(ids[0]) == 3  # learned, held, refused
    assert not set(ids[0]) & set(ids[2])


async def test_redelivered_and_republished_messages_have_no_second_effect(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5)])
    first = feed.message(request(2))
    await process([first])
    outbox_size = len(store.outbox)
    result = await process([first, feed.again(first)])  # redelivery + duplicate publish
    assert result.duplicates == 2
    assert len(store.outbox) == outbox_size
    assert store.shows[EVENT].ticket_types[TICKETS].reserved == 2


async def test_a_stock_fact_continues_the_last_message_that_moved_its_stock(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5)])
    learned = len(store.outbox)
    first, last = feed.message(request(1)), feed.message(request(1))
    await process([first, last, feed.message(request(9))])  # the last one is refused
    [snapshot] = [m for m in store.outbox[learned:] if b"stock_changed" in m.value]
    envelope, _ = decode_message(snapshot.value)
    assert envelope.correlation_id == last.envelope.correlation_id
    assert envelope.causation_id == str(last.envelope.event_id)
    assert snapshot.key == str(EVENT).encode()


async def test_confirm_then_cancel_moves_tickets_sold_then_back(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5)])
    booking = request(3)
    common = {
        "booking_id": booking.booking_id,
        "event_id": EVENT,
        "ticket_type_id": TICKETS,
        "quantity": 3,
    }
    confirmed = confirmation(booking)
    await process([feed.message(booking), feed.message(confirmed)])
    assert store.shows[EVENT].ticket_types[TICKETS].sold == 3
    await process([feed.message(public.BookingCancelled(**common, cancelled_by="user-1"))])
    stock = store.shows[EVENT].ticket_types[TICKETS]
    assert (stock.reserved, stock.sold, stock.version) == (0, 0, 3)
    levels = [(f.stock.reserved, f.stock.sold, f.stock_version) for f in stock_facts(store)]
    assert levels == [(0, 0, 0), (0, 3, 2), (0, 0, 3)]


async def test_unknown_event_is_rejected_only_after_the_catalog_caught_up(
    process: Process, store: FakeStore, catalog_progress: FakeCatalog
) -> None:
    result = await process([Feed().message(request(1))])
    assert catalog_progress.waits == 1
    assert result.waited_for_catalog
    rejected = of_type(store, public.ReservationRejected)
    assert [r.reason for r in rejected if isinstance(r, public.ReservationRejected)] == [
        public.RejectionReason.UNKNOWN_EVENT
    ]


async def test_records_where_the_partition_continues_with_the_batch(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5)])
    await process([feed.message(request(1)), feed.message(request(1))])
    assert store.next_offsets == {("catalog", 0): 2, ("bookings", 0): 2}


async def test_an_empty_batch_still_moves_the_partition_on(
    use_case: ProcessMessageBatch, store: FakeStore
) -> None:
    # Everything in the range went to the dead-letter topic.
    result = await use_case([], next_offset=MessagePosition("bookings", 0, 7))
    assert store.next_offsets == {("bookings", 0): 7}
    assert store.outbox == []
    assert result.messages == 0


async def test_a_redelivered_batch_still_records_its_offset_and_never_moves_it_back(
    use_case: ProcessMessageBatch, process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5)])
    first = feed.message(request(1))
    await use_case([first], next_offset=MessagePosition("bookings", 0, 3))
    result = await use_case([first], next_offset=MessagePosition("bookings", 0, 5))
    assert result.duplicates == 1
    assert store.next_offsets[("bookings", 0)] == 5
    await use_case([first], next_offset=MessagePosition("bookings", 0, 1))
    assert store.next_offsets[("bookings", 0)] == 5


async def test_sale_terms_from_the_catalog_decide_booking_facts_in_the_same_batch(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    created, published = catalog(10, balcony=10)
    assert isinstance(created, public.EventCreated)
    limited = created.model_copy(
        update={
            "ticket_types": tuple(
                t.model_copy(update={"max_tickets_per_account": 3})
                if t.ticket_type_id == BALCONY
                else t
                for t in created.ticket_types
            )
        }
    )
    await process([feed.message(e, topic="catalog") for e in (limited, published)])
    assert store.shows[EVENT].ticket_types[BALCONY].sale.max_tickets_per_account == 3

    # The event's own limit arrives in the same batch as the facts it decides.
    event_limit = public.EventSaleChanged(
        event_id=EVENT, sale_starts_at=None, sale_ends_at=None, max_tickets_per_account=4
    )
    first, over = request(2, ticket_type_id=BALCONY), request(2, ticket_type_id=BALCONY)
    standing, too_many = request(2), request(1)
    await process(
        [feed.message(event_limit), *(feed.message(e) for e in (first, over, standing, too_many))]
    )

    reasons = {
        event.booking_id: event.reason
        for event in of_type(store, public.ReservationRejected)
        if isinstance(event, public.ReservationRejected)
    }
    assert reasons == {
        over.booking_id: public.RejectionReason.PURCHASE_LIMIT_REACHED,
        too_many.booking_id: public.RejectionReason.PURCHASE_LIMIT_REACHED,
    }
    assert store.shows[EVENT].sale.max_tickets_per_account == 4
    assert store.bookings[first.booking_id].owner_id == "user-1"


async def test_a_ticket_types_window_change_reaches_the_stock_it_decides(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(10)])
    closed = datetime.now(UTC) - timedelta(minutes=1)
    change = public.TicketTypeSaleChanged(
        event_id=EVENT,
        ticket_type_id=TICKETS,
        sale_starts_at=None,
        sale_ends_at=closed,
        max_tickets_per_account=None,
    )
    late = request(1)

    await process([feed.message(change, topic="catalog"), feed.message(late)])

    [rejected] = of_type(store, public.ReservationRejected)
    assert isinstance(rejected, public.ReservationRejected)
    assert rejected.reason is public.RejectionReason.NOT_ON_SALE
    assert store.shows[EVENT].ticket_types[TICKETS].sale.ends_at == closed
