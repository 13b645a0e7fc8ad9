from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from booking_command.adapters.public_events import OutboxMapper
from booking_command.application import commands
from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.group_commit import GroupCommitter
from booking_command.application.handlers import command_handlers
from booking_command.application.message_bus import (
    CONFLICTED,
    ConflictRetries,
    Handled,
    MessageBus,
    Prepared,
)
from booking_command.application.results import CommandResult, IdempotencyClaim
from booking_command.domain.booking import Booking
from booking_command.domain.catalog_event import Event
from service_kit.errors import ConflictError, InvalidInputError, NotFoundError
from service_kit.request_context import correlation_id_var

from .conftest import HOLD, Clock, OnSale, book, booking_write, put_event_on_sale, reserve_and_pay
from .fake_inventory import FakeInventory
from .handling import handle, message, message_bus, store


@pytest.fixture
def inventory() -> FakeInventory:
    return FakeInventory()


@pytest.fixture
def executor() -> Iterator[EventStoreExecutor]:
    executor = EventStoreExecutor(8)
    yield executor
    executor.shutdown()


@pytest.fixture
async def group_commit(
    app: BookingCommandApplication, executor: EventStoreExecutor
) -> AsyncIterator[GroupCommitter]:
    group_commit = GroupCommitter(app.commit, executor, max_batch=100)
    group_commit.start()
    yield group_commit
    await group_commit.stop()


@pytest.fixture
def bus(
    app: BookingCommandApplication,
    executor: EventStoreExecutor,
    group_commit: GroupCommitter,
    inventory: FakeInventory,
) -> MessageBus:
    return message_bus(app, executor, group_commit, inventory)


def booking_request(on_sale: OnSale, owner: str = "user-1") -> commands.RequestBooking:
    return commands.RequestBooking(
        event_id=on_sale.event_id,
        ticket_type_id=on_sale.ticket_type_id,
        quantity=2,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        owner_id=owner,
        payment_token="tok_visa",
    )


def test_booking_is_priced_by_the_server(app: BookingCommandApplication) -> None:
    on_sale = put_event_on_sale(app, price="12.25")
    [result] = app.commit([booking_write(app, on_sale)])
    assert (result.body["total_price"], result.body["currency"]) == ("24.50", "EUR")


def test_rejects_booking_for_unpublished_event(app: BookingCommandApplication) -> None:
    on_sale = put_event_on_sale(app, publish=False)
    with pytest.raises(ConflictError) as raised:
        booking_write(app, on_sale)
    assert raised.value.error_type == "event_not_on_sale"


def test_cancelled_event_stops_selling(app: BookingCommandApplication, on_sale: OnSale) -> None:
    store(app, [commands.CancelEvent(on_sale.event_id, reason="storm")])
    with pytest.raises(ConflictError):
        booking_write(app, on_sale)


def test_venue_with_upcoming_event_cannot_be_deleted(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    with pytest.raises(ConflictError):
        handle(app, commands.DeleteVenue(on_sale.venue_id))


def test_venue_can_be_deleted_once_its_event_is_cancelled(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    store(app, [commands.CancelEvent(on_sale.event_id, reason="")])
    [result] = store(app, [commands.DeleteVenue(on_sale.venue_id)])
    assert result.body["deleted"] is True


def test_command_result_carries_version_and_position(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    [result] = store(
        app, [commands.ChangeEventDetails(on_sale.event_id, name="New", description="")]
    )
    assert result.version == 3
    assert result.position == app.recorder.max_notification_id()


def test_someone_elses_booking_is_not_found(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = book(app, on_sale, owner="user-1")
    with pytest.raises(NotFoundError):
        handle(app, commands.CancelBooking(booking_id, caller_id="user-2", is_admin=False))


def test_admin_can_cancel_a_confirmed_booking(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = book(app, on_sale)
    reserve_and_pay(app, booking_id)
    [result] = store(app, [commands.CancelBooking(booking_id, caller_id="admin-1", is_admin=True)])
    assert (result.body["status"], result.body["cancelled_by"]) == ("CANCELLED", "admin-1")


def test_hold_expires_only_after_its_time(
    app: BookingCommandApplication, on_sale: OnSale, clock: Clock
) -> None:
    booking_id = book(app, on_sale)
    clock.advance(HOLD.total_seconds() - 1)
    assert app.hold_expiry.expire_due_holds() == 0
    clock.advance(1)
    assert app.hold_expiry.expire_due_holds() == 1
    assert app.hold_expiry.expire_due_holds() == 0
    assert app.repository.get(booking_id).status == "EXPIRED"


def test_an_expired_hold_carries_the_correlation_id_of_the_booking_request(
    app: BookingCommandApplication, on_sale: OnSale, clock: Clock
) -> None:
    token = correlation_id_var.set("checkout-42")
    try:
        booking_id = book(app, on_sale)
    finally:
        correlation_id_var.reset(token)
    clock.advance(HOLD.total_seconds())
    assert app.hold_expiry.expire_due_holds() == 1
    expiry = list(app.events.get(booking_id))[-1]
    assert type(expiry).__name__ == "Expired"
    assert expiry.correlation_id == "checkout-42"


def test_confirmed_booking_never_expires(
    app: BookingCommandApplication, on_sale: OnSale, clock: Clock
) -> None:
    booking_id = book(app, on_sale)
    reserve_and_pay(app, booking_id)
    assert app.repository.get(booking_id).status == "CONFIRMED"
    assert app.booking_recorder.due_payment_count() == 0
    clock.advance(HOLD.total_seconds() * 10)
    assert app.hold_expiry.expire_due_holds() == 0
    assert app.booking_recorder.pending_hold_count() == 0


def test_old_version_of_booking_requested_loads_with_euro_currency(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = uuid4()
    version_1_state = {
        "originator_topic": "booking_command.domain.booking:Booking",
        "timestamp": {"_type_": "datetime_iso", "_data_": "2029-12-31T12:00:00+00:00"},
        "event_id": {"_type_": "uuid_hex", "_data_": on_sale.event_id.hex},
        "ticket_type_id": {"_type_": "uuid_hex", "_data_": on_sale.ticket_type_id.hex},
        "quantity": 1,
        "customer_name": "Old Timer",
        "customer_email": "old@example.com",
        "owner_id": "user-1",
        "unit_price": {"_type_": "decimal_str", "_data_": "10.00"},
        "hold_expires_at": {"_type_": "datetime_iso", "_data_": "2029-12-31T12:02:00+00:00"},
    }
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=booking_id,
                originator_version=1,
                topic="booking_command.domain.booking:Booking.Requested",
                state=json.dumps(version_1_state).encode(),
            )
        ]
    )
    booking = app.repository.get(booking_id)
    assert isinstance(booking, Booking)
    assert (booking.currency, booking.total_price) == ("EUR", booking.unit_price)
    assert booking.payment_token == ""


def test_long_lived_events_are_snapshotted(app: BookingCommandApplication, on_sale: OnSale) -> None:
    for number in range(60):
        store(
            app,
            [commands.ChangeEventDetails(on_sale.event_id, name=f"Show {number}", description="")],
        )
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(on_sale.event_id))
    assert snapshots
    show = app.repository.get(on_sale.event_id)
    assert isinstance(show, Event)
    assert show.name == "Show 59"


def test_a_stored_write_is_answered_even_when_its_snapshot_fails(
    app: BookingCommandApplication, on_sale: OnSale, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_snapshot(*args: object, **kwargs: object) -> None:
        raise RuntimeError("snapshot store unavailable")

    monkeypatch.setattr(app, "take_snapshot", broken_snapshot)
    results = [
        store(
            app, [commands.ChangeEventDetails(on_sale.event_id, name=f"Show {n}", description="")]
        )[0]
        for n in range(60)
    ]
    assert [result.version for result in results] == list(range(3, 63))
    assert app.repository.get(on_sale.event_id).version == 62


def test_a_failed_save_leaves_the_write_ready_for_a_retry(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    first = booking_write(app, on_sale)
    clash = booking_write(app, on_sale)
    claim = IdempotencyClaim("user-1", "key-1", "a")
    first.idempotency = claim
    clash.idempotency = claim
    with pytest.raises(IntegrityError):
        app.commit([first, clash])
    [result] = app.commit([first])
    assert app.repository.get(result.id).status == "PENDING"


def test_every_event_carries_the_request_correlation_id(app: BookingCommandApplication) -> None:
    token = correlation_id_var.set("corr-123")
    try:
        on_sale = put_event_on_sale(app)
    finally:
        correlation_id_var.reset(token)
    mapper = OutboxMapper(app.mapper, lambda topic: topic)
    notifications = app.recorder.select_notifications(1, 10)
    messages = [mapper.message_for(n) for n in notifications]
    published = [message for message in messages if message is not None]
    assert {message.envelope.correlation_id for message in published} == {"corr-123"}
    assert all(message.key != b"" for message in published)
    assert on_sale.event_id


def test_internal_venue_schedule_events_are_not_published(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    mapper = OutboxMapper(app.mapper, lambda topic: topic)
    types = [
        message.envelope.type
        for message in map(mapper.message_for, app.recorder.select_notifications(1, 10))
        if message is not None
    ]
    assert types == ["venue.created", "event.created", "event.published"]


async def test_same_idempotency_key_and_body_returns_the_original_response(
    bus: MessageBus, app: BookingCommandApplication
) -> None:
    claim = IdempotencyClaim("caller", "key-1", "fingerprint-a")
    venue = commands.RegisterVenue(name="Hall", capacity=10, address="Road")
    first = await bus.handle(message(venue, claim, status_code=201))
    second = await bus.handle(message(venue, claim, status_code=201))
    assert second.replayed
    assert (second.status_code, second.response_body()) == (201, first.response_body())
    assert app.recorder.max_notification_id() == 1


async def test_same_idempotency_key_with_another_body_is_rejected(
    bus: MessageBus, app: BookingCommandApplication
) -> None:
    venue = commands.RegisterVenue(name="Hall", capacity=10, address="Road")
    await bus.handle(message(venue, IdempotencyClaim("caller", "key-1", "a")))
    with pytest.raises(InvalidInputError) as raised:
        await bus.handle(message(venue, IdempotencyClaim("caller", "key-1", "b")))
    assert raised.value.error_type == "idempotency_key_mismatch"


async def test_idempotency_key_expires(
    bus: MessageBus, app: BookingCommandApplication, clock: Clock
) -> None:
    claim = IdempotencyClaim("caller", "key-1", "a")
    venue = commands.RegisterVenue(name="Hall", capacity=10, address="Road")
    first = await bus.handle(message(venue, claim))
    clock.advance(app.idempotency.ttl.total_seconds())
    second = await bus.handle(message(venue, claim))
    assert not second.replayed
    assert second.id != first.id


async def test_concurrent_requests_with_one_key_have_one_effect(
    bus: MessageBus, app: BookingCommandApplication, on_sale: OnSale
) -> None:
    claim = IdempotencyClaim("user-1", "key-1", "a")
    results = await asyncio.gather(
        *(bus.handle(message(booking_request(on_sale), claim)) for _ in range(10))
    )
    assert len({result.id for result in results}) == 1
    assert sum(not result.replayed for result in results) == 1


async def test_group_commit_stores_a_burst_in_few_transactions(
    bus: MessageBus,
    group_commit: GroupCommitter,
    app: BookingCommandApplication,
    on_sale: OnSale,
) -> None:
    results = await asyncio.gather(
        *(bus.handle(message(booking_request(on_sale))) for _ in range(200))
    )
    assert len({result.id for result in results}) == 200
    assert all(app.repository.get(result.id).status == "PENDING" for result in results)
    assert group_commit.transactions < 200


async def test_a_batch_commits_its_valid_writes_together_and_fails_items_alone(
    bus: MessageBus,
    group_commit: GroupCommitter,
    app: BookingCommandApplication,
    on_sale: OnSale,
) -> None:
    taken = IdempotencyClaim("user-1", "taken", "a")
    await bus.handle(message(booking_request(on_sale), taken))
    transactions = group_commit.transactions
    messages = [
        message(booking_request(on_sale, f"user-{n}"), correlation_id=f"corr-{n}")
        for n in range(20)
    ]
    messages[7] = message(
        booking_request(on_sale), IdempotencyClaim("user-1", "taken", "b"), correlation_id="c"
    )

    outcomes = await bus.handle_batch(messages)

    assert isinstance(outcomes[7], InvalidInputError)
    accepted = [outcome for outcome in outcomes if isinstance(outcome, CommandResult)]
    assert len(accepted) == 19
    assert group_commit.transactions == transactions + 1
    stored = [app.repository.get(result.id) for result in accepted]
    assert [booking.owner_id for booking in stored] == [f"user-{n}" for n in range(20) if n != 7]
    events = app.recorder.select_notifications(1, 100)
    # Each held booking: Requested and PaymentDue, both in its request's flow.
    correlation = {json.loads(event.state)["correlation_id"] for event in events[-2 * 19 :]}
    assert correlation == {f"corr-{n}" for n in range(20) if n != 7}


async def test_a_change_that_keeps_losing_its_race_is_a_conflict_after_the_retries(
    app: BookingCommandApplication, executor: EventStoreExecutor
) -> None:
    attempts: list[int] = []

    async def always_conflicting(prepared: Sequence[Prepared]) -> list[Handled]:
        attempts.append(len(prepared))
        return [CONFLICTED for _ in prepared]

    bus = MessageBus(
        command_handlers(app),
        executor,
        middleware=[ConflictRetries(retries=3)],
        store_middleware=[],
        store=always_conflicting,
    )
    with pytest.raises(ConflictError) as raised:
        await bus.handle(message(commands.RegisterVenue(name="Hall", capacity=10, address="Road")))
    assert raised.value.error_type == "concurrent_modification"
    assert attempts == [1, 1, 1, 1]


async def test_the_answer_an_entrypoint_gives_is_the_one_a_key_replays(
    bus: MessageBus, app: BookingCommandApplication, on_sale: OnSale
) -> None:
    claim = IdempotencyClaim("user-1", "key-1", "a")
    first = await bus.handle(message(booking_request(on_sale), claim, status_code=202))
    again = await bus.handle(message(booking_request(on_sale), claim, status_code=202))
    assert (first.status_code, first.body["payment_status"]) == (202, "pending")
    assert (again.replayed, again.status_code, again.body) == (True, 202, first.body)
