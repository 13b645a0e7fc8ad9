"""The one thing this service calls: the gateway's public API."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from service_kit.request_context import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    current_correlation_id,
    current_request_id,
)

API_PREFIX = "/api/v1"


class Gateway:
    def __init__(self, client: httpx.AsyncClient, *, stream_read_timeout_seconds: float) -> None:
        self._client = client
        self._stream_timeout = httpx.Timeout(
            client.timeout.connect or 5.0, read=stream_read_timeout_seconds
        )

    def _headers(
        self, token: str | None, client_address: str | None, extra: Mapping[str, str]
    ) -> dict[str, str]:
        headers = dict(extra)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if client_address:
            # Per-address limits see the person, not this service (when the gateway trusts us).
            headers["X-Forwarded-For"] = client_address
        if request_id := current_request_id():
            headers[REQUEST_ID_HEADER] = request_id
        if correlation_id := current_correlation_id():
            headers[CORRELATION_ID_HEADER] = correlation_id
        return headers

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        client_address: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: httpx.QueryParams | None = None,
        json: object = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """A whole answer (`path` is below /api/v1)."""
        return await self._client.request(
            method,
            f"{API_PREFIX}/{path}",
            headers=self._headers(token, client_address, headers or {}),
            params=params,
            json=json,
            data=data,
            content=content,
        )

    async def open(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        client_address: str | None,
        headers: Mapping[str, str],
        params: httpx.QueryParams,
        content: bytes | None,
    ) -> httpx.Response:
        """An answer whose body is read later (an event stream); close it when done."""
        request = self._client.build_request(
            method,
            f"{API_PREFIX}/{path}",
            headers=self._headers(token, client_address, headers),
            params=params,
            content=content,
            timeout=self._stream_timeout,
        )
        return await self._client.send(request, stream=True)

    async def ping(self) -> None:
        response = await self._client.get("/health/live", timeout=2)
        if response.status_code != 200:
            raise RuntimeError(f"gateway answered {response.status_code}")
