from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import partial
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from booking_command.adapters.public_events import OutboxMapper
from booking_command.application.app import BookingCommandApplication
from booking_command.application.commands import BatchItem, CommandService
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.group_commit import GroupCommitter
from booking_command.application.results import CommandResult, IdempotencyClaim
from booking_command.domain.booking import Booking
from booking_command.domain.catalog_event import Event
from service_kit.errors import ConflictError, InvalidInputError, NotFoundError
from service_kit.request_context import correlation_id_var

from .conftest import HOLD, Clock, OnSale, book, booking_write, put_event_on_sale, reserve_and_pay
from .fake_inventory import FakeInventory


@pytest.fixture
def inventory() -> FakeInventory:
    return FakeInventory()


@pytest.fixture
async def service(
    app: BookingCommandApplication, inventory: FakeInventory
) -> AsyncIterator[CommandService]:
    executor = EventStoreExecutor(8)
    group_commit = GroupCommitter(app.commit, executor, max_batch=100)
    group_commit.start()
    yield CommandService(app, executor, group_commit, inventory)
    await group_commit.stop()
    executor.shutdown()


def test_booking_is_priced_by_the_server(app: BookingCommandApplication) -> None:
    on_sale = put_event_on_sale(app, price="12.25")
    [result] = app.commit([booking_write(app, on_sale)])
    assert result.status_code == 202
    assert (result.body["total_price"], result.body["currency"]) == ("24.50", "EUR")


def test_rejects_booking_for_unpublished_event(app: BookingCommandApplication) -> None:
    on_sale = put_event_on_sale(app, publish=False)
    with pytest.raises(ConflictError) as raised:
        booking_write(app, on_sale)
    assert raised.value.error_type == "event_not_on_sale"


def test_cancelled_event_stops_selling(app: BookingCommandApplication, on_sale: OnSale) -> None:
    app.commit([app.catalog.cancel_event(on_sale.event_id, reason="storm")])
    with pytest.raises(ConflictError):
        booking_write(app, on_sale)


def test_venue_with_upcoming_event_cannot_be_deleted(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    with pytest.raises(ConflictError):
        app.catalog.delete_venue(on_sale.venue_id)


def test_venue_can_be_deleted_once_its_event_is_cancelled(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    app.commit([app.catalog.cancel_event(on_sale.event_id, reason="")])
    [result] = app.commit([app.catalog.delete_venue(on_sale.venue_id)])
    assert result.body["deleted"] is True


def test_command_result_carries_version_and_position(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    [result] = app.commit(
        [app.catalog.change_event_details(on_sale.event_id, name="New", description="")]
    )
    assert result.version == 3
    assert result.position == app.recorder.max_notification_id()


def test_someone_elses_booking_is_not_found(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = book(app, on_sale, owner="user-1")
    with pytest.raises(NotFoundError):
        app.bookings.cancel_booking(booking_id, caller_id="user-2", is_admin=False)


def test_admin_can_cancel_a_confirmed_booking(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = book(app, on_sale)
    reserve_and_pay(app, booking_id)
    [result] = app.commit(
        [app.bookings.cancel_booking(booking_id, caller_id="admin-1", is_admin=True)]
    )
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
    assert getattr(expiry, "correlation_id", None) == "checkout-42"


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
        app.commit(
            [
                app.catalog.change_event_details(
                    on_sale.event_id, name=f"Show {number}", description=""
                )
            ]
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
        app.commit(
            [app.catalog.change_event_details(on_sale.event_id, name=f"Show {n}", description="")]
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
    service: CommandService, app: BookingCommandApplication
) -> None:
    claim = IdempotencyClaim("caller", "key-1", "fingerprint-a")
    prepare = partial(app.catalog.register_venue, name="Hall", capacity=10, address="Road")
    first = await service.execute(prepare, idempotency=claim)
    second = await service.execute(prepare, idempotency=claim)
    assert second.replayed
    assert second.response_body() == first.response_body()
    assert app.recorder.max_notification_id() == 1


async def test_same_idempotency_key_with_another_body_is_rejected(
    service: CommandService, app: BookingCommandApplication
) -> None:
    prepare = partial(app.catalog.register_venue, name="Hall", capacity=10, address="Road")
    await service.execute(prepare, idempotency=IdempotencyClaim("caller", "key-1", "a"))
    with pytest.raises(InvalidInputError) as raised:
        await service.execute(prepare, idempotency=IdempotencyClaim("caller", "key-1", "b"))
    assert raised.value.error_type == "idempotency_key_mismatch"


async def test_idempotency_key_expires(
    service: CommandService, app: BookingCommandApplication, clock: Clock
) -> None:
    claim = IdempotencyClaim("caller", "key-1", "a")
    prepare = partial(app.catalog.register_venue, name="Hall", capacity=10, address="Road")
    first = await service.execute(prepare, idempotency=claim)
    clock.advance(app.idempotency.ttl.total_seconds())
    second = await service.execute(prepare, idempotency=claim)
    assert not second.replayed
    assert second.id != first.id


async def test_concurrent_requests_with_one_key_have_one_effect(
    service: CommandService, app: BookingCommandApplication, on_sale: OnSale
) -> None:
    claim = IdempotencyClaim("user-1", "key-1", "a")
    prepare = partial(booking_write, app, on_sale)
    results = await asyncio.gather(
        *(service.execute(prepare, idempotency=claim, batched=True) for _ in range(10))
    )
    assert len({result.id for result in results}) == 1
    assert sum(not result.replayed for result in results) == 1


async def test_group_commit_stores_a_burst_in_few_transactions(
    service: CommandService, app: BookingCommandApplication, on_sale: OnSale
) -> None:
    prepare = partial(booking_write, app, on_sale)
    results = await asyncio.gather(*(service.execute(prepare, batched=True) for _ in range(200)))
    assert len({result.id for result in results}) == 200
    assert all(app.repository.get(result.id).status == "PENDING" for result in results)
    assert service.group_commit.transactions < 200


async def test_a_batch_commits_its_valid_writes_together_and_fails_items_alone(
    service: CommandService, app: BookingCommandApplication, on_sale: OnSale
) -> None:
    taken = IdempotencyClaim("user-1", "taken", "a")
    await service.execute(partial(booking_write, app, on_sale), idempotency=taken, batched=True)
    transactions = service.group_commit.transactions
    items = [
        BatchItem(partial(booking_write, app, on_sale, f"user-{n}"), None, f"corr-{n}")
        for n in range(20)
    ]
    items[7] = BatchItem(
        partial(booking_write, app, on_sale), IdempotencyClaim("user-1", "taken", "b"), "c"
    )

    outcomes = await service.execute_batch(items)

    assert isinstance(outcomes[7], InvalidInputError)
    accepted = [outcome for outcome in outcomes if isinstance(outcome, CommandResult)]
    assert len(accepted) == 19
    assert service.group_commit.transactions == transactions + 1
    stored = [app.repository.get(result.id) for result in accepted]
    assert [booking.owner_id for booking in stored] == [f"user-{n}" for n in range(20) if n != 7]
    events = app.recorder.select_notifications(1, 100)
    # Each held booking: Requested and PaymentDue, both in its request's flow.
    correlation = {json.loads(event.state)["correlation_id"] for event in events[-2 * 19 :]}
    assert correlation == {f"corr-{n}" for n in range(20) if n != 7}
