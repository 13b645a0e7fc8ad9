from __future__ import annotations

import asyncio
import time
from functools import partial

import pytest

from booking_command.application.results import IdempotencyClaim
from booking_command.bootstrap import Runtime
from service_kit.errors import InvalidInputError

from .conftest import put_event_on_sale

pytestmark = pytest.mark.integration


async def test_group_commit_stores_all_of_a_concurrent_burst(runtime: Runtime) -> None:
    runtime.group_commit.start()
    app = runtime.app
    _, event_id, ticket_type_id = await runtime.executor.run(put_event_on_sale, app)
    prepare = partial(
        app.bookings.request_booking,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        quantity=1,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        owner_id="user-1",
    )
    burst = 400
    started = time.perf_counter()
    results = await asyncio.gather(
        *(runtime.commands.execute(prepare, batched=True) for _ in range(burst))
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
    prepare = partial(
        app.bookings.request_booking,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        quantity=2,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        owner_id="user-1",
    )
    claim = IdempotencyClaim("user-1", "retry-key", "fingerprint")
    results = await asyncio.gather(
        *(runtime.commands.execute(prepare, idempotency=claim, batched=True) for _ in range(20))
    )
    assert len({result.response_body()["id"] for result in results}) == 1
    assert {result.position for result in results} == {results[0].position}
    assert await runtime.executor.run(app.booking_recorder.pending_hold_count) == 1
    with pytest.raises(InvalidInputError):
        await runtime.commands.execute(
            prepare, idempotency=IdempotencyClaim("user-1", "retry-key", "other"), batched=True
        )
