"""booking-command crashes at each point between inventory's hold and the fan's answer, with
the real processes and no hook in production code.

A booking request goes: booking-command's group commit asks inventory to hold the tickets
(`POST /internal/v1/holds`), stores the held booking in its event store in one
transaction, then answers 202. The tests stall that transaction from a PostgreSQL
connection of their own: they lock the last table the commit writes (the index of bookings
per event, which nothing before the hold reads), so the commit waits with the tickets
already held. Then they SIGKILL booking-command where they want it to die, and start it
again with the stack's own helper:

- after the hold, before the commit: booking-command dies while its transaction waits,
  so the booking is never stored. Without a retry, inventory's sweeper releases the hold
  once booking-command, back up, says it does not store the booking. A retry with the same
  Idempotency-Key before that gets the same hold and books once. A retry after the hold
  was released is refused `hold_released`.
- after the commit, before the answer reached the fan: the fan's connection is gone while
  the commit waits; the lock is released and booking-command is killed as soon as the
  booking's row is in its event store. A retry gets the same booking, paid once, and the
  sweeper keeps its hold.

The third point, after the commit and before booking-command writes its answer, is covered
by the second. The answer is stored with the booking (the Idempotency-Key's record is
written in the same transaction), so a retry is answered from the event store whether or
not the dead process wrote its answer, and a fan whose answer never arrived cannot tell the
two apart. In the second test the kill lands milliseconds after the commit: before or after
booking-command writes its answer to the gateway (it usually manages to), and often while
its payment worker is charging the booking; the test expects the same outcome in every
case. Dying exactly between the commit and the answer on purpose would need a hook in
booking-command.

The module runs a stack of its own because it kills booking-command. Its inventory waits
CLAIM_DEADLINE_SECONDS (UNCLAIMED_HOLD_SECONDS) for a booking to claim its hold, which is
long enough for booking-command to restart and the fan to retry before the sweeper looks.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from local_infra.pytest_plugin import DatabaseFactory
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack_state import StackInfo

from .invariants import inventory_stock, payment_ledger
from .platform_api import (
    Fan,
    Show,
    booking,
    eventually,
    published_show,
    register_fan,
    request_booking,
    wait_for_availability,
    wait_for_status,
)
from .stack_helpers import admin_headers, own_stack, wait_until_ready

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

BOOKING_COMMAND = "booking-command"
CLAIM_DEADLINE_SECONDS = 25
TICKETS = 10
QUANTITY = 2
# The last table booking-command's commit writes (its tables are named after its
# eventsourcing application, BookingCommand). Nothing on the way to the hold reads it (the
# idempotency check and the event's price read other tables): a lock on it stalls only the
# commit, after the hold.
LAST_TABLE_OF_THE_COMMIT = "bookingcommand_event_bookings"
COUNT_STORED_FACTS = "SELECT count(*) FROM bookingcommand_events WHERE originator_id = $1"
UNCLAIMED_RELEASES = re.compile(r'^inventory_releases_total\{reason="unclaimed"\} (\S+)$', re.M)


def stock_with(*, sold: int) -> dict[str, int]:
    """The show's Stalls at inventory with `sold` tickets sold and none held."""
    return {"quantity": TICKETS, "reserved": 0, "sold": sold, "available": TICKETS - sold}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def crash_stack(
    tmp_path_factory: pytest.TempPathFactory,
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    redis_key_prefix: str,
) -> AsyncIterator[StackInfo]:
    async with own_stack(
        "crashes",
        tmp_path_factory,
        infrastructure,
        database_factory,
        topic_prefix,
        redis_key_prefix,
        {
            "UNCLAIMED_HOLD_SECONDS": str(CLAIM_DEADLINE_SECONDS),
            "UNCLAIMED_HOLD_CHECK_SECONDS": "0.5",
            # The sweeper's breaker opens while booking-command is down; it tries again soon.
            "BREAKER_RESET_SECONDS": "2",
            # A payment booking-command was charging when it died is charged again (by its
            # idempotency key: the same intent) once its lease ends.
            "PAYMENT_LEASE_SECONDS": "5",
            "RATE_LIMIT_REGISTER": "600/minute",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_MEMORY_KIB": "8192",
        },
    ) as info:
        yield info


@dataclass(frozen=True)
class HoldAtInventory:
    """A booking as inventory's own table has it: its state (`reserved`, `sold`,
    `released_unclaimed`, ...) and, while its hold waits for booking-command to store the
    booking, the deadline of that claim."""

    booking_id: str
    state: str
    claim_by: datetime | None


@dataclass(frozen=True)
class Sale:
    """One fan and one show of TICKETS Stalls tickets, on the module's stack."""

    info: StackInfo
    client: httpx.AsyncClient
    admin: dict[str, str]
    fan: Fan
    show: Show

    @property
    def stalls(self) -> str:
        return self.show.ticket_type("Stalls")

    async def request_tickets(self, idempotency_key: str | None = None) -> httpx.Response:
        return await request_booking(
            self.client,
            self.fan.headers,
            self.show.event_id,
            self.stalls,
            QUANTITY,
            idempotency_key=idempotency_key,
        )

    async def holds_at_inventory(self) -> list[HoldAtInventory]:
        connection = await asyncpg.connect(self.info.database_urls["inventory"])
        try:
            rows = await connection.fetch(
                "SELECT booking_id, state, claim_by FROM bookings WHERE event_id = $1",
                uuid.UUID(self.show.event_id),
            )
        finally:
            await connection.close()
        return [
            HoldAtInventory(str(row["booking_id"]), row["state"], row["claim_by"]) for row in rows
        ]

    async def the_hold(self) -> HoldAtInventory:
        """The show's one booking at inventory, once it holds tickets and waits for its claim."""
        [hold] = await eventually(
            self.holds_at_inventory,
            lambda holds: len(holds) == 1 and holds[0].state == "reserved",
            within=10,
            what="inventory holding the tickets",
        )
        return hold

    async def hold_at_inventory(self, booking_id: str) -> HoldAtInventory:
        [hold] = [hold for hold in await self.holds_at_inventory() if hold.booking_id == booking_id]
        return hold

    async def wait_until_released(self, booking_id: str) -> None:
        """Until the sweeper has released the hold, leaving its tombstone."""
        await eventually(
            lambda: self.hold_at_inventory(booking_id),
            lambda found: found.state == "released_unclaimed",
            within=CLAIM_DEADLINE_SECONDS + 20,
            what="the unclaimed hold released",
        )

    async def wait_until_sold_and_claimed(self, booking_id: str) -> None:
        """Until inventory counts the booking's tickets sold and knows booking-command stores
        it: a claimed hold is never swept."""
        await eventually(
            lambda: self.hold_at_inventory(booking_id),
            lambda found: found.state == "sold" and found.claim_by is None,
            within=30,
            what="inventory counting the hold as sold and claimed",
        )

    async def stock(self) -> dict[str, int]:
        stocks = await inventory_stock(
            self.info.url("inventory"), self.show.event_id, self.info.internal_headers("inventory")
        )
        return stocks[self.stalls]

    async def wait_for_availability(self, **expected: int) -> dict[str, Any]:
        return await wait_for_availability(
            self.client, self.show.event_id, self.stalls, within=30, **expected
        )

    async def look_up(self, booking_id: str, headers: dict[str, str]) -> httpx.Response:
        return await self.client.get(f"/api/v1/bookings/{booking_id}", headers=headers)

    async def confirmed(self, booking_id: str) -> dict[str, Any]:
        """The booking as its fan sees it once it is final, which must be CONFIRMED, with
        its payment captured."""
        settled = await wait_for_status(self.client, self.fan.headers, booking_id, within=40)
        assert settled["status"] == "CONFIRMED", settled
        return await eventually(
            lambda: booking(self.client, self.fan.headers, booking_id),
            lambda found: found.get("payment_status") == "captured",
            within=10,
            what="the captured payment in the booking",
        )

    async def payment_intents(self, booking_id: str) -> list[dict[str, Any]]:
        """The provider's payment intents for the booking (the simulator's ledger)."""
        return [
            intent
            for intent in await payment_ledger(self.info)
            if str((intent.get("metadata") or {}).get("booking_id")) == booking_id
        ]

    async def assert_paid_once(self, booking: dict[str, Any]) -> None:
        """The provider holds one payment for the booking: its total, captured, not refunded,
        and the one the booking names."""
        [intent] = await self.payment_intents(str(booking["id"]))
        total = int(Decimal(str(booking["total_price"])) * 100)
        assert (intent["status"], intent["amount_received"], intent["amount_refunded"]) == (
            "succeeded",
            total,
            0,
        ), intent
        assert booking["payment_reference"] == intent["id"], (booking, intent)


async def is_ready(info: StackInfo, service: str) -> bool:
    try:
        return (await wait_until_ready(info.url(service), within_seconds=1)).status_code == 200
    except httpx.TransportError:
        return False


@pytest_asyncio.fixture(loop_scope="session")
async def sale(crash_stack: StackInfo) -> AsyncIterator[Sale]:
    # A test that failed while booking-command was down would leave it down for the next.
    if not await is_ready(crash_stack, BOOKING_COMMAND):
        await crash_stack.start_service(BOOKING_COMMAND)
    async with httpx.AsyncClient(base_url=crash_stack.gateway_url, timeout=30) as client:
        admin = await admin_headers(client, crash_stack)
        show = await published_show(client, admin, {"Stalls": TICKETS})
        fan = await register_fan(client)
        await wait_for_availability(
            client, show.event_id, show.ticket_type("Stalls"), available=TICKETS
        )
        yield Sale(crash_stack, client, admin, fan, show)


class StalledCommits:
    """booking-command's commits wait, after their holds, on a lock this test holds."""

    def __init__(self, connection: Any, lock: Any) -> None:
        self._connection = connection
        self._lock = lock
        self.released = False

    async def wait_until_a_commit_waits(self) -> None:
        await eventually(
            self._commits_waiting,
            lambda waiting: waiting > 0,
            within=15,
            interval=0.02,
            what="booking-command's commit waiting for the test's lock",
        )

    async def release(self) -> None:
        if not self.released:
            self.released = True
            await self._lock.rollback()

    async def release_until_stored(self, booking_id: str) -> None:
        """Lets the commits go and returns the moment the booking's facts are visible."""
        await self.release()
        await eventually(
            lambda: self._connection.fetchval(COUNT_STORED_FACTS, uuid.UUID(booking_id)),
            lambda stored: stored > 0,
            within=5,
            interval=0.001,
            what="the booking committed",
        )

    async def _commits_waiting(self) -> int:
        waiting: int = await self._connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE relation = $1::regclass AND NOT granted",
            LAST_TABLE_OF_THE_COMMIT,
        )
        return waiting


@asynccontextmanager
async def commits_stalled(info: StackInfo) -> AsyncIterator[StalledCommits]:
    """Until the block ends (or `release()`), booking-command's commits stop at their last
    write: inventory has held their tickets, nothing of theirs is stored yet."""
    connection = await asyncpg.connect(info.database_urls[BOOKING_COMMAND])
    try:
        lock = connection.transaction()
        await lock.start()
        await connection.execute(f"LOCK TABLE {LAST_TABLE_OF_THE_COMMIT} IN ACCESS EXCLUSIVE MODE")
        stalled = StalledCommits(connection, lock)
        try:
            yield stalled
        finally:
            await stalled.release()
    finally:
        await connection.close()


async def stored_facts_of(info: StackInfo, booking_id: str) -> int:
    """How many domain events booking-command's event store holds for the booking."""
    connection = await asyncpg.connect(info.database_urls[BOOKING_COMMAND])
    try:
        count: int = await connection.fetchval(COUNT_STORED_FACTS, uuid.UUID(booking_id))
    finally:
        await connection.close()
    return count


async def unclaimed_releases(info: StackInfo) -> float:
    """inventory_releases_total{reason="unclaimed"}: what an operator sees the sweeper do."""
    async with httpx.AsyncClient(base_url=info.url("inventory"), timeout=10) as inventory:
        metrics = await inventory.get("/metrics")
    found = UNCLAIMED_RELEASES.search(metrics.text)
    return float(found.group(1)) if found else 0.0


async def crash_between_the_hold_and_the_commit(
    sale: Sale, idempotency_key: str | None = None
) -> HoldAtInventory:
    """The fan asks for tickets and booking-command dies after inventory held them, while
    its commit waits. Returns the hold it left; booking-command stays down."""
    async with commits_stalled(sale.info) as stalled:
        first_try = asyncio.create_task(sale.request_tickets(idempotency_key))
        await stalled.wait_until_a_commit_waits()
        await sale.info.kill_service(BOOKING_COMMAND)  # SIGKILL: no graceful shutdown
    # Once the lock is gone, the dead process's transaction is rolled back. The gateway
    # retries a keyed request, finds booking-command gone and tells the fan to try again.
    first_answer = await asyncio.wait_for(first_try, 30)
    assert first_answer.status_code == 503, first_answer.text
    hold = await sale.the_hold()
    assert hold.claim_by is not None, hold
    return hold


async def test_a_hold_left_by_a_crash_before_the_commit_is_released_and_nothing_is_sold(
    sale: Sale,
) -> None:
    info = sale.info
    releases_before = await unclaimed_releases(info)
    hold = await crash_between_the_hold_and_the_commit(sale)

    # Inventory holds the tickets of a booking booking-command never stored.
    assert await stored_facts_of(info, hold.booking_id) == 0
    assert (await sale.stock())["reserved"] == QUANTITY
    await sale.wait_for_availability(available=TICKETS - QUANTITY, reserved=QUANTITY)

    await info.start_service(BOOKING_COMMAND)

    # The sweeper asks booking-command, which does not store the booking: released.
    await sale.wait_until_released(hold.booking_id)
    await sale.wait_for_availability(available=TICKETS, reserved=0, sold=0)
    assert await sale.stock() == stock_with(sold=0)
    assert await unclaimed_releases(info) == releases_before + 1

    # Nobody has that booking, and nobody was charged for it.
    assert (await sale.look_up(hold.booking_id, sale.fan.headers)).status_code == 404
    assert (await sale.look_up(hold.booking_id, sale.admin)).status_code == 404
    assert await stored_facts_of(info, hold.booking_id) == 0
    assert await sale.payment_intents(hold.booking_id) == []


async def test_a_retry_after_a_crash_before_the_commit_books_the_same_hold_once(
    sale: Sale,
) -> None:
    info = sale.info
    key = f"stalls-{uuid.uuid4()}"
    releases_before = await unclaimed_releases(info)
    hold = await crash_between_the_hold_and_the_commit(sale, key)
    assert hold.claim_by is not None
    await info.start_service(BOOKING_COMMAND)

    # The fan retries with the same key before the sweeper may release the hold.
    assert datetime.now(UTC) < hold.claim_by, (
        "booking-command took longer to restart than the claim deadline: raise "
        "CLAIM_DEADLINE_SECONDS"
    )
    retried = await sale.request_tickets(key)
    assert retried.status_code == 202, retried.text
    assert retried.json()["id"] == hold.booking_id, (retried.json(), hold)
    assert [held.booking_id for held in await sale.holds_at_inventory()] == [hold.booking_id]
    stock = await sale.stock()
    assert stock["reserved"] + stock["sold"] == QUANTITY, stock

    confirmed = await sale.confirmed(hold.booking_id)
    assert confirmed["quantity"] == QUANTITY, confirmed
    await sale.wait_for_availability(available=TICKETS - QUANTITY, reserved=0, sold=QUANTITY)
    await sale.wait_until_sold_and_claimed(hold.booking_id)
    assert await sale.stock() == stock_with(sold=QUANTITY)
    await sale.assert_paid_once(confirmed)
    assert await unclaimed_releases(info) == releases_before


async def test_a_retry_after_the_unclaimed_hold_was_released_is_refused_and_changes_nothing(
    sale: Sale,
) -> None:
    info = sale.info
    key = f"stalls-{uuid.uuid4()}"
    hold = await crash_between_the_hold_and_the_commit(sale, key)
    await info.start_service(BOOKING_COMMAND)
    await sale.wait_until_released(hold.booking_id)
    await sale.wait_for_availability(available=TICKETS, reserved=0, sold=0)

    late = await sale.request_tickets(key)
    assert late.status_code == 409, late.text
    assert late.json()["error_type"] == "hold_released", late.json()

    assert [(held.booking_id, held.state) for held in await sale.holds_at_inventory()] == [
        (hold.booking_id, "released_unclaimed")
    ]
    assert await sale.stock() == stock_with(sold=0)
    await sale.wait_for_availability(available=TICKETS, reserved=0, sold=0)
    assert await stored_facts_of(info, hold.booking_id) == 0
    assert (await sale.look_up(hold.booking_id, sale.fan.headers)).status_code == 404
    assert await sale.payment_intents(hold.booking_id) == []
    # A new key is a new booking, and the tickets are there for it.
    rebooked = await sale.request_tickets(f"stalls-{uuid.uuid4()}")
    assert rebooked.status_code == 202, rebooked.text
    assert rebooked.json()["id"] != hold.booking_id


async def test_a_booking_stored_just_before_a_crash_is_answered_again_and_paid_once(
    sale: Sale,
) -> None:
    info = sale.info
    key = f"stalls-{uuid.uuid4()}"
    releases_before = await unclaimed_releases(info)
    async with commits_stalled(info) as stalled:
        first_try = asyncio.create_task(sale.request_tickets(key))
        await stalled.wait_until_a_commit_waits()
        # The fan's connection drops: whatever booking-command answers never reaches it.
        first_try.cancel()
        with suppress(asyncio.CancelledError):
            await first_try
        hold = await sale.the_hold()
        await stalled.release_until_stored(hold.booking_id)
        await info.kill_service(BOOKING_COMMAND)  # SIGKILL: no graceful shutdown
    await info.start_service(BOOKING_COMMAND)

    retried = await sale.request_tickets(key)
    assert retried.status_code == 202, retried.text
    assert retried.json()["id"] == hold.booking_id, (retried.json(), hold)

    confirmed = await sale.confirmed(hold.booking_id)
    assert confirmed["quantity"] == QUANTITY, confirmed
    await sale.wait_for_availability(available=TICKETS - QUANTITY, reserved=0, sold=QUANTITY)
    # Inventory has the booking's claim, so its sweeper will never release the hold.
    await sale.wait_until_sold_and_claimed(hold.booking_id)
    assert [held.booking_id for held in await sale.holds_at_inventory()] == [hold.booking_id]
    assert await sale.stock() == stock_with(sold=QUANTITY)
    await sale.assert_paid_once(confirmed)
    assert await unclaimed_releases(info) == releases_before
