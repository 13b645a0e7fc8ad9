"""Flash-sale benchmark through the gateway, with baselines measured in the same run.

`make bench` (or `uv run --all-packages python -m bench.flash_sale --help`). One event
with `--capacity` tickets; `--capacity * --requests-multiplier` booking requests (1-4
tickets each) from `--concurrency` closed-loop clients spread over a pool of users.
Every figure is also reported as a ratio against baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import baselines
from bench.load_client import run_load, run_paced, summarise
from bench.platform_api import (
    FINAL_STATUSES,
    RATE_LIMIT_ENV,
    SETUP_ENV,
    Platform,
    admin_headers,
    confirmed_through_api,
    event_on_sale,
    histogram,
    histogram_count,
    histogram_quantile,
    inventory_stock,
    poll_until_settled,
    register_users,
    running_platform,
)
from bench.report import draw_png, median_summary, print_table
from local_infra.broker import create_topics
from local_infra.stack import DEFAULT_POSTGRES_ADMIN_URL

LAG_METRIC = "projection_lag_seconds"
VISIBLE_SAMPLE_TRACKED = 2
VISIBLE_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Options:
    capacity: int
    multiplier: int
    concurrency: int
    rounds: int
    users: int
    sold_out_requests: int
    half_rate_seconds: float
    minimal_requests: int
    insert_transactions: int
    kafka_messages: int
    output_dir: Path
    log_level: str
    profile_seconds: float
    quick: bool

    @property
    def requests(self) -> int:
        return self.capacity * self.multiplier


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.flash_sale", description=__doc__)
    parser.add_argument("--capacity", type=int, default=5000, help="tickets on sale (5000)")
    parser.add_argument(
        "--requests-multiplier", type=int, default=10, help="booking requests per ticket (10)"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients (64)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat; report medians (1)")
    parser.add_argument("--users", type=int, default=100, help="users the requests spread over")
    parser.add_argument(
        "--sold-out-requests", type=int, default=5000, help="requests after the sell-out (5000)"
    )
    parser.add_argument(
        "--half-rate-seconds",
        type=float,
        default=10.0,
        help="open-loop phase at half the maximum sustained booking rate (10 s)",
    )
    parser.add_argument("--output-dir", type=Path, default=Path("bench/results"))
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL (INFO)")
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=0.0,
        help="after the measured rounds, one more sale with py-spy on every service for "
        "this many seconds (0: no profile)",
    )
    parser.add_argument("--quick", action="store_true", help="small smoke configuration")
    args = parser.parse_args(argv)
    if args.quick:
        return Options(
            capacity=300,
            multiplier=args.requests_multiplier,
            concurrency=min(args.concurrency, 32),
            rounds=args.rounds,
            users=20,
            sold_out_requests=500,
            half_rate_seconds=4.0,
            minimal_requests=2000,
            insert_transactions=1000,
            kafka_messages=2000,
            output_dir=args.output_dir,
            log_level=args.log_level,
            profile_seconds=args.profile_seconds,
            quick=True,
        )
    return Options(
        capacity=args.capacity,
        multiplier=args.requests_multiplier,
        concurrency=args.concurrency,
        rounds=args.rounds,
        users=args.users,
        sold_out_requests=args.sold_out_requests,
        half_rate_seconds=args.half_rate_seconds,
        minimal_requests=10_000,
        insert_transactions=10_000,
        kafka_messages=10_000,
        output_dir=args.output_dir,
        log_level=args.log_level,
        profile_seconds=args.profile_seconds,
        quick=False,
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


# ---------------------------------------------------------------------------- baselines


async def measure_baselines(options: Options, bench_platform: Platform) -> dict[str, Any]:
    admin_url = DEFAULT_POSTGRES_ADMIN_URL
    minimal = await baselines.minimal_endpoint(options.minimal_requests, options.concurrency)
    inserts = await baselines.postgres_inserts(admin_url, options.insert_transactions, 16)
    topic = f"bench-{bench_platform.run_id}.baseline-{uuid.uuid4().hex[:6]}"
    await create_topics(bench_platform.info.kafka_bootstrap_servers, [topic], 6)
    kafka = await baselines.kafka_produce(
        bench_platform.info.kafka_bootstrap_servers, topic, options.kafka_messages
    )
    single = await baselines.single_service_booking(
        admin_url, options.capacity, options.requests, options.concurrency
    )
    return {
        "minimal_endpoint": minimal,
        "postgres_inserts": inserts,
        "kafka_produce": kafka,
        "single_service": single,
    }


# ---------------------------------------------------------------------------- the sale


@dataclass
class Accepted:
    booking_id: str
    headers: dict[str, str]
    sent_wall: float
    answered_wall: float
    quantity: int


class VisibleSampler:
    """Follows a few accepted bookings during the sale, polling until they are final.

    Bounded on purpose (at most VISIBLE_SAMPLE_TRACKED at a time, one GET per
    VISIBLE_POLL_SECONDS each) so the polling does not drown the write path.
    """

    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.tracked = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.visible_after: list[float] = []

    def offer(self, accepted: Accepted) -> None:
        if self.tracked >= VISIBLE_SAMPLE_TRACKED:
            return
        self.tracked += 1
        task = asyncio.create_task(self._follow(accepted))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _follow(self, accepted: Accepted) -> None:
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                response = await self.client.get(
                    f"/api/v1/bookings/{accepted.booking_id}", headers=accepted.headers
                )
                if response.status_code == 200 and response.json()["status"] in FINAL_STATUSES:
                    self.visible_after.append(time.time() - accepted.sent_wall)
                    return
                await asyncio.sleep(VISIBLE_POLL_SECONDS)
        except httpx.HTTPError:
            return
        finally:
            self.tracked -= 1

    async def close(self) -> None:
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=60)
        await self.client.aclose()


def booking_request(
    on_sale_event: str,
    ticket_type_id: str,
    users: list[dict[str, str]],
    quantities: list[int],
    accepted: dict[int, Accepted],
    sampler: VisibleSampler | None = None,
) -> Any:
    async def book(client: httpx.AsyncClient, index: int) -> httpx.Response:
        headers = {**users[index % len(users)], "Idempotency-Key": uuid.uuid4().hex}
        sent = time.time()
        response = await client.post(
            "/api/v1/bookings",
            json={
                "event_id": on_sale_event,
                "ticket_type_id": ticket_type_id,
                "quantity": quantities[index % len(quantities)],
                "customer_name": "Sam Fan",
                "customer_email": f"fan{index}@example.com",
            },
            headers=headers,
        )
        if response.status_code == 202:
            record = Accepted(
                booking_id=response.json()["id"],
                headers=users[index % len(users)],
                sent_wall=sent,
                answered_wall=time.time(),
                quantity=quantities[index % len(quantities)],
            )
            accepted[index] = record
            if sampler is not None:
                sampler.offer(record)
        return response

    return book


async def run_sale(
    options: Options, bench_platform: Platform, round_number: int, profile: bool = False
) -> dict[str, Any]:
    info = bench_platform.info
    gateway = info.gateway_url
    query_url = info.url("query-projection")
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        admin = await admin_headers(client, info)
        users = await register_users(client, options.users)
        sale = await event_on_sale(
            client, info, admin, options.capacity, f"Flash Sale {round_number}"
        )

    quantities = random.Random(7).choices(range(1, 5), k=options.requests)
    accepted: dict[int, Accepted] = {}
    sampler = VisibleSampler(gateway)
    lag_before = await histogram(query_url, LAG_METRIC)
    profilers = start_profilers(options, bench_platform, round_number) if profile else []
    sale_start_wall = time.time()
    result = await run_load(
        gateway,
        booking_request(sale.event_id, sale.ticket_type_id, users, quantities, accepted, sampler),
        total=options.requests,
        concurrency=options.concurrency,
    )
    await sampler.close()
    settle_started = time.monotonic()
    settled = await poll_until_settled(
        gateway, {record.booking_id: record.headers for record in accepted.values()}
    )
    settle_seconds = time.monotonic() - settle_started
    # Whatever projected for this sale is in by now (every accepted booking was seen final).
    await asyncio.sleep(1.0)
    lag_after = await histogram(query_url, LAG_METRIC)
    profiles = finish_profilers(profilers)

    # Sold out: every further request is answered by the gateway's availability cache.
    hammer_accepted: dict[int, Accepted] = {}
    hammer = await run_load(
        gateway,
        booking_request(sale.event_id, sale.ticket_type_id, users, [1], hammer_accepted),
        total=options.sold_out_requests,
        concurrency=options.concurrency,
    )

    invariants = await check_invariants(info, admin_headers, sale, accepted, settled, hammer)

    # Half of the maximum sustained booking rate, open loop, on a fresh event.
    last_202 = max((at for at, _, _, status in result.timeline if status == 202), default=0.0)
    answered_before = sum(1 for at, *_ in result.timeline if at <= last_202)
    max_sustained = answered_before / last_202 if last_202 else 0.0
    half = await run_half_rate(options, bench_platform, users, max_sustained / 2, round_number)

    return summarise_sale(
        options,
        result,
        sale_start_wall,
        accepted,
        settled,
        settle_seconds,
        sampler.visible_after,
        lag_before,
        lag_after,
        hammer,
        invariants,
        half,
        max_sustained,
        last_202,
        profiles,
    )


async def run_half_rate(
    options: Options,
    bench_platform: Platform,
    users: list[dict[str, str]],
    rate: float,
    round_number: int,
) -> dict[str, Any]:
    info = bench_platform.info
    if rate <= 0:
        return {"target_rate": 0.0}
    capacity = math.ceil(rate * options.half_rate_seconds * 4 * 1.5) + 100
    async with httpx.AsyncClient(base_url=info.gateway_url, timeout=60) as client:
        admin = await admin_headers(client, info)
        event = await event_on_sale(client, info, admin, capacity, f"Steady Sale {round_number}")
    quantities = random.Random(11).choices(range(1, 5), k=max(1, int(rate * 60)))
    accepted: dict[int, Accepted] = {}
    result = await run_paced(
        info.gateway_url,
        booking_request(event.event_id, event.ticket_type_id, users, quantities, accepted),
        rate=rate,
        duration_seconds=options.half_rate_seconds,
    )
    settled = await poll_until_settled(
        info.gateway_url, {record.booking_id: record.headers for record in accepted.values()}
    )
    accepted_latencies = [lat for _, lat, _, status in result.timeline if status == 202]
    return {
        "target_rate": rate,
        "achieved_rate": result.requests_per_second,
        "requests": result.requests,
        "errors": result.errors,
        "statuses": {str(code): count for code, count in sorted(result.statuses.items())},
        "accepted_latency": summarise(accepted_latencies),
        "accepted": len(accepted),
        "settled": len(settled),
        "all_settled": len(settled) == len(accepted),
    }


# ---------------------------------------------------------------------------- invariants


async def check_invariants(
    info: Any,
    login_admin: Any,
    sale: Any,
    accepted: dict[int, Accepted],
    settled: dict[str, Any],
    hammer: Any,
) -> dict[str, dict[str, Any]]:
    stock = await inventory_stock(info, sale.event_id)
    ticket_type = next(
        item for item in stock["ticket_types"] if item["ticket_type_id"] == sale.ticket_type_id
    )
    async with httpx.AsyncClient(base_url=info.gateway_url, timeout=60) as client:
        admin = await login_admin(client, info)
        confirmed_bookings, confirmed_tickets = await confirmed_through_api(
            client, admin, sale.event_id
        )
        availability = (await client.get(f"/api/v1/events/{sale.event_id}/availability")).json()
    read_model = next(
        item
        for item in availability["ticket_types"]
        if item["ticket_type_id"] == sale.ticket_type_id
    )
    quantity, reserved, sold = ticket_type["quantity"], ticket_type["reserved"], ticket_type["sold"]
    unsettled = len(accepted) - len(settled)
    checks = {
        "tickets_sold_equal_capacity": {
            "passed": sold == sale.capacity,
            "detail": f"inventory sold {sold} of {sale.capacity} (reserved {reserved})",
        },
        "no_oversell": {
            "passed": sold + reserved <= quantity and confirmed_tickets == sold,
            "detail": f"sold {sold} + reserved {reserved} <= {quantity}; CONFIRMED tickets "
            f"through the API {confirmed_tickets} ({confirmed_bookings} bookings) == sold {sold}",
        },
        "every_accepted_request_final": {
            "passed": unsettled == 0,
            "detail": f"{len(settled)} of {len(accepted)} accepted bookings final, {unsettled} not",
        },
        "read_model_availability_equals_event_store": {
            "passed": read_model["available"] == quantity - reserved - sold
            and read_model["sold"] == sold
            and read_model["reserved"] == reserved,
            "detail": f"read model available {read_model['available']} sold "
            f"{read_model['sold']} reserved {read_model['reserved']}; inventory "
            f"{quantity} - {reserved} - {sold} = {quantity - reserved - sold}",
        },
        "sold_out_requests_not_accepted": {
            "passed": hammer.statuses.get(202, 0) == 0,
            "detail": f"after the sell-out: {dict(sorted(hammer.statuses.items()))}",
        },
    }
    return checks


# ---------------------------------------------------------------------------- figures


def summarise_sale(
    options: Options,
    result: Any,
    sale_start_wall: float,
    accepted: dict[int, Accepted],
    settled: dict[str, Any],
    settle_seconds: float,
    visible_after: list[float],
    lag_before: dict[float, float],
    lag_after: dict[float, float],
    hammer: Any,
    invariants: dict[str, dict[str, Any]],
    half: dict[str, Any],
    max_sustained: float,
    last_202: float,
    profiles: dict[str, Any],
) -> dict[str, Any]:
    by_id = {record.booking_id: record for record in accepted.values()}
    confirmed = {key: value for key, value in settled.items() if value.status == "CONFIRMED"}
    final_times = [
        value.final_at - by_id[key].sent_wall
        for key, value in settled.items()
        if value.final_at is not None
    ]
    confirmed_at = [value.final_at for value in confirmed.values() if value.final_at is not None]
    last_confirmed = (max(confirmed_at) - sale_start_wall) if confirmed_at else math.nan
    lag_p99 = histogram_quantile(lag_before, lag_after, 0.99)
    accepted_latencies = [lat for _, lat, _, status in result.timeline if status == 202]
    rejected_at_gateway = sum(count for status, count in result.statuses.items() if status == 409)
    rejected_after_accept = sum(1 for value in settled.values() if value.status == "REJECTED")
    return {
        "requests": result.requests,
        "errors": result.errors,
        "duration_seconds": result.duration,
        "statuses": {str(code): count for code, count in sorted(result.statuses.items())},
        "requests_per_second": result.requests_per_second,
        "max_sustained_rate": max_sustained,
        "accepting_seconds": last_202,
        "accepted": len(accepted),
        "confirmed_bookings": len(confirmed),
        "confirmed_tickets": sum(value.quantity for value in confirmed.values()),
        "sell_out_seconds": last_confirmed,
        "confirmed_bookings_per_second": len(confirmed) / last_confirmed
        if confirmed_at and last_confirmed > 0
        else 0.0,
        "confirmed_bookings_per_second_incl_lag_p99": len(confirmed) / (last_confirmed + lag_p99)
        if confirmed_at and not math.isnan(lag_p99)
        else 0.0,
        "accepted_latency": summarise(accepted_latencies),
        "all_answers_latency": summarise(result.latencies),
        "time_to_final": summarise(final_times),
        "time_to_final_visible_sampled": {
            **summarise(visible_after),
            "samples": len(visible_after),
        },
        "settle_poll_seconds": settle_seconds,
        "projection_lag": {
            "p50_ms": histogram_quantile(lag_before, lag_after, 0.50) * 1000,
            "p99_ms": lag_p99 * 1000,
            "observations": histogram_count(lag_before, lag_after),
        },
        "rejections": {
            "at_gateway_409": rejected_at_gateway,
            "rejected_after_202": rejected_after_accept,
            "share_of_requests": (rejected_at_gateway + rejected_after_accept)
            / max(1, result.requests),
        },
        "sold_out": {
            "requests": hammer.requests,
            "errors": hammer.errors,
            "requests_per_second": hammer.requests_per_second,
            "statuses": {str(code): count for code, count in sorted(hammer.statuses.items())},
            **summarise(hammer.latencies),
        },
        "half_rate": half,
        "invariants": invariants,
        "profiles": profiles,
        "timeline": [
            (round(at, 4), round(lat, 5), status) for at, lat, _, status in result.timeline
        ],
        "confirmed_timeline": sorted(round(at - sale_start_wall, 4) for at in confirmed_at),
    }


def ratios(sale: dict[str, Any], base: dict[str, Any]) -> dict[str, float]:
    def ratio(value: float, against: float) -> float:
        return value / against if against else math.nan

    return {
        "confirmed_per_second_vs_single_service": ratio(
            sale["confirmed_bookings_per_second"],
            base["single_service"]["confirmed_bookings_per_second"],
        ),
        "requests_per_second_vs_single_service": ratio(
            sale["requests_per_second"], base["single_service"]["requests_per_second"]
        ),
        "requests_per_second_vs_minimal_endpoint": ratio(
            sale["requests_per_second"], base["minimal_endpoint"]["requests_per_second"]
        ),
        "sold_out_rate_vs_minimal_endpoint": ratio(
            sale["sold_out"]["requests_per_second"],
            base["minimal_endpoint"]["requests_per_second"],
        ),
        "max_sustained_rate_vs_postgres_insert_tps": ratio(
            sale["max_sustained_rate"], base["postgres_inserts"]["transactions_per_second"]
        ),
        "confirmed_per_second_vs_kafka_produce": ratio(
            sale["confirmed_bookings_per_second"], base["kafka_produce"]["messages_per_second"]
        ),
    }


# ---------------------------------------------------------------------------- profiling


def start_profilers(
    options: Options, bench_platform: Platform, round_number: int
) -> list[tuple[str, Path, subprocess.Popen[bytes]]]:
    py_spy = Path(sys.executable).parent / "py-spy"
    directory = options.output_dir / f"profile-{bench_platform.run_id}"
    directory.mkdir(parents=True, exist_ok=True)
    started = []
    for name, service in bench_platform.info.services.items():
        output = directory / f"{name}.txt"
        process = subprocess.Popen(  # the services run beside us; py-spy samples them
            [
                str(py_spy),
                "record",
                "--nonblocking",
                "--rate",
                "50",
                "--format",
                "raw",
                "-d",
                str(int(options.profile_seconds)),
                "-o",
                str(output),
                "--pid",
                str(service.pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append((name, output, process))
    return started


def finish_profilers(
    profilers: list[tuple[str, Path, subprocess.Popen[bytes]]],
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, output, process in profilers:
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.terminate()
            continue
        if output.exists():
            found[name] = {"raw": str(output), **collapse_profile(output)}
    return found


def collapse_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """Own time per leaf function and inclusive time per project/library function."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count

    def share(table: dict[str, int]) -> list[tuple[str, float]]:
        ordered = sorted(table.items(), key=lambda item: item[1], reverse=True)[:top]
        return [(frame, round(100 * count / total, 1)) for frame, count in ordered]

    interesting = {
        frame: count
        for frame, count in inclusive.items()
        if any(
            part in frame
            for part in (
                "gateway/",
                "booking_command/",
                "inventory/",
                "query_projection/",
                "service_kit/",
            )
        )
    }
    return {
        "samples": total,
        "own_time_top": share(own),
        "project_inclusive_top": share(interesting),
    }


# ---------------------------------------------------------------------------- main


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
            "capacity": options.capacity,
            "requests": options.requests,
            "requests_multiplier": options.multiplier,
            "tickets_per_request": "1-4, uniform, seed 7",
            "concurrency": options.concurrency,
            "users": options.users,
            "rounds": options.rounds,
            "sold_out_requests": options.sold_out_requests,
            "half_rate_seconds": options.half_rate_seconds,
            "service_log_level": options.log_level,
            "gateway_env": {**RATE_LIMIT_ENV, **SETUP_ENV},
            "notes": [
                "Gateway rate limits raised to 1000000/minute (limiter still on): the run "
                "measures throughput, not the limiter.",
                "Cheaper argon2 only for registering/logging in the user pool before the sale.",
                "Time to final state: read model updated_at (when the CONFIRMED/REJECTED event "
                "occurred in booking-command) minus the client's send time, for every accepted "
                "booking, polled after the sale; 'visible (sampled)' is client-side: a few "
                f"bookings followed during the sale with one GET per {VISIBLE_POLL_SECONDS}s.",
                "Confirmed bookings/s: CONFIRMED bookings / (last CONFIRMED updated_at - sale "
                "start); the single-service baseline: 201s / time of its last 201.",
                "Projection lag: query-projection projection_lag_seconds histogram, deltas of "
                "bucket counts before/after the sale, quantiles interpolated within buckets "
                "(bucket resolution: ..0.1, 0.25, 0.5, 1 s ..).",
                "Sold-out rate: further requests after the sell-out, answered by the gateway's "
                "availability cache.",
                "Latency p99 at half rate: open-loop paced load at half the max sustained rate "
                "(requests answered / time until the last 202 in the sale), fresh event, "
                "measured from each request's scheduled start.",
                "Baselines run while the stack is up but idle; client, services, PostgreSQL, "
                "Redis and the broker share the machine.",
            ],
        },
        "rounds": [],
    }
    failed = False
    try:
        async with running_platform(state_dir, log_level=options.log_level) as bench_platform:
            for number in range(1, options.rounds + 1):
                print(f"round {number}/{options.rounds}: baselines ...", flush=True)
                base = await measure_baselines(options, bench_platform)
                print(f"round {number}/{options.rounds}: flash sale ...", flush=True)
                sale = await run_sale(options, bench_platform, number)
                report["rounds"].append(
                    {"round": number, "baselines": base, "sale": sale, "ratios": ratios(sale, base)}
                )
                print_round(number, sale, base)
            if options.profile_seconds > 0:
                print("profiled sale (not counted) ...", flush=True)
                profiled = await run_sale(options, bench_platform, 99, profile=True)
                report["profile"] = profiled["profiles"]
    except BaseException:
        failed = True
        raise
    finally:
        report["finished_at"] = datetime.now(UTC).isoformat()
        if report["rounds"]:
            report["median"] = median_summary(report["rounds"])
            json_path = options.output_dir / f"flash_sale-{stamp}.json"
            png_path = options.output_dir / f"flash_sale-{stamp}.png"
            draw_png(report, png_path)
            report["png"] = str(png_path)
            json_path.write_text(json.dumps(report, indent=2, default=str))
            if not failed:
                print_table(report)
                print(f"\nJSON: {json_path}\nPNG:  {png_path}")
    verdicts = [
        check["passed"]
        for round_report in report["rounds"]
        for check in round_report["sale"]["invariants"].values()
    ]
    return 0 if verdicts and all(verdicts) else 1


def print_round(number: int, sale: dict[str, Any], base: dict[str, Any]) -> None:
    confirmed = sale["confirmed_bookings_per_second"]
    single = base["single_service"]["confirmed_bookings_per_second"]
    passed = all(check["passed"] for check in sale["invariants"].values())
    print(
        f"round {number}: {sale['requests_per_second']:.0f} req/s, "
        f"{confirmed:.0f} confirmed/s (single service {single:.0f}/s), "
        f"202 p99 {sale['accepted_latency']['p99_ms']:.0f} ms, "
        f"invariants {'PASS' if passed else 'FAIL'}",
        flush=True,
    )


def cli() -> None:
    options = parse_options()
    sys.exit(asyncio.run(main(options)))


if __name__ == "__main__":
    cli()
