"""The mail catcher as a real process, entry faked by a tiny real HTTP server, and the
service's settings on a database and topic prefix of the test's own."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from local_infra.health import wait_until_ready
from local_infra.ports import free_port
from local_infra.processes import spawn_background, terminate
from notifications.settings import NotificationsSettings
from service_kit.internal_auth import generate_key_pair
from service_kit.messaging import envelope_headers
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import encode_envelope
from ticketing_contracts.topics import BOOKING_EVENTS, CATALOG_EVENTS, INVENTORY_EVENTS

PDF = b"%PDF-1.4\n% the tickets\n"
UNUSED_PUBLIC_KEY = generate_key_pair()[1]


async def eventually(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 30) -> Any:
    """Polls `check` until it returns something truthy; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: {what}")
        await asyncio.sleep(0.1)


@dataclass
class RunningCatcher:
    """simulators/mail-catcher as a process; its SMTP port may be chosen before it runs."""

    state_dir: Path
    http_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def start(self) -> None:
        log_path = self.state_dir / "mail-catcher.log"
        self.pid = spawn_background(
            [sys.executable, "-m", "mail_catcher"],
            log_path=log_path,
            pid_path=self.state_dir / "mail-catcher.pid",
            env={
                **os.environ,
                "ENVIRONMENT": "test",
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(self.http_port),
                "MAIL_CATCHER_SMTP_PORT": str(self.smtp_port),
                "MAIL_CATCHER_MAIL_DIR": str(self.state_dir / "mail"),
                "SHUTDOWN_GRACE_SECONDS": "1",
            },
            cwd=self.state_dir,
        )
        await wait_until_ready(
            "mail-catcher", self.url, pid=self.pid, log_path=log_path, wait_seconds=30
        )

    def stop(self) -> None:
        if self.pid:
            terminate(self.pid, grace_seconds=5)
            self.pid = 0

    async def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.url) as client:
            listed: list[dict[str, Any]] = (await client.get("/api/messages")).json()
        return [m for m in listed if to is None or to in m["to"][0]]

    async def message(self, message_id: str) -> dict[str, Any]:
        """One message with its headers and its text and HTML bodies."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            caught: dict[str, Any] = (await client.get(f"/api/messages/{message_id}")).json()
        return caught

    async def attachment(self, message_id: str, index: int = 0) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url) as client:
            return await client.get(f"/api/messages/{message_id}/attachments/{index}")


class FakeEntry:
    """entry's `GET /internal/v1/bookings/{id}/tickets.pdf` (entry's own tests cover entry):
    bookings answer 404 tickets_not_issued until `issue(booking_id)`; a held booking's
    answer waits until its hold is released."""

    def __init__(self) -> None:
        self.issued: set[UUID] = set()
        self.held: dict[UUID, asyncio.Event] = {}
        self.voided: set[UUID] = set()
        self.asked: list[tuple[UUID, str | None]] = []
        self.port = free_port()
        app = FastAPI()

        @app.get("/internal/v1/bookings/{booking_id}/tickets.pdf")
        async def tickets(booking_id: UUID, request: Request) -> Response:
            self.asked.append((booking_id, request.headers.get("authorization")))
            if (release := self.held.get(booking_id)) is not None:
                await release.wait()
            if booking_id in self.voided:
                body = {"detail": "every ticket is voided", "error_type": "no_valid_tickets"}
                return JSONResponse(body, status_code=409)
            if booking_id not in self.issued:
                body = {"detail": "not issued yet", "error_type": "tickets_not_issued"}
                return JSONResponse(body, status_code=404)
            return Response(PDF, media_type="application/pdf")

        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issue(self, booking_id: UUID) -> None:
        self.issued.add(booking_id)

    def hold(self, booking_id: UUID) -> asyncio.Event:
        """The booking's PDF is answered once the returned event is set."""
        release = self.held[booking_id] = asyncio.Event()
        return release

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        await eventually(lambda: asyncio.sleep(0, self._server.started), "fake entry up", 10)

    async def stop(self) -> None:
        for release in self.held.values():
            release.set()
        self._server.should_exit = True
        if self._task is not None:
            await self._task


def notifications_settings(
    infrastructure: Any,
    database_url: str,
    topic_prefix: str,
    *,
    smtp_port: int,
    entry_url: str,
    **overrides: Any,
) -> NotificationsSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "internal_token_public_key": UNUSED_PUBLIC_KEY,
        "database_url": database_url,
        "kafka_bootstrap_servers": infrastructure.kafka_bootstrap_servers,
        "kafka_topic_prefix": f"{topic_prefix}{secrets.token_hex(3)}.",
        "topic_partitions": 2,
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "entry_url": entry_url,
        "mail_from": "Tickets <tickets@example.test>",
        "sender_idle_seconds": 0.1,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 1.0,
        "breaker_reset_seconds": 0.5,
        **overrides,
    }
    return NotificationsSettings(_env_file=None, **values)


def settings_environment(settings: NotificationsSettings) -> dict[str, str]:
    """The same settings as a process environment."""
    return {
        **os.environ,
        "ENVIRONMENT": "test",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
        "INTERNAL_TOKEN_PUBLIC_KEY": settings.internal_token_public_key,
        "DATABASE_URL": settings.database_dsn,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
        "SMTP_URL": str(settings.smtp_url),
        "ENTRY_URL": str(settings.entry_url),
        "MAIL_FROM": settings.mail_from,
        "SENDER_IDLE_SECONDS": str(settings.sender_idle_seconds),
        "RETRY_INITIAL_SECONDS": str(settings.retry_initial_seconds),
        "RETRY_MAX_SECONDS": str(settings.retry_max_seconds),
        "BREAKER_RESET_SECONDS": str(settings.breaker_reset_seconds),
        "SHUTDOWN_GRACE_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }


TOPICS_BY_PREFIX = {"booking": BOOKING_EVENTS, "inventory": INVENTORY_EVENTS}


class Publisher:
    """Publishes facts on their topics, keyed by the event id (an offer's facts in order)."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._kafka = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")

    async def start(self) -> None:
        await self._kafka.start()

    async def stop(self) -> None:
        await self._kafka.stop()

    async def publish(self, settings: NotificationsSettings, *envelopes: EventEnvelope) -> None:
        for envelope in envelopes:
            topic = TOPICS_BY_PREFIX.get(envelope.type.split(".")[0], CATALOG_EVENTS)
            event_id = envelope.data.get("event_id")
            await self._kafka.send_and_wait(
                settings.topic(topic),
                encode_envelope(envelope),
                key=str(event_id).encode(),
                headers=envelope_headers(envelope),
            )


@asynccontextmanager
async def running_service(settings: NotificationsSettings) -> AsyncIterator[FastAPI]:
    from notifications.bootstrap import build_app

    app = build_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def spawn_service(settings: NotificationsSettings, state_dir: Path) -> tuple[int, str]:
    """notifications as a real process; (pid, its URL)."""
    env = settings_environment(settings)
    pid = spawn_background(
        [sys.executable, "-m", "notifications"],
        log_path=state_dir / "notifications.log",
        pid_path=state_dir / "notifications.pid",
        env=env,
        cwd=state_dir,
    )
    return pid, f"http://127.0.0.1:{env['HTTP_PORT']}"
