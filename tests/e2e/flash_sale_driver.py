"""A flash sale through the gateway: many fans booking (and some cancelling) at once.

Fans behave like a well-written client: every booking or cancellation carries an
`Idempotency-Key` and is retried with the same key on connection errors, 5xx and 429
until a deadline, so a fault between "stored" and "answered" can never book twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from .platform_api import Fan, Show

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class AcceptedBooking:
    booking_id: str
    fan: Fan
    event_id: str
    ticket_type_id: str
    quantity: int
    correlation_id: str
    accepted_at: float = 0.0  # time.monotonic() when the 202 came


@dataclass
class SaleLog:
    accepted: dict[str, AcceptedBooking] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)
    cancelled: set[str] = field(default_factory=set)
    retries: int = 0
    # Requests that still had no answer at their deadline: the booking may or may not exist.
    gave_up: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"accepted {len(self.accepted)}, cancelled {len(self.cancelled)}, "
            f"answers {dict(self.answers)}, retries {self.retries}, gave up {len(self.gave_up)}"
        )


class FlashSale:
    """Fans book on the focused show (mostly) and on earlier ones until stopped."""

    def __init__(
        self,
        gateway_url: str,
        fans: list[Fan],
        shows: list[Show],
        *,
        pause_seconds: float,
        cancel_probability: float = 0.1,
        request_deadline_seconds: float = 90,
        seed: int = 7,
    ) -> None:
        self.gateway_url = gateway_url
        self.fans = fans
        self.shows = shows
        self.focus = shows[0]
        self.pause_seconds = pause_seconds
        self.cancel_probability = cancel_probability
        self.request_deadline_seconds = request_deadline_seconds
        self.seed = seed
        self.log = SaleLog()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    def focus_on(self, show: Show) -> None:
        self.focus = show

    async def start(self) -> None:
        limits = httpx.Limits(max_connections=len(self.fans) + 10)
        self._client = httpx.AsyncClient(base_url=self.gateway_url, timeout=10, limits=limits)
        self._tasks = [
            asyncio.create_task(self._fan(fan, random.Random(self.seed + index)))
            for index, fan in enumerate(self.fans)
        ]

    async def stop(self) -> SaleLog:
        """No new requests; wait for those in flight (each bounded by its deadline)."""
        self._stop.set()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            if self._client is not None:
                await self._client.aclose()
        return self.log

    async def cancel(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _fan(self, fan: Fan, rng: random.Random) -> None:
        mine: list[str] = []
        while not self._stop.is_set():
            if mine and rng.random() < self.cancel_probability:
                await self._cancel_one(fan, mine.pop(rng.randrange(len(mine))))
            else:
                booking_id = await self._book_one(fan, rng)
                if booking_id is not None:
                    mine.append(booking_id)
            # Jitter keeps the fans from marching in lockstep.
            await asyncio.sleep(self.pause_seconds * rng.uniform(0.5, 1.5))

    async def _book_one(self, fan: Fan, rng: random.Random) -> str | None:
        show = self.focus if rng.random() < 0.8 else rng.choice(self.shows)
        ticket_type_id = rng.choice(sorted(show.ticket_types.values()))
        quantity = rng.randint(1, 2)
        correlation_id = f"flash-{uuid.uuid4().hex}"
        response = await self._post(
            "/api/v1/bookings",
            fan,
            {
                "event_id": show.event_id,
                "ticket_type_id": ticket_type_id,
                "quantity": quantity,
                "customer_name": "Sam Fan",
                "customer_email": fan.email,
                "payment_token": "tok_visa",
            },
            correlation_id,
        )
        if response is None:
            return None
        self.log.answers[f"book {response.status_code}"] += 1
        if response.status_code != 202:
            return None
        booking_id = str(response.json()["id"])
        self.log.accepted[booking_id] = AcceptedBooking(
            booking_id,
            fan,
            show.event_id,
            ticket_type_id,
            quantity,
            correlation_id,
            accepted_at=time.monotonic(),
        )
        return booking_id

    async def _cancel_one(self, fan: Fan, booking_id: str) -> None:
        assert self._client is not None
        try:
            current = await self._client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers)
        except httpx.HTTPError:
            return
        if current.status_code != 200 or current.json().get("status") != "CONFIRMED":
            return
        response = await self._post(
            f"/api/v1/bookings/{booking_id}/cancel", fan, {}, f"cancel-{uuid.uuid4().hex}"
        )
        if response is None:
            return
        self.log.answers[f"cancel {response.status_code}"] += 1
        if response.status_code == 200:
            self.log.cancelled.add(booking_id)

    async def _post(
        self, path: str, fan: Fan, body: dict[str, object], correlation_id: str
    ) -> httpx.Response | None:
        assert self._client is not None
        headers = {
            **fan.headers,
            "Idempotency-Key": uuid.uuid4().hex,
            "X-Correlation-ID": correlation_id,
        }
        deadline = time.monotonic() + self.request_deadline_seconds
        while True:
            try:
                response = await self._client.post(path, json=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code not in RETRYABLE_STATUS:
                return response
            if time.monotonic() > deadline:
                self.log.gave_up.append(f"{path} {correlation_id}")
                return None
            self.log.retries += 1
            wait = 0.5
            if response is not None and "Retry-After" in response.headers:
                with contextlib.suppress(ValueError):
                    wait = min(float(response.headers["Retry-After"]), 2.0)
            await asyncio.sleep(wait)
