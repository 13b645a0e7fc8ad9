"""The restore drill (issue 24): booking-command's event store is recovered to a moment in
the middle of a sale while inventory, the read models and the payment provider keep
everything since; new bookings follow, the reconciliation repairs what the event store can
tell and a person refunds the payments of the bookings it lost; then the platform's
guarantees hold again: no oversell, every CONFIRMED booking paid exactly once, every
capture matched or refunded, the read models equal to inventory and to the event store.

The stack runs on a PostgreSQL of the test's own that archives its WAL; the event store is
recovered as an SRE does it (docs/runbooks/restore-from-backup.md): a new cluster from the
base backup with the WAL replayed to the target time, its booking database dumped and
restored over the live one with deploy/k8s/base/backup/{backup,restore}.sh. The figures
(recovery time, bookings lost, what the reconciliation found and repaired) are printed
for docs/runbooks/disaster-recovery.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio

from local_infra.point_in_time import (
    ArchivingCluster,
    archiving_postgres_cluster,
    recovered_cluster,
)
from local_infra.pytest_plugin import DatabaseFactory, e2e_stack_config
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack import Stack
from local_infra.stack_state import StackInfo

from .flash_sale_driver import FlashSale
from .invariants import (
    all_bookings,
    check_stock_matches_bookings,
    payment_ledger,
    payment_problems,
    rebuild_read_models,
    wait_until_every_booking_is_final,
    wait_until_outboxes_published,
)
from .platform_api import (
    book,
    create_venue,
    eventually,
    published_show,
    register_fan,
    wait_for_status,
)
from .stack_helpers import admin_headers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

BACKUP_SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "backup"
BOOKING_COMMAND = "booking-command"
FANS = 8
TICKETS_PER_TYPE = 40
BOOKINGS_BEFORE_TARGET = 12
BOOKINGS_LOST = 12
BOOKINGS_AFTER_RESTORE = 3
COMMAND_SECONDS = 120


@dataclass
class DrillStack:
    stack: Stack
    info: StackInfo
    postgres: ArchivingCluster


@pytest_asyncio.fixture(loop_scope="session")
async def drill_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    infrastructure: Infrastructure,
    run_id: str,
    topic_prefix: str,
    redis_key_prefix: str,
) -> AsyncIterator[DrillStack]:
    async with archiving_postgres_cluster() as postgres:
        config = await e2e_stack_config(
            tmp_path_factory.mktemp("drill"),
            dataclasses.replace(infrastructure, postgres_admin_url=postgres.cluster.admin_url),
            DatabaseFactory(postgres.cluster.admin_url, run_id),
            f"{topic_prefix}drill.",
            f"{redis_key_prefix}drill:",
            database_namespace="drill_",
            extra_env={
                "RATE_LIMITS_ENABLED": "false",
                "PASSWORD_HASH_TIME_COST": "1",
                "PASSWORD_HASH_MEMORY_KIB": "8192",
                # Payments the restored store had claimed are charged again once their lease
                # runs out: shorter than production's 60 s, so the drill settles sooner.
                "PAYMENT_LEASE_SECONDS": "10",
            },
        )
        stack = Stack(dataclasses.replace(config, stop_grace_seconds=10))
        failed_before = request.session.testsfailed
        try:
            info = await stack.start()
            yield DrillStack(stack, info, postgres)
        finally:
            if request.session.testsfailed > failed_before:
                sys.stderr.write(f"restore drill stack logs:\n{stack.log_tails(60)}\n")
            await stack.stop()


def _libpq_env(admin_url: str) -> dict[str, str]:
    url = urlsplit(admin_url)
    env = {
        **os.environ,
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PGCONNECT_TIMEOUT": "5",
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def _script(name: str, *arguments: str, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        ["sh", str(BACKUP_SCRIPTS / name), *arguments],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=COMMAND_SECONDS,
    )
    assert done.returncode == 0, f"{name}: {done.stderr}"
    return done.stdout


async def _reconcile(stack: Stack, *options: str) -> tuple[int, dict[str, Any]]:
    """`python -m booking_command reconcile` as an operator runs it; its exit code and JSON."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "booking_command",
        "reconcile",
        *options,
        env=stack.service_env(BOOKING_COMMAND),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, words = await asyncio.wait_for(process.communicate(), COMMAND_SECONDS)
    sys.stderr.write(words.decode(errors="replace"))
    assert process.returncode in (0, 1), words.decode(errors="replace")[-4000:]
    report: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    return process.returncode, report


async def _stored_bookings(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT originator_id FROM bookingcommand_events "
            "WHERE topic LIKE '%:Booking.Requested' AND originator_version = 1"
        )
    finally:
        await connection.close()
    return {str(row["originator_id"]) for row in rows}


async def _server_now(admin_url: str) -> datetime:
    connection = await asyncpg.connect(admin_url)
    try:
        now: datetime = await connection.fetchval("SELECT clock_timestamp()")
        return now
    finally:
        await connection.close()


async def _accepted_at_least(sale: FlashSale, count: int) -> None:
    async def accepted() -> int:
        return len(sale.log.accepted)

    await eventually(accepted, lambda seen: seen >= count, within=90, what=f"{count} accepted")


async def _restore_event_store_to(drill: DrillStack, base_backup: Path, target: datetime) -> None:
    """What the runbook does: a new cluster recovered to `target`, its booking database dumped
    and restored over the live one (booking-command stopped)."""
    database = urlsplit(drill.info.database_urls[BOOKING_COMMAND]).path.lstrip("/")
    await drill.postgres.archive_current_wal()
    async with recovered_cluster(base_backup, drill.postgres.wal_archive, target) as recovered:
        backup_dir = drill.stack.state_dir / "restore-backups"
        written = _script(
            "backup.sh",
            env={
                **_libpq_env(recovered.admin_url),
                "BACKUP_DIR": str(backup_dir),
                "BACKUP_DATABASES": database,
                "BACKUP_RETENTION_DAYS": "0",
            },
        )
    backup_set = Path(written.strip().splitlines()[-1])
    _script(
        "restore.sh",
        "--clean",
        str(backup_set / f"{database}.dump"),
        database,
        env=_libpq_env(drill.postgres.cluster.admin_url),
    )


def _payments_agree(
    intents: list[dict[str, Any]], bookings: Mapping[str, Mapping[str, Any]], lost: set[str]
) -> list[tuple[str, str, object]]:
    """Every capture matched by a booking or refunded: a lost booking's payment wholly
    refunded, every other as `payment_problems` checks it."""
    problems: list[tuple[str, str, object]] = []
    kept = []
    for intent in intents:
        booking_id = str((intent.get("metadata") or {}).get("booking_id"))
        if booking_id in lost and booking_id not in bookings:
            if intent["amount_received"] != intent["amount_refunded"]:
                problems.append((booking_id, "lost booking's capture not refunded", intent))
            continue
        kept.append(intent)
    return problems + payment_problems(kept, bookings)


@pytest.mark.timeout(420)
async def test_restoring_the_event_store_mid_sale_then_reconciling_keeps_every_guarantee(
    drill_stack: DrillStack,
) -> None:
    stack, info = drill_stack.stack, drill_stack.info
    booking_database = info.database_urls[BOOKING_COMMAND]
    async with httpx.AsyncClient(base_url=info.gateway_url, timeout=30) as client:
        admin = await admin_headers(client, info)
        venue_id = await create_venue(client, admin)
        show = await published_show(
            client,
            admin,
            {"Stalls": TICKETS_PER_TYPE, "Circle": TICKETS_PER_TYPE},
            name="Restore Drill",
            venue_id=venue_id,
        )
        fans = list(await asyncio.gather(*(register_fan(client) for _ in range(FANS))))
        base_backup = await drill_stack.postgres.base_backup()

        # The sale; the event store will be recovered to `target`, in its middle.
        sale = FlashSale(info.gateway_url, fans, [show], pause_seconds=0.3, cancel_probability=0)
        await sale.start()
        try:
            await _accepted_at_least(sale, BOOKINGS_BEFORE_TARGET)
            accepted_before_target = set(sale.log.accepted)
            target = await _server_now(drill_stack.postgres.cluster.admin_url)
            # A change of the event the recovery will lose (the event's next version).
            lost_change = await client.put(
                f"/api/v1/events/{show.event_id}/sale",
                json={
                    "sale_starts_at": None,
                    "sale_ends_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                    "max_tickets_per_account": None,
                },
                headers=admin,
            )
            assert lost_change.status_code == 200, lost_change.text
            await _accepted_at_least(sale, len(accepted_before_target) + BOOKINGS_LOST)
        except BaseException:
            await sale.cancel()
            raise
        log = await sale.stop()
        await wait_until_every_booking_is_final(client, admin, [show], log.accepted, within=120)
        await wait_until_outboxes_published([info.url(BOOKING_COMMAND), info.url("inventory")])

        # The disaster: the event store must go back to `target`; the others keep theirs.
        down_at = time.monotonic()
        await stack.kill_service(BOOKING_COMMAND)
        await _restore_event_store_to(drill_stack, base_backup, target)
        await stack.start_service(BOOKING_COMMAND)
        restored_seconds = time.monotonic() - down_at

        stored = await _stored_bookings(booking_database)
        assert accepted_before_target <= stored, accepted_before_target - stored
        lost = set(log.accepted) - stored
        assert lost, "the recovery kept every booking: the target was not mid-sale"
        assert not lost & accepted_before_target

        # The restored store changes the event at the version the lost change had, and takes
        # new bookings at the lost ones' positions: inventory and the read models apply them
        # (with ids derived from aggregate and version alone, inventory dropped the new ticket
        # type as a duplicate and refused its bookings `unknown_ticket_type`).
        added = await client.post(
            f"/api/v1/events/{show.event_id}/ticket-types",
            json={"name": "Gallery", "price": "30.00", "quantity": 10},
            headers=admin,
        )
        assert added.status_code == 201, added.text
        gallery = next(
            str(item["ticket_type_id"])
            for item in added.json()["ticket_types"]
            if item["name"] == "Gallery"
        )
        gallery_booking = await book(client, fans[0].headers, show.event_id, gallery, 2)
        assert (await wait_for_status(client, fans[0].headers, gallery_booking, within=60))[
            "status"
        ] == "CONFIRMED"
        after = FlashSale(info.gateway_url, fans[:2], [show], pause_seconds=0.2, seed=99)
        await after.start()
        try:
            await _accepted_at_least(after, BOOKINGS_AFTER_RESTORE)
        except BaseException:
            await after.cancel()
            raise
        after_log = await after.stop()
        await wait_until_every_booking_is_final(
            client, admin, [show], after_log.accepted, within=60
        )

        # The reconciliation: first what it finds, then its repairs, the rebuild it asks
        # for, and what a person decides (refund the lost bookings' payments).
        reconciling_at = time.monotonic()
        code, found = await _reconcile(stack)
        assert code == 1, found
        lost_found = {
            f["subject"] for f in found["findings"] if f["kind"] == "booking_not_in_event_store"
        }
        assert lost_found == lost, (lost_found ^ lost, found["findings_by_kind"])
        assert [f["subject"] for f in found["findings"] if f["kind"] == "event_differs"] == [
            show.event_id
        ], found["findings_by_kind"]
        assert all(
            person["action"] and "refund" in person["action"]
            for person in found["needs_a_person"]
            if person["subject"] in lost
        ), found["needs_a_person"]

        _, repaired = await _reconcile(stack, "--repair")
        assert set(repaired["repaired"]["released_at_inventory"]) == lost, repaired["repaired"]
        assert repaired["repaired"]["set_aside_in_read_models"] >= len(lost), repaired
        assert not repaired["errors"], repaired["errors"]
        rebuild = await rebuild_read_models(stack.service_env("query-projection"))
        _, refunded = await _reconcile(stack, "--refund-lost-payments")
        refunds = refunded["repaired"]["lost_payments_refunded"]
        # Every lost booking was paid for before the disaster: each capture is refunded.
        assert len([r for r in refunds if "refund" in r]) == len(lost), refunded
        reconciled_seconds = time.monotonic() - reconciling_at

        await wait_until_outboxes_published([info.url(BOOKING_COMMAND), info.url("inventory")])
        code, final = await eventually(
            lambda: _reconcile(stack),
            lambda result: result[0] == 0,
            within=60,
            interval=2,
            what="a reconciliation that finds everything agreeing",
        )
        assert final["consistent"], final

        # The guarantees, as a client and the provider see them.
        event = (await client.get(f"/api/v1/events/{show.event_id}", headers=admin)).json()
        assert event["sale_ends_at"] is None, "the lost change is set aside"
        assert "Gallery" in {item["name"] for item in event["ticket_types"]}, event
        bookings = await all_bookings(client, admin, [show])
        assert not lost & set(bookings), "lost bookings are no longer shown"
        now_stored = await _stored_bookings(booking_database)
        assert set(bookings) <= now_stored, set(bookings) - now_stored
        assert bookings[gallery_booking]["status"] == "CONFIRMED"
        await check_stock_matches_bookings(
            client,
            info.url("inventory"),
            [show],
            bookings,
            inventory_headers=info.internal_headers("inventory"),
        )
        problems = _payments_agree(await payment_ledger(info), bookings, lost)
        assert not problems, problems[:10]

    sys.stderr.write(
        "restore drill: "
        + json.dumps(
            {
                "bookings_accepted": len(log.accepted) + len(after_log.accepted),
                "bookings_lost_by_the_restore": len(lost),
                "event_store_down_to_ready_seconds": round(restored_seconds, 1),
                "reconciliation_and_rebuild_seconds": round(reconciled_seconds, 1),
                "recovery_time_seconds": round(restored_seconds + reconciled_seconds, 1),
                "first_reconciliation_found": found["findings_by_kind"],
                "repaired": {
                    "released_at_inventory": len(repaired["repaired"]["released_at_inventory"]),
                    "set_aside_in_read_models": repaired["repaired"]["set_aside_in_read_models"],
                    "positions_advanced_to": repaired["repaired"].get("positions_advanced_to"),
                    "payments_refunded_by_a_person": len(refunds),
                    "rebuild_messages": rebuild["messages"],
                },
            }
        )
        + "\n"
    )
