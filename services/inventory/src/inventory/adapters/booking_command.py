"""Asks booking-command which bookings it stores, for the unclaimed-hold sweeper.

Transport failures and 5xx answers are retried a few times, under a breaker; anything
else that is not a 200 with the answer raises `BookingCommandUnavailable`, and the
sweeper releases nothing until a later round gets an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

import httpx
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_exponential_jitter as backoff

from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError
from service_kit.metrics import RETRIES
from ticketing_contracts.holds import KnownBookings, KnownBookingsQuestion

KNOWN_BOOKINGS_PATH = "/internal/v1/bookings/known"

Authorization = Callable[[], str | None]
"""The `Authorization` header value inventory's calls to booking-command carry: a token
signed with inventory's own key (SERVICE_TOKEN_PRIVATE_KEY), booking-command's audience."""


def no_service_credential() -> str | None:
    """Without its own key (allowed outside production) inventory asks without a token:
    booking-command answers 401 and nothing is released."""
    return None


class BookingCommandUnavailable(Exception):
    """booking-command did not answer the question, or refused it."""


class _ServerFailure(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"booking-command answered {response.status_code}")


class HttpBookingDirectory:
    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        breaker: CircuitBreaker,
        authorization: Authorization,
        *,
        attempts: int = 3,
        initial_backoff_seconds: float = 0.1,
        max_backoff_seconds: float = 2.0,
    ) -> None:
        self._url = base_url.rstrip("/") + KNOWN_BOOKINGS_PATH
        self._client = client
        self._breaker = breaker
        self._authorization = authorization
        self._attempts = attempts
        self._initial_backoff = initial_backoff_seconds
        self._max_backoff = max_backoff_seconds

    async def known(self, booking_ids: Sequence[UUID]) -> set[UUID]:
        question = KnownBookingsQuestion(booking_ids=list(booking_ids))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=backoff(
                multiplier=self._initial_backoff,
                jitter=self._initial_backoff,
                max=self._max_backoff,
            ),
            retry=retry_if_exception_type((httpx.TransportError, _ServerFailure)),
            before_sleep=lambda _: RETRIES.labels(operation="http:booking-command").inc(),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._ask_once(question)
        except CircuitBreakerError:
            raise BookingCommandUnavailable("booking-command: circuit open") from None
        except (httpx.TransportError, _ServerFailure) as error:
            raise BookingCommandUnavailable(f"booking-command did not answer: {error!r}") from None
        if response.status_code != 200:
            raise BookingCommandUnavailable(
                f"booking-command refused the question ({response.status_code}): "
                f"{response.text[:200]}"
            )
        try:
            answer = KnownBookings.model_validate_json(response.content)
        except ValidationError as error:
            raise BookingCommandUnavailable(f"booking-command's answer: {error}") from None
        return set(answer.known) & set(booking_ids)

    async def _ask_once(self, question: KnownBookingsQuestion) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        authorization = self._authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        with self._breaker.calling():
            response = await self._client.post(
                self._url, content=question.model_dump_json(), headers=headers
            )
            if response.status_code >= 500:
                raise _ServerFailure(response)
        return response
