"""Flash-sale benchmark through the gateway, driven by wrk, with same-round baselines.

`make bench` (or `uv run --all-packages python -m bench.flash_sale --help`). Each round, at
every `--connections` count, on a platform started empty: wrk books for `--seconds` and
public availability is read through the gateway and straight from query-projection; then
the platform is stopped (all but the payment simulator, the external party both designs
charge) and the same wrk booking script drives a minimal endpoint that verifies the JWT
and the single-service design (2 uvicorn workers, asyncpg, conditional UPDATE + INSERT,
aiohttp to the provider). Then an event of `--capacity` tickets is sold out, sold-out
answers are counted, and a fixed rate of half the single-service maximum is offered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import baselines
from bench.cpu import CpuMeter, Finder, machine_busy_seconds, matching, postgres, tree
from bench.platform_api import (
    RATE_LIMIT_ENV,
    SETUP_ENV,
    OnSale,
    Platform,
    Servers,
    WriteSide,
    admin_headers,
    bench_servers,
    event_on_sale,
    gauge_sum,
    histogram,
    histogram_count,
    histogram_quantile,
    inventory_stock,
    poll_until_settled,
    register_users,
    running_platform,
    write_side,
)
from bench.report import median_summary, print_table
from bench.wrk_driver import WRK_THREADS, WrkResult, run_wrk, script
from local_infra.broker import create_topics
from local_infra.services import ENTRY, MAIL_CATCHER, NOTIFICATIONS, PAYMENT_SIMULATOR

# Downstream consumers of the booking facts: every confirmed booking's tickets and e-mail.
DOWNSTREAM = (ENTRY, NOTIFICATIONS)
LAG_METRIC = "projection_lag_seconds"
CONSUMER_LAG_METRIC = "kafka_consumer_lag"
# The end of a load: projection lag is also shown over its last this-many seconds.
TAIL_SECONDS = 10.0
UNSOLD_CAPACITY = 1_000_000  # throughput runs must not sell out: they measure steady booking
SAMPLE_PER_THREAD = 20
SETTLE_SECONDS = 180.0


@dataclass(frozen=True)
class Options:
    capacity: int
    connections: tuple[int, ...]
    seconds: float
    read_seconds: float
    rounds: int
    users: int
    insert_transactions: int
    kafka_messages: int
    output_dir: Path
    log_level: str
    quick: bool
    # entry and notifications stopped, the single service issuing no tickets and sending
    # no mail: the booking path alone on both sides.
    booking_path_only: bool = False


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.flash_sale", description=__doc__)
    parser.add_argument(
        "--capacity", type=int, default=2000, help="tickets in the sell-out phase (2000)"
    )
    parser.add_argument(
        "--connections",
        default="32,256",
        help="wrk connection counts, comma-separated; each load runs at each (32,256)",
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="each booking load's wrk run (60 s)"
    )
    parser.add_argument(
        "--read-seconds", type=float, default=10.0, help="each read/sold-out wrk run (10 s)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="repeat; report medians (3)")
    parser.add_argument(
        "--users", type=int, default=100, help="registered users whose tokens wrk uses"
    )
    parser.add_argument("--output-dir", type=Path, default=Path("bench/results"))
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL (INFO)")
    parser.add_argument(
        "--quick", action="store_true", help="one short round (smoke run; not for the README)"
    )
    parser.add_argument(
        "--booking-path-only",
        action="store_true",
        help="stop entry and notifications (downstream consumers) and let the single service "
        "issue no tickets and send no mail: the booking path alone on both sides",
    )
    args = parser.parse_args(argv)
    connections = tuple(int(part) for part in args.connections.split(",") if part.strip())
    if args.quick:
        return Options(
            capacity=300,
            connections=connections,
            seconds=5.0,
            read_seconds=3.0,
            rounds=1,
            users=args.users,
            insert_transactions=1000,
            kafka_messages=2000,
            output_dir=args.output_dir,
            log_level=args.log_level,
            quick=True,
            booking_path_only=args.booking_path_only,
        )
    return Options(
        capacity=args.capacity,
        connections=connections,
        seconds=args.seconds,
        read_seconds=args.read_seconds,
        rounds=args.rounds,
        users=args.users,
        insert_transactions=10_000,
        kafka_messages=10_000,
        output_dir=args.output_dir,
        log_level=args.log_level,
        quick=False,
        booking_path_only=args.booking_path_only,
    )


def machine() -> dict[str, Any]:
    cpu = "unknown"
    memory_kib = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


# ---------------------------------------------------------------------------- the platform


@dataclass
class Bench:
    options: Options
    servers: Servers
    platform: Platform
    tokens_file: Path
    admin: dict[str, str]

    @property
    def gateway(self) -> str:
        return self.platform.gateway_url

    @property
    def projection(self) -> str:
        return self.platform.info.url("query-projection")

    def process_groups(self) -> dict[str, Finder]:
        """The platform's processes: what its CPU budget covers."""
        info = self.platform.info
        groups: dict[str, Finder] = {
            name: tree(service.pid)
            for name, service in info.services.items()
            if name not in (PAYMENT_SIMULATOR, MAIL_CATCHER)
            and not (self.options.booking_path_only and name in DOWNSTREAM)
        }
        broker_pid = self.platform.stack.broker_pid
        assert broker_pid is not None, "the bench runs its own broker"
        groups["broker (apache kafka)"] = tree(broker_pid)
        groups["postgresql"] = postgres(_database_names(info))
        redis_port = self.servers.redis_url.rsplit(":", 1)[1].split("/", 1)[0]
        groups["redis"] = matching("redis-server", f":{redis_port}")
        return groups

    def external_parties(self) -> baselines.ExternalParties:
        """The payment simulator with its PostgreSQL backends, and the mail catcher (the
        SMTP relay): external parties, their CPU reported apart, outside either budget."""
        info = self.platform.info
        database = _database_name(info.database_urls[PAYMENT_SIMULATOR])
        host, port = info.shared_env["SMTP_URL"].removeprefix("smtp://").rsplit(":", 1)
        return baselines.ExternalParties(
            payment_url=info.payment_provider_url,
            payment_secret_key=info.payment_provider_secret_key,
            smtp_host=host,
            smtp_port=int(port),
            mailbox=self.platform.stack.state_dir / "mail",
            processes={
                "payment simulator": tree(info.services[PAYMENT_SIMULATOR].pid),
                "payment simulator's postgresql backends": postgres([database], backends_only=True),
                "mail catcher (smtp relay)": tree(info.services[MAIL_CATCHER].pid),
            },
        )

    def baseline_serving(self, log_dir: Path) -> baselines.Serving:
        """The services write one line per request at LOG_LEVEL INFO (service_kit's
        middleware; uvicorn's own access log is off): the baselines log one when they do."""
        level = logging.getLevelName(self.options.log_level.upper())
        return baselines.Serving(
            jwt_env=self.platform.baseline_jwt_env(),
            access_log=isinstance(level, int) and level <= logging.INFO,
            log_dir=log_dir,
        )

    async def new_event(self, capacity: int, name: str) -> OnSale:
        async with httpx.AsyncClient(base_url=self.gateway, timeout=60) as client:
            return await event_on_sale(client, self.platform.info, self.admin, capacity, name)

    async def book(
        self, sale: OnSale, connections: int, seconds: float, **pace: float
    ) -> WrkResult:
        parts = ["stats", "booking"] + (["pace"] if pace else [])
        args = [
            str(self.tokens_file),
            sale.event_id,
            sale.ticket_type_id,
            "/api/v1/bookings",
            str(SAMPLE_PER_THREAD),
            uuid.uuid4().hex[:16],
        ]
        if pace:
            args.append(str(1000 * min(WRK_THREADS, connections) / pace["rate"]))
        return await run_wrk(
            f"{self.gateway}/api/v1/bookings",
            connections=connections,
            seconds=seconds,
            lua=script(*parts),
            args=args,
        )


def _database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def _database_names(info: Any) -> list[str]:
    """The platform's databases (not the payment simulator's)."""
    return [
        _database_name(url)
        for service, url in info.database_urls.items()
        if service != PAYMENT_SIMULATOR
    ]


async def bookings_page(
    client: httpx.AsyncClient, admin: dict[str, str], event_id: str, status: str | None, page: int
) -> dict[str, Any]:
    params: dict[str, Any] = {"event_id": event_id, "page": page, "size": 100}
    if status:
        params["status"] = status
    response = await client.get("/api/v1/bookings", params=params, headers=admin)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def all_bookings(
    client: httpx.AsyncClient, admin: dict[str, str], event_id: str, status: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = await bookings_page(client, admin, event_id, status, page)
        items.extend(body["items"])
        if not body["items"] or page * body["size"] >= body["total"]:
            return items
        page += 1


async def settle(bench: Bench, event_id: str, accepted: int) -> tuple[bool, float, int]:
    """Waits until the read model lists every accepted booking and none is PENDING.

    Returns (settled, when it was seen settled (epoch s), bookings listed)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    async with httpx.AsyncClient(base_url=bench.gateway, timeout=30) as client:
        while True:
            listed = (await bookings_page(client, bench.admin, event_id, None, 1))["total"]
            pending = (await bookings_page(client, bench.admin, event_id, "PENDING", 1))["total"]
            if listed >= accepted and pending == 0:
                return True, time.time(), listed
            if time.monotonic() > deadline:
                return False, time.time(), listed
            await asyncio.sleep(0.25)


def _epoch(value: object) -> float | None:
    return datetime.fromisoformat(value).timestamp() if isinstance(value, str) else None


def _ms_summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": math.nan, "p99_ms": math.nan, "count": 0}
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "count": len(ordered)}


async def read_model_checks(bench: Bench, sale: OnSale) -> dict[str, Any]:
    """Inventory's stock, the public availability and the CONFIRMED list of one event."""
    stock = await inventory_stock(bench.platform.info, sale.event_id)
    ticket_type = next(
        item for item in stock["ticket_types"] if item["ticket_type_id"] == sale.ticket_type_id
    )
    async with httpx.AsyncClient(base_url=bench.gateway, timeout=60) as client:
        confirmed = await all_bookings(client, bench.admin, sale.event_id, "CONFIRMED")
        rejected = (await bookings_page(client, bench.admin, sale.event_id, "REJECTED", 1))["total"]
        availability = (await client.get(f"/api/v1/events/{sale.event_id}/availability")).json()
    read_model = next(
        item
        for item in availability["ticket_types"]
        if item["ticket_type_id"] == sale.ticket_type_id
    )
    return {
        "quantity": ticket_type["quantity"],
        "reserved": ticket_type["reserved"],
        "sold": ticket_type["sold"],
        "confirmed": confirmed,
        "confirmed_tickets": sum(int(item["quantity"]) for item in confirmed),
        "rejected": rejected,
        "read_model": read_model,
    }


async def booking_load(
    bench: Bench, sale: OnSale, connections: int, seconds: float, **pace: float
) -> tuple[WrkResult, float, dict[str, Any]]:
    """wrk books for `seconds`: its result, when it ended, and the projection's lag: over the
    load, over its last seconds, and the messages query-projection had not applied at its end
    (a backlog that grows through a load is no steady state)."""
    tail = min(TAIL_SECONDS, seconds / 4)

    async def near_the_end() -> dict[float, float]:
        await asyncio.sleep(seconds - tail)
        return await histogram(bench.projection, LAG_METRIC)

    before = await histogram(bench.projection, LAG_METRIC)
    result, tail_before = await asyncio.gather(
        bench.book(sale, connections, seconds, **pace), near_the_end()
    )
    ended = time.time()
    behind = await gauge_sum(bench.projection, CONSUMER_LAG_METRIC)
    after = await histogram(bench.projection, LAG_METRIC)
    return (
        result,
        ended,
        {
            "p50_ms": histogram_quantile(before, after, 0.50) * 1000,
            "p99_ms": histogram_quantile(before, after, 0.99) * 1000,
            "observations": histogram_count(before, after),
            "tail_seconds": tail,
            "tail_p99_ms": histogram_quantile(tail_before, after, 0.99) * 1000,
            "messages_behind_at_end": behind,
        },
    )


async def confirmed_shown(
    bench: Bench, event_id: str, settled_at: float
) -> tuple[WriteSide, float]:
    """Once the read model lists the event's bookings final (`settle`): waits until
    booking-command has none in flight and the read model lists as many CONFIRMED as its
    event store holds. Returns the write side and when the read model was seen showing
    every confirmed booking."""
    deadline = time.monotonic() + 60
    seen_at = settled_at
    async with httpx.AsyncClient(base_url=bench.gateway, timeout=30) as client:
        while True:
            write = await write_side(bench.platform.info, event_id)
            shown = (await bookings_page(client, bench.admin, event_id, "CONFIRMED", 1))["total"]
            if write.final >= write.requested and shown >= write.confirmed:
                return write, seen_at
            if time.monotonic() > deadline:
                return write, math.nan
            await asyncio.sleep(0.25)
            seen_at = time.time()


async def confirmations_mailed(
    bench: Bench, event_id: str, parties: baselines.ExternalParties, mails_before: int
) -> tuple[int, float]:
    """Once every accepted booking is final: waits until the mail catcher holds a mail for
    every booking the event store confirmed (entry's tickets, notifications' e-mail: the
    downstream work the single service does too). Returns the mails caught and when.
    The event store is asked once: with every booking final its count no longer moves,
    and its query would otherwise be billed to the platform's PostgreSQL while it waits."""
    confirmed = (await write_side(bench.platform.info, event_id)).confirmed
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        caught = baselines.mail_count(parties.mailbox) - mails_before
        if caught >= confirmed or time.monotonic() > deadline:
            return caught, time.time()
        await asyncio.sleep(0.25)


def caught_up(write: WriteSide, shown_at: float, load_end: float) -> dict[str, float]:
    """After the load's end: when the event store held its last Confirmed event (what was
    still being charged) and when the read model showed every confirmed booking."""
    last = write.last_confirmed_at
    return {
        "write_side_done_seconds": math.nan if last is None else last - load_end,
        "read_model_caught_up_seconds": shown_at - load_end,
    }


def _per_second(count: int, since: float, until: float | None) -> float:
    return count / (until - since) if until is not None and until > since else 0.0


async def platform_sale(bench: Bench, connections: int, round_number: int) -> dict[str, Any]:
    """wrk books for `--seconds` on an event that does not sell out; every accepted booking
    is followed to its final state; CPU per process over the whole window. Confirmed
    bookings are counted twice: as fans see them (the read model lists them CONFIRMED,
    rate up to when it showed the last) and on the write side (booking-command's event
    store, rate up to the last Confirmed event)."""
    options = bench.options
    sale = await bench.new_event(UNSOLD_CAPACITY, f"Sale {round_number}-{connections}")
    meter = CpuMeter(bench.process_groups())
    parties = bench.external_parties()
    external = CpuMeter(parties.processes)
    mails_before = baselines.mail_count(parties.mailbox)
    busy_before = machine_busy_seconds()
    meter.start()
    external.start()
    window_start = time.time()
    result, load_end, lag = await booking_load(bench, sale, connections, options.seconds)
    accepted = result.statuses.get(202, 0)
    settled, settled_at, listed = await settle(bench, sale.event_id, accepted)
    mailed, mailed_at = (
        (None, settled_at)
        if options.booking_path_only
        else await confirmations_mailed(bench, sale.event_id, parties, mails_before)
    )
    cpu = meter.stop()
    external_cpu = external.stop()
    busy = machine_busy_seconds() - busy_before
    window = mailed_at - window_start
    write, shown_at = await confirmed_shown(bench, sale.event_id, settled_at)
    lag.update(caught_up(write, shown_at, load_end))
    if mailed is not None:
        lag["mails_done_seconds"] = mailed_at - load_end
    sample = await poll_until_settled(
        bench.gateway, dict.fromkeys(result.sample, bench.admin), within_seconds=60
    )
    checks = await read_model_checks(bench, sale)
    confirmed = checks["confirmed"]
    final_times = [
        value.final_at - created
        for item in confirmed
        if (created := _epoch(item.get("created_at"))) is not None
        and (value := sample.get(str(item["id"]))) is not None
        and value.final_at is not None
    ]
    count = len(confirmed)
    return {
        "event_id": sale.event_id,
        "wrk": result.summary(),
        "accepted": accepted,
        "listed": listed,
        "confirmed_bookings": count,
        "confirmed_tickets": checks["confirmed_tickets"],
        "rejected_after_202": checks["rejected"],
        "confirmed_bookings_per_second": _per_second(
            count, result.started_wall, None if math.isnan(shown_at) else shown_at
        ),
        "write_side": {
            "requested": write.requested,
            "final": write.final,
            "confirmed_bookings": write.confirmed,
            "confirmed_bookings_per_second": _per_second(
                write.confirmed, result.started_wall, write.last_confirmed_at
            ),
        },
        "window_seconds": window,
        "settled": settled,
        "accepted_latency_note": "wrk latency over all answers (all are 202 on an unsold event)",
        "sample": {
            "followed": len(result.sample),
            "final": len(sample),
            "statuses": _count(value.status for value in sample.values()),
            "time_to_final": _ms_summary(final_times),
        },
        "projection_lag": lag,
        "cpu_seconds": cpu,
        "cpu_ms_per_confirmed": {
            name: 1000 * seconds / count if count else math.nan for name, seconds in cpu.items()
        },
        "external_cpu_ms_per_confirmed": {
            name: 1000 * seconds / count if count else math.nan
            for name, seconds in external_cpu.items()
        },
        "machine_cpu_percent": 100 * busy / window / (os.cpu_count() or 1) if window else 0.0,
        "invariants": {
            "no_oversell": {
                "passed": checks["sold"] + checks["reserved"] <= checks["quantity"]
                and checks["confirmed_tickets"] == checks["sold"],
                "detail": f"sold {checks['sold']} + reserved {checks['reserved']} <= "
                f"{checks['quantity']}; CONFIRMED tickets listed {checks['confirmed_tickets']} "
                f"({count} bookings) == sold {checks['sold']}",
            },
            "every_accepted_booking_final": {
                "passed": settled and listed >= accepted and len(sample) == len(result.sample),
                "detail": f"{accepted} answered 202, {listed} listed, none PENDING: {settled}; "
                f"sample {len(sample)} of {len(result.sample)} final when polled",
            },
            "read_model_shows_every_confirmed_booking": {
                "passed": not math.isnan(shown_at) and count == write.confirmed,
                "detail": f"read model CONFIRMED {count}, event store Confirmed "
                f"{write.confirmed} ({write.final} of {write.requested} requested final)",
            },
            "read_model_availability_equals_inventory": _availability_check(checks),
        }
        | (
            {}
            if mailed is None
            else {
                "every_confirmed_booking_mailed": {
                    "passed": mailed == write.confirmed,
                    "detail": f"{mailed} mails caught for {write.confirmed} Confirmed events",
                }
            }
        ),
    }


def _count(values: Any) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value in values:
        counted[value] = counted.get(value, 0) + 1
    return counted


def _availability_check(checks: dict[str, Any]) -> dict[str, Any]:
    read_model = checks["read_model"]
    quantity, reserved, sold = checks["quantity"], checks["reserved"], checks["sold"]
    return {
        "passed": read_model["available"] == quantity - reserved - sold
        and read_model["sold"] == sold
        and read_model["reserved"] == reserved,
        "detail": f"read model available {read_model['available']} sold {read_model['sold']} "
        f"reserved {read_model['reserved']}; inventory {quantity} - {reserved} - {sold}",
    }


async def sell_out(
    bench: Bench, rate_hint: float, round_number: int
) -> tuple[OnSale, dict[str, Any]]:
    """An event of `--capacity` tickets booked by wrk until it is sold out and final."""
    options = bench.options
    sale = await bench.new_event(options.capacity, f"Sell-out {round_number}")
    # 2.5 tickets a booking on average; wrk runs again until inventory has none left.
    seconds = max(options.read_seconds, 1.5 * options.capacity / 2.5 / max(rate_hint, 1))
    accepted = 0
    booked_seconds = 0.0
    runs: list[dict[str, Any]] = []
    while booked_seconds < 120:
        result = await bench.book(sale, options.connections[0], min(seconds, 60.0))
        runs.append(result.summary())
        accepted += result.statuses.get(202, 0)
        booked_seconds += result.wall_seconds
        stock = await inventory_stock(bench.platform.info, sale.event_id)
        left = sum(
            item["quantity"] - item["reserved"] - item["sold"] for item in stock["ticket_types"]
        )
        if left == 0:
            break
    settled, _, listed = await settle(bench, sale.event_id, accepted)
    checks = await read_model_checks(bench, sale)
    sold_out = checks["sold"] + checks["reserved"] >= checks["quantity"] or (
        checks["read_model"]["available"] == 0
    )
    invariants = {
        "tickets_sold_equal_capacity_when_sold_out": {
            "passed": sold_out and checks["sold"] == options.capacity,
            "detail": f"inventory sold {checks['sold']} of {options.capacity} "
            f"(reserved {checks['reserved']}) after {booked_seconds:.0f} s of booking",
        },
        "no_oversell_at_sell_out": {
            "passed": checks["sold"] <= checks["quantity"]
            and checks["confirmed_tickets"] == checks["sold"],
            "detail": f"CONFIRMED tickets listed {checks['confirmed_tickets']} == sold "
            f"{checks['sold']} <= {checks['quantity']}",
        },
        "every_accepted_booking_final_at_sell_out": {
            "passed": settled and listed >= accepted,
            "detail": f"{accepted} answered 202, {listed} listed, none PENDING: {settled}",
        },
        "read_model_availability_equals_inventory_at_sell_out": _availability_check(checks),
    }
    return sale, {"wrk_runs": runs, "accepted": accepted, "invariants": invariants}


async def sold_out_answers(bench: Bench, sale: OnSale, connections: int) -> dict[str, Any]:
    result = await bench.book(sale, connections, bench.options.read_seconds)
    return {**result.summary(), "answers_409_per_second": result.rate_of(409)}


async def availability_reads(bench: Bench, sale: OnSale, connections: int) -> dict[str, Any]:
    seconds = bench.options.read_seconds
    gateway = await run_wrk(
        f"{bench.gateway}/api/v1/events/{sale.event_id}/availability",
        connections=connections,
        seconds=seconds,
    )
    direct = await run_wrk(
        f"{bench.projection}/internal/v1/events/{sale.event_id}/availability",
        connections=connections,
        seconds=seconds,
        headers=bench.platform.info.internal_headers("query-projection"),
    )
    return {"gateway": gateway.summary(), "query_projection": direct.summary()}


async def half_rate(bench: Bench, rate: float, round_number: int) -> dict[str, Any]:
    """A fixed offered rate (wrk's Lua delay() paces each thread) on an unsold event."""
    if rate <= 0:
        return {"target_rate": 0.0}
    connections = max(bench.options.connections)
    sale = await bench.new_event(UNSOLD_CAPACITY, f"Steady {round_number}")
    result, load_end, lag = await booking_load(
        bench, sale, connections, bench.options.seconds, rate=rate
    )
    accepted = result.statuses.get(202, 0)
    settled, settled_at, _ = await settle(bench, sale.event_id, accepted)
    write, shown_at = await confirmed_shown(bench, sale.event_id, settled_at)
    lag.update(caught_up(write, shown_at, load_end))
    return {
        "target_rate": rate,
        "achieved_rate": result.requests_per_second,
        "wrk": result.summary(),
        "accepted_p99_ms": result.latency_ms["p99_ms"],
        "settled": settled,
        "projection_lag": lag,
    }


# ---------------------------------------------------------------------------- a round


async def baselines_alone(
    bench: Bench, connections: int, log_dir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """With the platform stopped (its payment simulator alone runs on): the minimal
    endpoint and the single service, driven by the same wrk booking script and tokens."""
    await bench.platform.stop_all_but_external_parties()
    admin_url = bench.servers.postgres_admin_url
    await baselines.checkpoint(admin_url)
    serving = bench.baseline_serving(log_dir)
    minimal = await baselines.minimal_endpoint(
        serving, bench.tokens_file, connections, bench.options.read_seconds
    )
    single = await baselines.single_service_booking(
        admin_url,
        serving,
        bench.tokens_file,
        connections,
        bench.options.seconds,
        bench.external_parties(),
        tickets_and_mail=not bench.options.booking_path_only,
    )
    return minimal, single


async def run_round(
    options: Options, servers: Servers, state_dir: Path, round_number: int
) -> dict[str, Any]:
    """Each load of the round on a new platform: one per connection count (its sale and
    reads, then, with the platform stopped, the baselines), one for the sell-out and its
    sold-out answers, one for the half-rate run. Only the measured target runs."""
    at: dict[str, Any] = {}
    for connections in options.connections:
        label = str(connections)
        load_dir = state_dir / f"sale-{connections}"
        async with new_platform(options, servers, load_dir) as bench:
            read_event = await bench.new_event(100, f"Reads {round_number}")
            print(f"  {connections} connections: platform sale ...", flush=True)
            sale = await platform_sale(bench, connections, round_number)
            reads = await availability_reads(bench, read_event, connections)
            print(f"  {connections} connections: baselines, platform stopped ...", flush=True)
            minimal, single = await baselines_alone(bench, connections, load_dir / "baselines")
        at[label] = {"minimal": minimal, "single_service": single, "sale": sale, "reads": reads}
    async with new_platform(options, servers, state_dir / "sell-out") as bench:
        print("  sell-out, sold-out answers ...", flush=True)
        best_rate = max(
            at[str(c)]["sale"]["confirmed_bookings_per_second"] for c in options.connections
        )
        sold_event, sell = await sell_out(bench, best_rate, round_number)
        for connections in options.connections:
            at[str(connections)]["sold_out"] = await sold_out_answers(
                bench, sold_event, connections
            )
        sell["nothing_accepted_after_sold_out"] = {
            "passed": all(
                at[str(c)]["sold_out"]["statuses"].get("202", 0) == 0 for c in options.connections
            ),
            "detail": "; ".join(
                f"{c} connections after the sell-out: {at[str(c)]['sold_out']['statuses']}"
                for c in options.connections
            ),
        }
    single_max = max(
        at[str(c)]["single_service"]["confirmed_bookings_per_second"] for c in options.connections
    )
    async with new_platform(options, servers, state_dir / "half-rate") as bench:
        print(f"  half rate ({single_max / 2:.0f} req/s offered) ...", flush=True)
        half = await half_rate(bench, single_max / 2, round_number)
        topic = f"bench-{bench.platform.run_id}.baseline-{uuid.uuid4().hex[:6]}"
        await create_topics(bench.platform.info.kafka_bootstrap_servers, [topic], 6)
        kafka = await baselines.kafka_produce(
            bench.platform.info.kafka_bootstrap_servers, topic, options.kafka_messages
        )
    inserts = await baselines.postgres_inserts(
        servers.postgres_admin_url, options.insert_transactions, 16
    )
    invariants = {
        f"{name} ({c} connections)": check
        for c in options.connections
        for name, check in at[str(c)]["sale"]["invariants"].items()
    }
    invariants.update(
        {name: check for name, check in sell["invariants"].items()},
        nothing_accepted_after_sold_out=sell["nothing_accepted_after_sold_out"],
        single_service_consistent={
            "passed": all(at[str(c)]["single_service"]["consistent"] for c in options.connections),
            "detail": "single service: sold == tickets booked, bookings >= 201 answers, "
            "every CONFIRMED booking charged and holding its Idempotency-Key",
        },
        baselines_refuse_a_forged_token={
            "passed": all(
                at[str(c)][name]["refuses_forged_token"]
                for c in options.connections
                for name in ("minimal", "single_service")
            ),
            "detail": "minimal endpoint and single service answer 401 to a token signed "
            "with another secret",
        },
    )
    return {
        "round": round_number,
        "connections": at,
        "sell_out": sell,
        "half_rate": half,
        "postgres_inserts": inserts,
        "kafka_produce": kafka,
        "invariants": invariants,
    }


async def write_tokens(bench_platform: Platform, users: int, directory: Path) -> Path:
    async with httpx.AsyncClient(base_url=bench_platform.gateway_url, timeout=60) as client:
        headers = await register_users(client, users)
    path = directory / "tokens.txt"
    path.write_text(
        "\n".join(header["Authorization"].removeprefix("Bearer ") for header in headers) + "\n"
    )
    return path


@asynccontextmanager
async def new_platform(options: Options, servers: Servers, state_dir: Path) -> AsyncIterator[Bench]:
    """A platform started empty for one load (a new Kafka cluster, new databases), so that
    no load pays for what an earlier one left behind."""
    async with running_platform(state_dir, servers, log_level=options.log_level) as bench_platform:
        with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
            tokens = await write_tokens(bench_platform, options.users, Path(scratch))
            async with httpx.AsyncClient(base_url=bench_platform.gateway_url, timeout=60) as client:
                admin = await admin_headers(client, bench_platform.info)
            if options.booking_path_only:
                for name in DOWNSTREAM:
                    await bench_platform.stack.kill_service(name, signal.SIGTERM)
            yield Bench(options, servers, bench_platform, tokens, admin)


async def main(options: Options) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    options.output_dir.mkdir(parents=True, exist_ok=True)
    state_dir = (options.output_dir / f"stack-{stamp}").resolve()
    report: dict[str, Any] = {
        "benchmark": "flash_sale",
        "started_at": datetime.now(UTC).isoformat(),
        "command": " ".join(["python -m bench.flash_sale", *sys.argv[1:]]),
        "machine": machine(),
        "configuration": {
            "connections": list(options.connections),
            "booking_seconds": options.seconds,
            "read_seconds": options.read_seconds,
            "sell_out_capacity": options.capacity,
            "rounds": options.rounds,
            "booking_path_only": options.booking_path_only,
            "users": options.users,
            "wrk_threads": WRK_THREADS,
            "service_log_level": options.log_level,
            "gateway_env": {**RATE_LIMIT_ENV, **SETUP_ENV},
            "notes": NOTES,
        },
        "rounds": [],
    }
    failed = False
    try:
        async with bench_servers(state_dir / "servers") as servers:
            for number in range(1, options.rounds + 1):
                print(f"round {number}/{options.rounds}", flush=True)
                report["rounds"].append(
                    await run_round(options, servers, state_dir / f"round-{number}", number)
                )
    except BaseException:
        failed = True
        raise
    finally:
        report["finished_at"] = datetime.now(UTC).isoformat()
        if report["rounds"]:
            report["median"] = median_summary(report["rounds"], list(options.connections))
            json_path = options.output_dir / f"flash_sale-{stamp}.json"
            json_path.write_text(json.dumps(report, indent=2, default=str))
            if not failed:
                print_table(report)
                print(f"\nJSON: {json_path}")
    verdicts = [check["passed"] for one in report["rounds"] for check in one["invariants"].values()]
    return 0 if verdicts and all(verdicts) else 1


NOTES = [
    "Every HTTP load is wrk (Debian, C, 2 threads) with bench/wrk/*.lua: booking POSTs carry "
    "one of the registered users' bearer tokens, 1-4 tickets and a fresh Idempotency-Key; "
    "status counts come from wrk's response() hook, latencies from wrk's histogram.",
    "Only the measured target runs: each connection count's platform runs its sale and "
    "reads, then is stopped (services and broker; the payment simulator and the mail "
    "catcher are started again alone) before the baselines start; no baseline runs "
    "beside a platform.",
    "Single service (2 uvicorn workers, 10 pooled connections each): verifies the gateway's "
    "JWT (HS256, the platform's JWT_SECRET, issuer, leeway, required claims), records the "
    "owner and Idempotency-Key in its reservation transaction (a repeated key answers with "
    "the first booking), then charges with aiohttp as booking-command does, holding no "
    "database connection during the provider calls; it issues a signed ticket per seat in "
    "its confirming transaction and, after the answer, renders the tickets' PDF and mails "
    "it over SMTP with entry's renderer and notifications' composer (the platform's entry "
    "and notifications do this for every confirmed booking). Sold-out answers are set against a "
    "minimal endpoint that verifies the same JWT and answers 409.",
    "Access log: the services write one line per request at LOG_LEVEL INFO (uvicorn's own "
    "access log off); the baselines run uvicorn's access log when the services log theirs.",
    "Throughput runs book an event (or, for the single service, a ticket type) that does "
    "not sell out in the run. Platform, as fans see it: read-model CONFIRMED bookings / "
    "(when the read model was seen listing every booking the event store confirmed - wrk "
    "start); write side: Confirmed events in booking-command's event store / (last "
    "Confirmed - wrk start). Single service: CONFIRMED rows / (last confirmed_at - wrk "
    "start), its table being what fans see.",
    "End of each booking load: projection_lag_seconds p99 over the load and over its last "
    "10 s (a quarter of a shorter load), query-projection's kafka_consumer_lag summed when "
    "wrk stops, and how long after wrk stopped the read model showed every confirmed booking.",
    "CPU ms per confirmed booking: utime+stime from /proc of each process tree over the "
    "window wrk start -> every accepted booking listed final and every confirmed one "
    "mailed (platform) or the wrk run, its last charges and its last mails (single "
    "service); PostgreSQL = postmaster, auxiliary processes and the "
    "backends and autovacuum workers of the target's own databases (a CHECKPOINT before the "
    "baselines writes out what the platform left); Redis is the shared server.",
    "Generator CPU: wrk's own utime+stime (rusage at exit) / wall time.",
    "Half rate: wrk's Lua delay() hands each thread send slots at a fixed rate (half the "
    "single-service maximum confirmed/s), at the largest connection count; wrk measures "
    "from the actual send, so if the platform falls behind, the achieved rate drops below "
    "the target and the table shows both.",
    "Gateway rate limits raised to 1000000/minute (limiter still on).",
    "Both designs charge every booking at the same payment provider (the simulator, a "
    "process of the stack): a manual-capture intent with an idempotency key, then its "
    "capture. The simulator stands for an external party: its CPU (and its PostgreSQL "
    "backends') is shown apart and is in neither design's total; so is the mail catcher's, "
    "the SMTP relay both send their confirmations to.",
]


async def main_until_stopped(options: Options) -> int:
    """`main`, cancelled on SIGTERM as on Ctrl-C: the platform it started is stopped and its
    databases dropped either way, not left running."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await main(options)


def cli() -> None:
    options = parse_options()
    sys.exit(asyncio.run(main_until_stopped(options)))


if __name__ == "__main__":
    cli()
