from __future__ import annotations

import asyncio
import random
import time
from uuid import UUID, uuid4

import pytest

from booking_command.application.message_bus import Message
from booking_command.application.ports import BookingDisowned
from booking_command.application.results import CommandResult, IdempotencyClaim
from booking_command.bootstrap import Runtime
from booking_command.domain.booking import Booking
from service_kit.errors import InvalidInputError

from ..unit.handling import message, prepare
from .conftest import booking_request, put_event_on_sale

pytestmark = pytest.mark.integration


async def test_group_commit_stores_all_of_a_concurrent_burst(runtime: Runtime) -> None:
    runtime.group_commit.start()
    app = runtime.app
    _, event_id, ticket_type_id = await runtime.executor.run(put_event_on_sale, app)
    booking = booking_request(event_id, ticket_type_id)
    burst = 400
    started = time.perf_counter()
    results = await asyncio.gather(
        *(runtime.bus.handle(message(booking, status_code=202)) for _ in range(burst))
    )
    elapsed = time.perf_counter() - started
    stored = await runtime.executor.run(app.booking_recorder.pending_hold_count)
    print(
        f"\ngroup commit: {burst} bookings in {elapsed:.3f}s "
        f"({burst / elapsed:.0f}/s) using {runtime.group_commit.transactions} transactions"
    )
    assert len({result.id for result in results}) == burst
    assert stored == burst
    assert len({result.position for result in results}) == burst
    assert runtime.group_commit.transactions < burst / 4


async def test_idempotency_key_has_one_effect_under_concurrent_retries(runtime: Runtime) -> None:
    runtime.group_commit.start()
    app = runtime.app
    _, event_id, ticket_type_id = await runtime.executor.run(put_event_on_sale, app)
    booking = booking_request(event_id, ticket_type_id, quantity=2)
    claim = IdempotencyClaim("user-1", "retry-key", "fingerprint")
    results = await asyncio.gather(
        *(runtime.bus.handle(message(booking, claim, status_code=202)) for _ in range(20))
    )
    assert len({result.response_body()["id"] for result in results}) == 1
    assert {result.position for result in results} == {results[0].position}
    assert await runtime.executor.run(app.booking_recorder.pending_hold_count) == 1
    with pytest.raises(InvalidInputError):
        await runtime.bus.handle(
            message(booking, IdempotencyClaim("user-1", "retry-key", "other"), status_code=202)
        )


async def test_a_batch_is_stored_in_one_transaction_and_replays_its_keys(
    runtime: Runtime,
) -> None:
    runtime.group_commit.start()
    app = runtime.app
    _, event_id, ticket_type_id = await runtime.executor.run(put_event_on_sale, app)

    def item(owner: str, key: str | None, fingerprint: str = "same") -> Message:
        booking = booking_request(event_id, ticket_type_id, owner_id=owner)
        claim = None if key is None else IdempotencyClaim(owner, key, fingerprint)
        return message(booking, claim, correlation_id=f"corr-{owner}", status_code=202)

    [earlier] = await runtime.bus.handle_batch([item("user-0", "earlier")])
    assert isinstance(earlier, CommandResult)
    transactions = runtime.group_commit.transactions
    size = 200
    batch = [item(f"user-{n}", f"key-{n}" if n % 2 else None) for n in range(1, size + 1)]
    batch[10] = item("user-0", "earlier")
    batch[20] = item("user-0", "earlier", fingerprint="another request")

    outcomes = await runtime.bus.handle_batch(batch)

    stored = [o for o in outcomes if isinstance(o, CommandResult) and not o.replayed]
    assert len(stored) == size - 2
    assert len({result.position for result in stored}) == size - 2
    replayed = outcomes[10]
    assert isinstance(replayed, CommandResult)
    assert replayed.replayed
    assert replayed.response_body() == earlier.response_body()
    assert isinstance(outcomes[20], InvalidInputError)
    assert await runtime.executor.run(app.booking_recorder.pending_hold_count) == size - 1
    assert runtime.group_commit.transactions - transactions <= 2


async def test_a_booking_id_is_either_stored_or_disowned_never_both_under_racing_questions(
    runtime: Runtime,
) -> None:
    """Inventory's sweeper asks about a hold while the booking's commit is in flight: the
    answer and the commit agree whichever runs first, on the event store's own key."""
    app = runtime.app
    _, event_id, ticket_type_id = await runtime.executor.run(put_event_on_sale, app)
    booking_ids = [uuid4() for _ in range(60)]

    def commit(booking_id: UUID) -> bool:
        write = prepare(
            app,
            booking_request(event_id, ticket_type_id, booking_id=booking_id),
        )
        try:
            app.commit([write])
        except BookingDisowned:
            return False
        return True

    def ask(booking_id: UUID) -> bool:
        return booking_id in app.booking_recorder.known_bookings([booking_id])

    chooser = random.Random(7)
    calls = [(commit, booking_id) for booking_id in booking_ids]
    calls += [(ask, booking_id) for booking_id in booking_ids]
    chooser.shuffle(calls)
    outcomes = await asyncio.gather(*(runtime.executor.run(call, i) for call, i in calls))
    answers: dict[tuple[str, UUID], bool] = {
        (call.__name__, booking_id): outcome
        for (call, booking_id), outcome in zip(calls, outcomes, strict=True)
    }

    stored = await runtime.executor.run(app.load_many, booking_ids, Booking)
    for booking_id in booking_ids:
        committed, known = answers[("commit", booking_id)], answers[("ask", booking_id)]
        assert committed == known == (booking_id in stored), booking_id
    # Both orders happened, or the race was not a race.
    assert 0 < len(stored) < len(booking_ids)
    assert await runtime.executor.run(app.booking_recorder.known_bookings, booking_ids) == set(
        stored
    )
