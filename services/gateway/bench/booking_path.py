"""CPU the gateway spends per `POST /api/v1/bookings` it forwards, measured in isolation.

The gateway runs as in production (uvicorn, one process, its JSON logs at INFO, production's
adapters) on a Redis server of its own (revocation, rate limits with limits too high to
refuse, read positions), with users kept in memory and booking-command and query-projection
played by a stub in another process (answers 202 after `--downstream-ms`, so requests
coalesce as they do in a sale). wrk sends keyed bookable requests (`bench/wrk/booking.lua`);
the figure is the gateway process's user+system CPU during the run divided by the answers
it gave.

    .tools/bin/uv run --frozen python services/gateway/bench/booking_path.py \
        --seconds 20 --connections 64 [--rate 400] [--py-spy profile.svg]

Run it on a quiet machine: wrk and the stub share the cores with the gateway; a fixed
`--rate` keeps batch sizes alike between runs, which a busy machine otherwise moves. To
compare with another version, put that version's `services/gateway/src` first on
`PYTHONPATH` (e.g. `git archive <commit> services/gateway/src | tar -x -C /tmp/old`) and
run both in turns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPOSITORY = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPOSITORY))  # the platform bench helpers: wrk and /proc CPU

from bench.cpu import cpu_seconds  # noqa: E402
from bench.wrk_driver import WRK_THREADS, WrkResult, run_wrk, script  # noqa: E402
from local_infra.ports import free_port  # noqa: E402
from local_infra.redis_server import temporary_redis_server  # noqa: E402

EVENT_ID, TICKET_TYPE_ID = str(uuid.uuid4()), str(uuid.uuid4())
UNLIMITED = "1000000/minute"


# ------------------------------------------------------------------ the stub downstream


def run_stub(port: int, delay_ms: float) -> None:
    from aiohttp import web

    position = 0

    def booking(command: dict[str, Any], caller: str) -> dict[str, Any]:
        nonlocal position
        position += 1
        return {
            "id": str(uuid.uuid4()),
            "status": "PENDING",
            "owner_id": caller,
            "total_price": "20.00",
            "currency": "EUR",
            "hold_expires_at": "2030-01-01T00:00:00Z",
            "position": position,
            "version": 1,
            **command,
        }

    async def one(request: web.Request) -> web.Response:
        command = await request.json()
        await asyncio.sleep(delay_ms / 1000)
        return web.json_response(booking(command, "someone"), status=202)

    async def batch(request: web.Request) -> web.Response:
        items = (await request.json())["requests"]
        await asyncio.sleep(delay_ms / 1000)
        outcomes = [
            {"status_code": 202, "body": booking(item["command"], item["caller_id"])}
            for item in items
        ]
        return web.json_response({"outcomes": outcomes})

    async def availability(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "event_id": request.match_info["event_id"],
                "ticket_types": [{"ticket_type_id": TICKET_TYPE_ID, "available": 10**9}],
            }
        )

    async def ready(_: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_post("/internal/v1/bookings", one)
    app.router.add_post("/internal/v1/bookings/batch", batch)
    app.router.add_get("/internal/v1/events/{event_id}/availability", availability)
    app.router.add_get("/health/ready", ready)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# ------------------------------------------------------------------ the gateway


def run_gateway(port: int, downstream_port: int, redis_url: str, tokens_path: Path) -> None:
    from gateway.adapters.tokens import JwtTokens
    from gateway.adapters.user_store import InMemoryUserRepository
    from gateway.bootstrap import build_app, production_adapters
    from gateway.domain.users import User
    from gateway.settings import GatewaySettings
    from service_kit.internal_auth import generate_key_pair
    from service_kit.server import serve

    downstream = f"http://127.0.0.1:{downstream_port}"
    settings = GatewaySettings(
        _env_file=None,
        environment="test",
        http_port=port,
        jwt_secret=secrets.token_urlsafe(48),
        internal_token_private_key=generate_key_pair()[0],
        redis_url=redis_url,
        booking_command_url=downstream,
        query_projection_url=downstream,
        inventory_url=downstream,
        rate_limit_default=UNLIMITED,
        rate_limit_booking=UNLIMITED,
    )
    # Production's adapters but for the accounts, kept in memory (the gateway reads one at
    # most once a second per user on this path).
    adapters = production_adapters(settings)
    users = InMemoryUserRepository()
    adapters.users, adapters.on_startup = users, []
    adapters.probes.pop("postgres", None)
    tokens = JwtTokens.from_settings(settings)
    issued = []
    for number in range(200):
        email = f"fan{number}@example.com"
        user = User.new(email=email, name="Fan", role="user", password_hash="")
        users.users[user.id] = user
        issued.append(tokens.issue(user).access_token)
    tokens_path.write_text("\n".join(issued) + "\n")
    serve(build_app(settings, adapters), settings)


# ------------------------------------------------------------------ the run


async def wait_for(url: str, seconds: float = 30) -> None:
    async with httpx.AsyncClient(timeout=1) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


async def started(*command: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    gateway_port, stub_port = free_port(), free_port()
    tokens = Path(tempfile.mkdtemp(prefix="gateway-bench-")) / "tokens.txt"
    me = [sys.executable, __file__]
    lua = script("stats", "booking", *(["pace"] if args.rate else []))
    wrk_args = [str(tokens), EVENT_ID, TICKET_TYPE_ID, "/api/v1/bookings", "0", "run"]
    if args.rate:  # each of wrk's threads sends one request per interval
        wrk_args.append(str(1000 * min(WRK_THREADS, args.connections) / args.rate))

    async def load(seconds: float) -> WrkResult:
        return await run_wrk(
            f"http://127.0.0.1:{gateway_port}",
            connections=args.connections,
            seconds=seconds,
            lua=lua,
            args=wrk_args,
        )

    async with temporary_redis_server() as redis:
        stub = await started(*me, "stub", str(stub_port), str(args.downstream_ms))
        gateway = await started(
            *me, "gateway", str(gateway_port), str(stub_port), redis.url, str(tokens)
        )
        try:
            await wait_for(f"http://127.0.0.1:{stub_port}/health/ready")
            await wait_for(f"http://127.0.0.1:{gateway_port}/health/live")
            await load(3)  # warm up
            profiler = None
            if args.py_spy:
                profiler = await started(
                    shutil.which("py-spy") or "py-spy", "record", "-p", str(gateway.pid),
                    "-o", args.py_spy, "-d", str(args.seconds), "-r", "200", "--nonblocking",
                    "-f", args.format,
                )  # fmt: skip
            before = cpu_seconds(gateway.pid) or 0.0, cpu_seconds(stub.pid) or 0.0
            result = await load(args.seconds)
            after = cpu_seconds(gateway.pid) or 0.0, cpu_seconds(stub.pid) or 0.0
            if profiler is not None:
                await profiler.wait()
        finally:
            for process in (gateway, stub):
                process.terminate()
                await process.wait()
            shutil.rmtree(tokens.parent, ignore_errors=True)
    gateway_cpu, stub_cpu = after[0] - before[0], after[1] - before[1]
    return {
        "connections": args.connections,
        "seconds": round(result.wall_seconds, 1),
        "statuses": result.statuses,
        "errors": result.errors,
        "requests_per_second": round(result.requests_per_second),
        "latency_ms": result.latency_ms,
        "gateway_cpu_ms_per_request": round(1000 * gateway_cpu / result.requests, 3),
        "gateway_cores_busy": round(gateway_cpu / result.wall_seconds, 2),
        "stub_cpu_ms_per_request": round(1000 * stub_cpu / result.requests, 3),
        "wrk_cpu_ms_per_request": round(1000 * result.cpu_seconds / result.requests, 3),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "stub":
        run_stub(int(sys.argv[2]), float(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "gateway":
        run_gateway(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--downstream-ms", type=float, default=3.0)
    parser.add_argument(
        "--rate", type=float, help="requests/s offered (default: as fast as answers come)"
    )
    parser.add_argument("--py-spy", help="write a py-spy profile of the run to this file")
    parser.add_argument("--format", default="flamegraph", help="py-spy's output format")
    print(json.dumps(asyncio.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    main()
