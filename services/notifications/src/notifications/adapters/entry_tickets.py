"""Fetches a booking's tickets as a PDF from entry, with notifications' own service token."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import httpx

from notifications.application.ports import NoValidTickets, TicketsNotIssued, TicketsUnavailable
from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError

Authorization = Callable[[], str | None]
"""The `Authorization` header of the calls to entry: a token signed with notifications' own
key (SERVICE_TOKEN_PRIVATE_KEY), entry's audience."""


def no_service_credential() -> str | None:
    """Without its own key (allowed outside production) notifications asks without a token:
    entry answers 401, and confirmations wait until it can send them with their tickets."""
    return None


def _error_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error_type = body.get("error_type") if isinstance(body, dict) else None
    return error_type if isinstance(error_type, str) else None


class HttpEntryTickets:
    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        breaker: CircuitBreaker,
        authorization: Authorization,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._breaker = breaker
        self._authorization = authorization

    async def fetch(self, booking_id: UUID) -> bytes:
        headers = {"Accept": "application/pdf"}
        authorization = self._authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        url = f"{self._base_url}/internal/v1/bookings/{booking_id}/tickets.pdf"
        try:
            with self._breaker.calling():
                response = await self._client.get(url, headers=headers)
                if response.status_code >= 500:
                    raise TicketsUnavailable(f"entry answered {response.status_code}")
        except CircuitBreakerError:
            raise TicketsUnavailable("entry: circuit open") from None
        except httpx.HTTPError as error:
            raise TicketsUnavailable(f"entry did not answer: {error!r}") from None
        if response.status_code == 200:
            return response.content
        error_type = _error_type(response)
        if response.status_code == 404:
            # tickets_not_issued, or booking_not_found before entry read the booking at all:
            # either way entry is behind the booking topic.
            raise TicketsNotIssued(
                f"entry has not issued booking {booking_id}'s tickets yet ({error_type})"
            )
        if response.status_code == 409 and error_type == "no_valid_tickets":
            raise NoValidTickets(f"booking {booking_id} has no valid tickets")
        raise TicketsUnavailable(
            f"entry refused the tickets of booking {booking_id} ({response.status_code} "
            f"{error_type}): {response.text[:200]}"
        )
