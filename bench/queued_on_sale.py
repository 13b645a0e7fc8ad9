"""A queued on-sale: a crowd joins the waiting room before the start and polls its places.

`make bench` runs it after the flash sale (or `uv run --all-packages python -m
bench.queued_on_sale --help`). Each round, on a platform started empty: an event of
`--capacity` tickets with a purchase limit and a waiting room, its sale start a day away;
`--fans` accounts (inserted into the gateway's user table with one password hash, their
tokens signed with the platform's JWT secret: registering 20,000 through the API would only
measure password hashing). One wrk run, one connection per thread so each fan's state
follows its own requests: every fan joins, then the fans poll their places in turn; once
the room counts every fan, the sale start is moved to a few seconds ahead; admitted fans
book once with their pass. The room's live figures are sampled every second. Then, with
the platform stopped, the same wrk script polls a minimal endpoint that verifies the same
tokens.

Measured: polls/s once everyone has joined against the minimal endpoint's (target >=
0.5x), bookings offered per second against the admission rate, and the invariants: sold
out, nothing oversold, every accepted booking confirmed and shown, nobody books without a
pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt

from bench import baselines
from bench.flash_sale import machine
from bench.platform_api import (
    JWT_ENV,
    PASSWORD,
    RATE_LIMIT_ENV,
    SETUP_ENV,
    OnSale,
    Platform,
    Servers,
    admin_headers,
    bench_servers,
    confirmed_through_api,
    event_on_sale,
    inventory_stock,
    poll_until_settled,
    running_platform,
)
from bench.wrk_driver import WrkResult, run_wrk, script

API = "/api/v1"
TOKEN_HOURS = 2


@dataclass(frozen=True)
class Options:
    fans: int
    capacity: int
    limit_per_account: int
    admission_per_minute: int
    max_admitted_at_once: int
    session_minutes: int
    connections: int
    seconds: float
    baseline_seconds: float
    lead_seconds: float
    rounds: int
    output_dir: Path
    log_level: str


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.queued_on_sale", description=__doc__)
    parser.add_argument("--fans", type=int, default=20_000, help="accounts in the crowd")
    parser.add_argument("--capacity", type=int, default=1000, help="tickets on sale (1000)")
    parser.add_argument("--limit", type=int, default=4, help="tickets per account (4)")
    parser.add_argument(
        "--admission-per-minute", type=int, default=1200, help="the room's rate (1200)"
    )
    parser.add_argument(
        "--session-minutes", type=int, default=1, help="how long a pass lasts (1 min)"
    )
    parser.add_argument(
        "--max-admitted",
        type=int,
        default=1200,
        help="fans holding a live pass at once, at most (1200: the rate times the session, "
        "so the cap does not bind before the rate does)",
    )
    parser.add_argument(
        "--connections", type=int, default=64, help="wrk connections, one per thread (64)"
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="the crowd's wrk run (120 s)")
    parser.add_argument(
        "--baseline-seconds", type=float, default=20.0, help="the minimal endpoint's run (20 s)"
    )
    parser.add_argument(
        "--lead-seconds", type=float, default=5.0, help="start once all joined, after (5 s)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="repeat; report medians (3)")
    parser.add_argument("--output-dir", type=Path, default=Path("bench/results"))
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL (INFO)")
    parser.add_argument(
        "--quick", action="store_true", help="a small smoke run (not for the README)"
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Options(
        fans=2000 if quick else args.fans,
        capacity=200 if quick else args.capacity,
        limit_per_account=args.limit,
        admission_per_minute=args.admission_per_minute,
        max_admitted_at_once=args.max_admitted,
        session_minutes=args.session_minutes,
        connections=16 if quick else args.connections,
        seconds=45.0 if quick else args.seconds,
        baseline_seconds=5.0 if quick else args.baseline_seconds,
        lead_seconds=args.lead_seconds,
        rounds=1 if quick else args.rounds,
        output_dir=args.output_dir,
        log_level=args.log_level,
    )


# ---------------------------------------------------------------------------- the crowd


async def crowd(platform: Platform, count: int, directory: Path) -> tuple[Path, list[str]]:
    """`count` fan accounts and a bearer token each: the tokens, and the file wrk reads
    them from (one per line)."""
    info = platform.info
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=60) as client:
        email = f"template-{uuid.uuid4().hex[:8]}@example.com"
        registered = await client.post(
            f"{API}/auth/register", json={"email": email, "password": PASSWORD, "name": "Sam Fan"}
        )
        registered.raise_for_status()
    connection = await asyncpg.connect(info.database_urls["gateway"])
    try:
        password_hash = await connection.fetchval(
            "SELECT password_hash FROM gateway_users WHERE email = $1", email
        )
        now = datetime.now(UTC)
        ids = [uuid.uuid4() for _ in range(count)]
        await connection.copy_records_to_table(
            "gateway_users",
            records=[
                (fan, f"fan-{fan.hex}@example.com", "Sam Fan", "user", password_hash, now, now, 0)
                for fan in ids
            ],
            columns=[
                "id",
                "email",
                "name",
                "role",
                "password_hash",
                "created_at",
                "updated_at",
                "token_version",
            ],
        )
    finally:
        await connection.close()
    secret = info.shared_env["JWT_SECRET"]
    expires = now + timedelta(hours=TOKEN_HOURS)
    tokens = [
        jwt.encode(
            {
                "sub": str(fan),
                "role": "user",
                "iss": JWT_ENV["JWT_ISSUER"],
                "iat": now,
                "exp": expires,
                "jti": uuid.uuid4().hex,
                "ver": 0,
            },
            secret,
            algorithm=JWT_ENV["JWT_ALGORITHM"],
        )
        for fan in ids
    ]
    path = directory / "crowd.txt"
    path.write_text("\n".join(tokens) + "\n")
    return path, tokens


async def queued_event(
    client: httpx.AsyncClient,
    platform: Platform,
    admin: dict[str, str],
    options: Options,
    name: str,
) -> OnSale:
    """A published event whose sale starts in a day, with a purchase limit and a room."""
    sale = await event_on_sale(client, platform.info, admin, options.capacity, name)
    await set_sale_start(
        client, admin, sale.event_id, options, datetime.now(UTC) + timedelta(days=1)
    )
    room = await client.put(
        f"{API}/events/{sale.event_id}/waiting-room",
        json={
            "admission_per_minute": options.admission_per_minute,
            "max_admitted_at_once": options.max_admitted_at_once,
            "session_minutes": options.session_minutes,
            "booking_attempts_per_pass": 3,
        },
        headers=admin,
    )
    room.raise_for_status()
    return sale


async def set_sale_start(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    event_id: str,
    options: Options,
    starts_at: datetime,
) -> None:
    """Sets the start and waits until the room has read it (the catalog read it uses)."""
    changed = await client.put(
        f"{API}/events/{event_id}/sale",
        json={
            "sale_starts_at": starts_at.isoformat(),
            "sale_ends_at": None,
            "max_tickets_per_account": options.limit_per_account,
        },
        headers=admin,
    )
    changed.raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        room = await client.get(f"{API}/events/{event_id}/waiting-room", headers=admin)
        if room.status_code == 404:  # no room yet: the catalog read is what it reads
            detail = await client.get(f"{API}/events/{event_id}", headers=admin)
            seen = detail.json().get("sale_starts_at") if detail.status_code == 200 else None
        else:
            seen = room.json().get("sale_starts_at") if room.status_code == 200 else None
        if seen is not None and datetime.fromisoformat(seen) == starts_at:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the sale start of {event_id} was not seen within 60 s")


@dataclass
class Watch:
    samples: list[dict[str, Any]]
    all_joined_at: float | None = None
    starts_at: float | None = None
    # What a fan of the crowd booking with no pass is answered just after the start.
    without_a_pass: int | None = None


async def watch_the_room(
    platform: Platform,
    admin: dict[str, str],
    sale: OnSale,
    options: Options,
    watch: Watch,
    no_pass_token: str,
) -> None:
    """Samples the room's live figures every second; once it counts every fan, moves the
    sale start to `lead_seconds` ahead; a second after the start, books with no pass."""
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        while True:
            response = await client.get(f"{API}/events/{sale.event_id}/waiting-room", headers=admin)
            if response.status_code == 200:
                figures = response.json()
                watch.samples.append({"at": time.time(), **figures})
                if watch.all_joined_at is None and figures["waiting"] >= options.fans:
                    watch.all_joined_at = time.time()
                    start = datetime.now(UTC) + timedelta(seconds=options.lead_seconds)
                    await set_sale_start(client, admin, sale.event_id, options, start)
                    watch.starts_at = start.timestamp()
            if (
                watch.starts_at is not None
                and watch.without_a_pass is None
                and time.time() > watch.starts_at + 1
            ):
                watch.without_a_pass = await without_a_pass(client, no_pass_token, sale)
            await asyncio.sleep(1.0)


def crowd_args(
    tokens: Path, mode: str, options: Options, sale: OnSale | None, prefix: str
) -> list[str]:
    return [
        str(tokens),
        mode,
        str(options.connections),
        sale.event_id if sale else "-",
        sale.ticket_type_id if sale else "-",
        prefix,
        uuid.uuid4().hex[:16],
    ]


def per_second(result: WrkResult) -> list[tuple[int, int, int]]:
    """(epoch second, polls, bookings offered) per second of the run, in order."""
    rows = result.extra.get("per_second", {})
    return sorted((int(second), int(row[0]), int(row[1])) for second, row in rows.items())


def poll_rate(rows: list[tuple[int, int, int]], since: float | None) -> float:
    """Polls per second over the whole seconds after everyone had joined (first and last
    second of the run left out: they are partial)."""
    if since is None:
        return 0.0
    steady = [polls for second, polls, _ in rows[1:-1] if second > since]
    return statistics.fmean(steady) if steady else 0.0


def offered_peak(rows: list[tuple[int, int, int]], window: int = 5) -> float:
    """The most bookings offered per second over any `window` consecutive seconds."""
    counts = {second: booked for second, _, booked in rows}
    if not counts:
        return 0.0
    first, last = min(counts), max(counts)
    return max(
        sum(counts.get(second + offset, 0) for offset in range(window)) / window
        for second in range(first, max(first, last - window + 1) + 1)
    )


def offered_beyond_admissions(
    rows: list[tuple[int, int, int]], samples: list[dict[str, Any]]
) -> int:
    """The most bookings offered by then beyond the fans admitted by then, over the run's
    seconds (0: the booking path was never offered more than the room let in). Each fan
    books once, so every booking needs an admission; admissions are read from the room's
    samples, a second late at most, so a booking is set against the next second's count."""
    admitted = sorted((float(sample["at"]), int(sample["admitted_total"])) for sample in samples)
    worst, offered = 0, 0
    for second, _, booked in rows:
        offered += booked
        known = [total for at, total in admitted if at <= second + 2]
        if known:
            worst = max(worst, offered - known[-1])
    return worst


async def without_a_pass(client: httpx.AsyncClient, token: str, sale: OnSale) -> int:
    """A fan of the crowd books with no pass: the status the gateway answers."""
    response = await client.post(
        f"{API}/bookings",
        json={
            "event_id": sale.event_id,
            "ticket_type_id": sale.ticket_type_id,
            "quantity": 1,
            "customer_name": "Sam Fan",
            "customer_email": "no-pass@example.com",
            "payment_token": "tok_visa",
        },
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
    )
    return response.status_code


async def minimal_polls(
    platform: Platform, tokens: Path, options: Options, log_dir: Path
) -> dict[str, Any]:
    """With the platform stopped: the same script polls an endpoint that verifies the token."""
    await platform.stop_all_but_external_parties()
    serving = baselines.Serving(
        jwt_env=platform.baseline_jwt_env(), access_log=True, log_dir=log_dir
    )
    async with baselines.served("minimal_app:app", serving) as (base_url, _):
        result = await run_wrk(
            f"{base_url}/places",
            connections=options.connections,
            threads=options.connections,
            seconds=options.baseline_seconds,
            lua=script("queue"),
            args=crowd_args(tokens, "minimal", options, None, "/places"),
        )
    return {**result.summary(), "polls": result.extra.get("kinds", {}).get("poll", {})}


async def one_round(
    options: Options, servers: Servers, state_dir: Path, number: int
) -> dict[str, Any]:
    async with running_platform(state_dir, servers, log_level=options.log_level) as platform:
        with tempfile.TemporaryDirectory(prefix="bench-queue-") as scratch:
            async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=60) as client:
                admin = await admin_headers(client, platform.info)
                sale = await queued_event(client, platform, admin, options, f"Queued {number}")
            tokens, owners = await crowd(platform, options.fans, Path(scratch))
            watch = Watch(samples=[])
            # The last fan of the crowd also tries once without a pass, during the sale.
            watcher = asyncio.create_task(
                watch_the_room(platform, admin, sale, options, watch, owners[-1])
            )
            try:
                result = await run_wrk(
                    f"{platform.gateway_url}{API}",
                    connections=options.connections,
                    threads=options.connections,
                    seconds=options.seconds,
                    lua=script("queue"),
                    args=crowd_args(tokens, "queue", options, sale, API),
                )
            finally:
                watcher.cancel()
            accepted = {
                booking_id: {"Authorization": f"Bearer {owners[int(fan) - 1]}"}
                for fan, booking_id in (line.split() for line in result.sample)
            }
            settled = await poll_until_settled(platform.gateway_url, accepted)
            stock = await inventory_stock(platform.info, sale.event_id)
            async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=60) as client:
                shown_bookings, shown_tickets = await confirmed_through_api(
                    client, admin, sale.event_id
                )
            minimal = await minimal_polls(platform, tokens, options, state_dir / "baseline")
    rows = per_second(result)
    polls = poll_rate(rows, watch.all_joined_at)
    minimal_rate = minimal["requests_per_second"]
    peak = offered_peak(rows)
    beyond = offered_beyond_admissions(rows, watch.samples)
    allowed = options.admission_per_minute / 60
    sold = sum(int(item["sold"]) for item in stock["ticket_types"])
    available = sum(
        int(item["quantity"]) - int(item["reserved"]) - int(item["sold"])
        for item in stock["ticket_types"]
    )
    confirmed = [one for one in settled.values() if one.status == "CONFIRMED"]
    confirmed_tickets = sum(one.quantity for one in confirmed)
    kinds = result.extra.get("kinds", {})
    invariants = {
        "sold_out": {
            "passed": sold == options.capacity and available == 0,
            "detail": f"sold {sold} of {options.capacity}, available {available}",
        },
        "nothing_oversold": {"passed": sold <= options.capacity, "detail": f"sold {sold}"},
        "every_accepted_booking_confirmed": {
            "passed": len(confirmed) == len(accepted),
            "detail": f"{len(confirmed)} of {len(accepted)} bookings answered 202 CONFIRMED "
            f"({confirmed_tickets} tickets; a 202 wrk cut off at its end is not counted)",
        },
        "read_model_shows_what_was_sold": {
            "passed": shown_tickets == sold,
            "detail": f"read model {shown_bookings} CONFIRMED bookings / {shown_tickets} "
            f"tickets, inventory sold {sold}",
        },
        "nobody_books_without_a_pass": {
            "passed": watch.without_a_pass == 403,
            "detail": f"a booking without a pass during the sale was answered "
            f"{watch.without_a_pass}",
        },
        "booking_path_offered_no_more_than_the_room_admitted": {
            "passed": beyond == 0,
            "detail": f"bookings offered beyond the fans admitted by then: {beyond} at most "
            f"(peak {peak:.1f} bookings/s over 5 s, admission {allowed:.1f}/s: fans find their "
            "pass at their next poll, so bookings bunch)",
        },
    }
    return {
        "crowd": {**result.summary(), "kinds": kinds},
        "all_joined_after_seconds": (watch.all_joined_at - result.started_wall)
        if watch.all_joined_at
        else None,
        "polls_per_second": polls,
        "minimal": minimal,
        "polls_vs_minimal": polls / minimal_rate if minimal_rate else 0.0,
        "bookings_offered_peak_per_second": peak,
        "admission_per_second": allowed,
        "room_samples": watch.samples,
        "per_second": rows,
        "invariants": invariants,
    }


def print_table(report: dict[str, Any]) -> None:
    rounds = report["rounds"]
    configuration = report["configuration"]

    def median(path: str) -> float:
        values = []
        for one in rounds:
            value: Any = one
            for part in path.split("."):
                value = value[part]
            values.append(float(value))
        return statistics.median(values)

    print(
        f"\nQueued on-sale: {configuration['fans']} fans, {configuration['capacity']} tickets, "
        f"admission {configuration['admission_per_minute']}/min, wrk "
        f"{configuration['connections']} connections (one per thread), {len(rounds)} round(s), "
        "medians"
    )
    rows = [
        ("Place polls/s once all joined", median("polls_per_second"), "/s"),
        (
            "Minimal endpoint, same tokens, platform stopped",
            median("minimal.requests_per_second"),
            "/s",
        ),
        ("Polls vs minimal (target >= 0.5x)", median("polls_vs_minimal"), "x"),
        ("Crowd joined after", median("all_joined_after_seconds"), "s"),
        ("Crowd run p99 (joins, polls, bookings)", median("crowd.latency.p99_ms"), "ms"),
        ("Bookings offered, peak over 5 s", median("bookings_offered_peak_per_second"), "/s"),
        ("Admission rate", median("admission_per_second"), "/s"),
        ("wrk CPU, crowd run", median("crowd.generator_cpu.percent_of_one_core"), "% of a core"),
        (
            "wrk CPU, minimal run",
            median("minimal.generator_cpu.percent_of_one_core"),
            "% of a core",
        ),
    ]
    for label, value, unit in rows:
        print(f"  {label:<52} {value:>10.2f} {unit}")
    for name in rounds[0]["invariants"]:
        verdict = "PASS" if all(one["invariants"][name]["passed"] for one in rounds) else "FAIL"
        print(f"  {verdict}  {name}: {rounds[-1]['invariants'][name]['detail']}")


async def main(options: Options) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    options.output_dir.mkdir(parents=True, exist_ok=True)
    state_dir = (options.output_dir / f"stack-queue-{stamp}").resolve()
    report: dict[str, Any] = {
        "benchmark": "queued_on_sale",
        "started_at": datetime.now(UTC).isoformat(),
        "command": " ".join(["python -m bench.queued_on_sale", *sys.argv[1:]]),
        "machine": machine(),
        "configuration": {
            "fans": options.fans,
            "capacity": options.capacity,
            "limit_per_account": options.limit_per_account,
            "admission_per_minute": options.admission_per_minute,
            "max_admitted_at_once": options.max_admitted_at_once,
            "session_minutes": options.session_minutes,
            "connections": options.connections,
            "seconds": options.seconds,
            "gateway_env": {**RATE_LIMIT_ENV, **SETUP_ENV},
        },
        "rounds": [],
    }
    try:
        async with bench_servers(state_dir / "servers") as servers:
            for number in range(1, options.rounds + 1):
                print(f"queued on-sale, round {number}/{options.rounds}", flush=True)
                report["rounds"].append(
                    await one_round(options, servers, state_dir / f"round-{number}", number)
                )
    finally:
        report["finished_at"] = datetime.now(UTC).isoformat()
        if report["rounds"]:
            path = options.output_dir / f"queued_on_sale-{stamp}.json"
            path.write_text(json.dumps(report, indent=2, default=str))
            print_table(report)
            print(f"\nJSON: {path}")
    verdicts = [check["passed"] for one in report["rounds"] for check in one["invariants"].values()]
    return 0 if verdicts and all(verdicts) else 1


def cli() -> None:
    sys.exit(asyncio.run(main(parse_options())))


if __name__ == "__main__":
    cli()
