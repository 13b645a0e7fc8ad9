"""The sweeper's question to booking-command: retries, refusals, credential, breaker."""

from __future__ import annotations

import json
from collections.abc import Callable
from uuid import UUID, uuid4

import httpx
import pytest

from inventory.adapters.booking_command import BookingCommandUnavailable, HttpBookingDirectory
from service_kit.circuit_breakers import CircuitBreaker, create_breaker

Handler = Callable[[httpx.Request], httpx.Response]


def directory(handler: Handler, breaker: CircuitBreaker | None = None) -> HttpBookingDirectory:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpBookingDirectory(
        "http://booking-command/",
        client,
        breaker or create_breaker("booking_command_test", fail_max=100, reset_timeout_seconds=1),
        lambda: "Bearer service-token",
        attempts=3,
        initial_backoff_seconds=0.001,
        max_backoff_seconds=0.001,
    )


async def test_answers_the_asked_ids_booking_command_stores() -> None:
    stored, unknown = uuid4(), uuid4()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        asked = json.loads(request.content)["booking_ids"]
        # An id it was not asked about is ignored.
        return httpx.Response(200, json={"known": [asked[0], str(uuid4())]})

    assert await directory(handler).known([stored, unknown]) == {stored}
    [request] = seen
    assert request.url == "http://booking-command/internal/v1/bookings/known"
    assert request.headers["Authorization"] == "Bearer service-token"


async def test_a_server_failure_is_asked_again() -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"known": []})])
    assert await directory(lambda _: next(answers)).known([uuid4()]) == set()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(401, json={"detail": "an internal token is required"}),
        httpx.Response(500),
        httpx.Response(200, json={"unexpected": True}),
    ],
)
async def test_no_usable_answer_raises(answer: httpx.Response) -> None:
    with pytest.raises(BookingCommandUnavailable):
        await directory(lambda _: answer).known([uuid4()])


async def test_no_answer_at_all_raises_and_opens_the_breaker() -> None:
    breaker = create_breaker("booking_command_down", fail_max=3, reset_timeout_seconds=60)

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    ids: list[UUID] = [uuid4()]
    with pytest.raises(BookingCommandUnavailable):
        await directory(handler, breaker).known(ids)
    with pytest.raises(BookingCommandUnavailable, match="circuit open"):
        await directory(handler, breaker).known(ids)
