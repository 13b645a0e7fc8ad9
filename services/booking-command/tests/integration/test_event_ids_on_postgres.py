"""After a restore, on real PostgreSQL: which records' public ids name when they were
recorded, and positions that move past what was published before the restore."""

from __future__ import annotations

import psycopg
import pytest

from booking_command.bootstrap import Runtime
from booking_command.settings import BookingCommandSettings

from .conftest import put_event_on_sale

pytestmark = pytest.mark.integration


async def test_a_new_store_names_the_time_in_every_id(runtime: Runtime) -> None:
    recorder = runtime.app.booking_recorder

    assert await runtime.executor.run(recorder.timed_event_ids_from) == 1


async def test_a_store_from_before_timed_ids_keeps_the_ids_its_log_was_published_with(
    runtime: Runtime, settings: BookingCommandSettings
) -> None:
    app = runtime.app
    await runtime.executor.run(put_event_on_sale, app)
    stored = await runtime.executor.run(app.recorder.max_notification_id)
    # As a store made by an earlier version is: without the record of where timed ids start.
    with psycopg.connect(settings.database_dsn, autocommit=True) as connection:
        connection.execute("DROP TABLE bookingcommand_event_ids")

    await runtime.executor.run(app.recorder.create_table)

    timed_from = await runtime.executor.run(app.booking_recorder.timed_event_ids_from)
    assert timed_from == (stored or 0) + 1
    # Starting again changes nothing: the first start decided.
    await runtime.executor.run(app.recorder.create_table)
    assert await runtime.executor.run(app.booking_recorder.timed_event_ids_from) == timed_from


async def test_a_restored_stores_positions_advance_past_what_was_published_never_back(
    runtime: Runtime,
) -> None:
    app = runtime.app
    recorder = app.booking_recorder
    await runtime.executor.run(put_event_on_sale, app)
    newest = await runtime.executor.run(recorder.positions_taken)

    assert await runtime.executor.run(recorder.advance_positions, newest + 100) == newest + 100
    assert await runtime.executor.run(recorder.positions_taken) == newest + 100
    assert await runtime.executor.run(recorder.advance_positions, 1) == newest + 100
    # The next event is recorded after every position given out before.
    await runtime.executor.run(put_event_on_sale, app)
    assert (await runtime.executor.run(app.recorder.max_notification_id) or 0) > newest + 100
