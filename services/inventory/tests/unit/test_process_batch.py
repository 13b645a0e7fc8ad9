from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from inventory.application.messages import DecodedMessage, MessagePosition
from inventory.application.process_batch import BatchResult, ProcessMessageBatch
from ticketing_contracts import events as public
from ticketing_contracts.events import decode_message

from .fakes import FakeCatalog, FakeStore, FakeUnitOfWork

EVENT = uuid4()
TICKETS = uuid4()
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


def catalog(quantity: int) -> list[public.PublicEvent]:
    return [
        public.EventCreated(
            event_id=EVENT,
            venue_id=uuid4(),
            name="Show",
            starts_at=datetime.now(UTC) + timedelta(days=3),
            ticket_types=(
                public.TicketType(
                    ticket_type_id=TICKETS,
                    name="Standing",
                    price=Decimal("10.00"),
                    currency="EUR",
                    quantity=quantity,
                ),
            ),
        ),
        public.EventPublished(event_id=EVENT),
    ]


def request(quantity: int, booking_id: UUID | None = None) -> public.BookingRequested:
    return public.BookingRequested(
        booking_id=booking_id or uuid4(),
        event_id=EVENT,
        ticket_type_id=TICKETS,
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


@pytest.fixture
def use_case(store: FakeStore, catalog_progress: FakeCatalog) -> ProcessMessageBatch:
    return ProcessMessageBatch(
        lambda: FakeUnitOfWork(store),
        catalog_progress,
        outcome_topic=OUTCOMES,
        producer="inventory",
    )


@pytest.fixture
def process(use_case: ProcessMessageBatch) -> Process:
    return Process(use_case)


def outcomes_of(store: FakeStore) -> list[public.PublicEvent]:
    return [decode_message(m.value)[1] for m in store.outbox if m.topic == OUTCOMES]


def of_type(store: FakeStore, kind: type[public.PublicEvent]) -> list[public.PublicEvent]:
    return [event for event in outcomes_of(store) if isinstance(event, kind)]


async def test_decides_a_whole_batch_in_one_commit(process: Process, store: FakeStore) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5)])
    commits = store.commits
    await process([feed.message(request(2)) for _ in range(4)])
    assert store.commits == commits + 1
    assert len(of_type(store, public.TicketsReserved)) == 2
    rejected = of_type(store, public.ReservationRejected)
    assert [r.reason for r in rejected if isinstance(r, public.ReservationRejected)] == [
        public.RejectionReason.NOT_ENOUGH_TICKETS,
        public.RejectionReason.NOT_ENOUGH_TICKETS,
    ]
    assert store.shows[EVENT].ticket_types[TICKETS].reserved == 4
    assert len(of_type(store, public.StockInitialised)) == 1


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


async def test_outcomes_carry_the_correlation_id_and_a_stable_id(
    process: Process, store: FakeStore
) -> None:
    feed = Feed()
    await process([feed.message(e, topic="catalog") for e in catalog(5)])
    message = feed.message(request(1))
    await process([message])
    reserved = [m for m in store.outbox if b"tickets_reserved" in m.value]
    envelope, _ = decode_message(reserved[0].value)
    assert envelope.correlation_id == message.envelope.correlation_id
    assert envelope.causation_id == str(message.envelope.event_id)
    assert reserved[0].key == str(EVENT).encode()


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
    confirmed = public.BookingConfirmed(
        **common,
        owner_id="user-1",
        customer_name="Ada Lovelace",
        customer_email="ada@example.org",
        total_price=Decimal("30.00"),
        currency="EUR",
    )
    await process([feed.message(booking), feed.message(confirmed)])
    assert store.shows[EVENT].ticket_types[TICKETS].sold == 3
    await process([feed.message(public.BookingCancelled(**common, cancelled_by="user-1"))])
    stock = store.shows[EVENT].ticket_types[TICKETS]
    assert (stock.reserved, stock.sold, stock.version) == (0, 0, 3)
    assert len(of_type(store, public.TicketsSold)) == 1
    assert len(of_type(store, public.TicketsReleased)) == 1


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
