"""Hold batches, the unclaimed-hold sweep and the release of bookings a restored event store
lost, over fake storage and a fake booking-command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from inventory.application.hold_tickets import HoldTickets
from inventory.application.release_not_stored import ReleaseBookingsNotStored
from inventory.application.unclaimed_holds import ReleaseUnclaimedHolds
from inventory.domain.bookings import BookingState
from inventory.domain.holds import HoldGranted, HoldRefused
from inventory.domain.ledger import InventoryLedger
from inventory.domain.outcomes import BookingLine
from inventory.domain.stock import ShowInventory, ShowStatus, TicketStock
from ticketing_contracts import events as public
from ticketing_contracts.events import RejectionReason
from ticketing_contracts.holds import HOLD_RELEASED

from .fakes import FakeBookingDirectory, FakeCatalog, FakeStore, FakeUnitOfWork

EVENT = UUID(int=1)
TICKETS = UUID(int=2)
BALCONY = UUID(int=3)
OUTCOMES = "inventory-outcomes"
HOLD_FOR = timedelta(minutes=2)
CLAIM_WITHIN = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def on_sale(**quantities: int) -> FakeStore:
    ticket_types = {TICKETS: quantities.get("tickets", 5), BALCONY: quantities.get("balcony", 5)}
    show = ShowInventory(
        EVENT,
        ShowStatus.ON_SALE,
        {ticket_type: TicketStock(ticket_type, n) for ticket_type, n in ticket_types.items()},
        1,
    )
    return FakeStore(shows={EVENT: show})


@pytest.fixture
def store() -> FakeStore:
    return on_sale()


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


@pytest.fixture
def hold_tickets(store: FakeStore, catalog: FakeCatalog, clock: Clock) -> HoldTickets:
    return HoldTickets(
        lambda: FakeUnitOfWork(store),
        catalog,
        hold_for=HOLD_FOR,
        claim_within=CLAIM_WITHIN,
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )


def sweeper(
    store: FakeStore, directory: FakeBookingDirectory, clock: Clock
) -> ReleaseUnclaimedHolds:
    return ReleaseUnclaimedHolds(
        lambda: FakeUnitOfWork(store),
        directory,
        batch_size=100,
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )


def holds_of(store: FakeStore, clock: Clock) -> HoldTickets:
    return HoldTickets(
        lambda: FakeUnitOfWork(store),
        FakeCatalog(),
        hold_for=HOLD_FOR,
        claim_within=CLAIM_WITHIN,
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )


def line(quantity: int, ticket_type_id: UUID = TICKETS) -> BookingLine:
    return BookingLine(uuid4(), EVENT, ticket_type_id, quantity)


def published(store: FakeStore) -> list[public.PublicEvent]:
    return [public.decode_message(message.value)[1] for message in store.outbox]


def stock_facts(store: FakeStore) -> list[public.StockChanged]:
    facts = published(store)
    assert all(isinstance(fact, public.StockChanged) for fact in facts), facts
    return [fact for fact in facts if isinstance(fact, public.StockChanged)]


def stock(store: FakeStore) -> TicketStock:
    return store.shows[EVENT].ticket_types[TICKETS]


async def test_a_batch_holds_what_stock_allows_and_publishes_the_stock_after_it(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    batch = [line(2), line(2), line(2)]
    result = await hold_tickets(batch, correlation_id="corr-1")
    expires_at = clock.now + HOLD_FOR
    assert result.answers == [
        HoldGranted(batch[0].booking_id, expires_at),
        HoldGranted(batch[1].booking_id, expires_at),
        HoldRefused(batch[2].booking_id, RejectionReason.NOT_ENOUGH_TICKETS),
    ]
    assert (stock(store).reserved, store.commits) == (4, 1)
    [fact] = stock_facts(store)
    assert (fact.event_id, fact.ticket_type_id) == (EVENT, TICKETS)
    assert (fact.stock.reserved, fact.stock.available, fact.stock_version) == (4, 1, 2)


async def test_a_hold_batch_of_20_bookings_for_one_ticket_type_publishes_one_stock_snapshot(
    clock: Clock,
) -> None:
    store = on_sale(tickets=100)
    await holds_of(store, clock)([line(2) for _ in range(20)], correlation_id="corr-1")
    [fact] = stock_facts(store)
    assert (fact.stock.quantity, fact.stock.reserved, fact.stock.sold) == (100, 40, 0)
    assert (fact.stock.available, fact.stock_version) == (60, 20)
    [message] = store.outbox
    envelope, _ = public.decode_message(message.value)
    assert (envelope.correlation_id, message.key) == ("corr-1", str(EVENT).encode())


async def test_a_hold_batch_publishes_one_stock_snapshot_per_ticket_type_it_held(
    hold_tickets: HoldTickets, store: FakeStore
) -> None:
    batch = [line(1), line(1, BALCONY), line(2), line(1, BALCONY), line(9, BALCONY)]
    await hold_tickets(batch, correlation_id="corr-1")
    by_type = {fact.ticket_type_id: fact.stock for fact in stock_facts(store)}
    assert {k: (v.reserved, v.available) for k, v in by_type.items()} == {
        TICKETS: (3, 2),
        BALCONY: (2, 3),
    }


async def test_a_batch_that_holds_nothing_publishes_nothing(
    hold_tickets: HoldTickets, store: FakeStore
) -> None:
    result = await hold_tickets([line(6), line(9, BALCONY)], correlation_id="corr-1")
    assert all(isinstance(answer, HoldRefused) for answer in result.answers)
    assert store.outbox == []


async def test_fact_ids_name_the_decisions_and_when_they_were_made(clock: Clock) -> None:
    # The same decisions at the same moment name their facts the same, whatever request
    # carried them; decided again later (a database restored from a backup) they do not.
    batch = [line(2), line(1, BALCONY)]
    first, same, restored = on_sale(), on_sale(), on_sale()
    await holds_of(first, clock)(batch, correlation_id="corr-1")
    await holds_of(same, clock)(batch, correlation_id="corr-2")
    clock.now += timedelta(minutes=1)
    await holds_of(restored, clock)(batch, correlation_id="corr-1")
    assert len(first.outbox) == 2
    assert [m.message_id for m in first.outbox] == [m.message_id for m in same.outbox]
    assert not {m.message_id for m in first.outbox} & {m.message_id for m in restored.outbox}


async def test_a_retried_batch_is_answered_the_same_and_holds_nothing_twice(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    batch = [line(3), line(3)]
    first = await hold_tickets(batch, correlation_id="corr-1")
    outbox = list(store.outbox)
    clock.now += timedelta(seconds=5)
    again = await hold_tickets(batch, correlation_id="corr-2")
    assert again.answers == first.answers
    assert again.decided == []
    assert stock(store).reserved == 3
    assert store.outbox == outbox


async def test_an_unknown_event_is_refused_only_after_the_catalog_caught_up(
    hold_tickets: HoldTickets, catalog: FakeCatalog
) -> None:
    unknown = BookingLine(uuid4(), uuid4(), TICKETS, 1)
    result = await hold_tickets([line(1), unknown], correlation_id="corr-1")
    assert catalog.waits == 1
    assert result.waited_for_catalog
    assert result.answers[1] == HoldRefused(unknown.booking_id, RejectionReason.UNKNOWN_EVENT)


async def test_an_unclaimed_hold_is_released_only_when_booking_command_does_not_store_it(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    stored, unclaimed, early = line(1), line(2), line(1)
    await hold_tickets([stored, unclaimed], correlation_id="corr-1")
    clock.now += timedelta(seconds=10)
    await hold_tickets([early], correlation_id="corr-2")
    directory = FakeBookingDirectory(stored={stored.booking_id})
    sweep = sweeper(store, directory, clock)

    assert (await sweep()).due == 0, "nothing is due before its deadline"
    assert directory.asked == []

    clock.now += CLAIM_WITHIN - timedelta(seconds=5)
    result = await sweep()
    assert (result.due, result.released, result.claimed) == (2, 1, 1)
    assert sorted(directory.asked[0]) == sorted([stored.booking_id, unclaimed.booking_id])
    assert store.bookings[unclaimed.booking_id].state is BookingState.RELEASED_UNCLAIMED
    assert store.bookings[stored.booking_id].claim_by is None, "claimed: never asked again"
    assert store.bookings[early.booking_id].awaits_claim
    assert stock(store).reserved == 2
    released = stock_facts(store)[-1]
    assert (released.ticket_type_id, released.stock.reserved) == (TICKETS, 2)
    assert released.stock_version == stock(store).version

    late_retry = await hold_tickets([unclaimed], correlation_id="corr-3")
    assert late_retry.answers == [HoldRefused(unclaimed.booking_id, HOLD_RELEASED)]
    assert stock(store).reserved == 2


async def test_nothing_is_released_while_booking_command_does_not_answer(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    booking = line(2)
    await hold_tickets([booking], correlation_id="corr-1")
    clock.now += CLAIM_WITHIN * 10
    commits = store.commits
    silent = FakeBookingDirectory(failure=TimeoutError("booking-command did not answer"))
    with pytest.raises(TimeoutError):
        await sweeper(store, silent, clock)()
    assert store.commits == commits
    assert store.bookings[booking.booking_id].awaits_claim
    assert stock(store).reserved == 2

    answered = await sweeper(store, FakeBookingDirectory(), clock)()
    assert answered.released == 1
    assert stock(store).reserved == 0


async def test_a_sweep_publishes_one_stock_snapshot_per_ticket_type_it_released(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    await hold_tickets([line(1), line(2), line(1, BALCONY)], correlation_id="corr-1")
    held = len(store.outbox)
    clock.now += CLAIM_WITHIN
    result = await sweeper(store, FakeBookingDirectory(), clock)()
    assert result.released == 3
    swept = stock_facts(store)[held:]
    assert {(fact.ticket_type_id, fact.stock.available) for fact in swept} == {
        (TICKETS, 5),
        (BALCONY, 5),
    }


async def test_a_sweep_that_releases_nothing_publishes_nothing(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    booking = line(2)
    await hold_tickets([booking], correlation_id="corr-1")
    outbox = list(store.outbox)
    clock.now += CLAIM_WITHIN
    directory = FakeBookingDirectory(stored={booking.booking_id})
    assert (await sweeper(store, directory, clock)()).claimed == 1
    assert store.outbox == outbox


# -- after a restore of booking-command's event store ------------------------------


def release_not_stored(
    store: FakeStore, directory: FakeBookingDirectory, clock: Clock
) -> ReleaseBookingsNotStored:
    return ReleaseBookingsNotStored(
        lambda: FakeUnitOfWork(store),
        directory,
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )


async def test_sold_and_held_tickets_of_bookings_the_event_store_lost_go_back(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    kept, lost_sold, lost_held = line(1), line(2), line(1)
    await hold_tickets([kept, lost_sold, lost_held], correlation_id="corr-1")
    ledger = InventoryLedger(store.shows.values(), store.bookings.values())
    ledger.confirm_booking(lost_sold.booking_id)
    assert (stock(store).reserved, stock(store).sold) == (2, 2)
    directory = FakeBookingDirectory(stored={kept.booking_id})
    clock.now += timedelta(minutes=5)

    outcome = await release_not_stored(store, directory, clock)(
        [kept.booking_id, lost_sold.booking_id, lost_held.booking_id]
    )

    assert sorted(map(str, outcome.released)) == sorted(
        map(str, [lost_sold.booking_id, lost_held.booking_id])
    )
    assert outcome.stored == [kept.booking_id]
    assert (stock(store).reserved, stock(store).sold) == (1, 0)
    for lost in (lost_sold, lost_held):
        assert store.bookings[lost.booking_id].state is BookingState.RELEASED_UNCLAIMED
    released = stock_facts(store)[-1]
    assert (released.stock.reserved, released.stock.sold) == (1, 0)
    # A retry of a released booking's hold is refused: booking-command never stores it now.
    retry = await hold_tickets([lost_held], correlation_id="corr-2")
    assert retry.answers == [HoldRefused(lost_held.booking_id, HOLD_RELEASED)]


async def test_bookings_taking_no_tickets_or_unknown_change_nothing(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    held = line(1)
    await hold_tickets([held], correlation_id="corr-1")
    unknown = line(1)
    commits = store.commits
    release = release_not_stored(store, FakeBookingDirectory(), clock)
    await release([held.booking_id])

    again = await release([held.booking_id, unknown.booking_id])

    assert again.released == []
    assert sorted(map(str, again.taking_no_tickets)) == sorted(
        map(str, [held.booking_id, unknown.booking_id])
    )
    assert store.commits == commits + 2
    assert stock(store).reserved == 0


async def test_no_lost_booking_is_released_while_booking_command_does_not_answer(
    hold_tickets: HoldTickets, store: FakeStore, clock: Clock
) -> None:
    held = line(2)
    await hold_tickets([held], correlation_id="corr-1")
    silent = FakeBookingDirectory(failure=TimeoutError("booking-command did not answer"))

    with pytest.raises(TimeoutError):
        await release_not_stored(store, silent, clock)([held.booking_id])

    assert stock(store).reserved == 2
