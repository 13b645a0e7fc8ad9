"""Public answers built from the internal services' answers: status, ETag, caching, position."""

from __future__ import annotations

import hashlib

from fastapi import Response

from gateway.application.ports import DownstreamResponse
from gateway.application.read_your_writes import CommandOutcome
from gateway.domain.users import Caller
from gateway.entrypoints.http.deps import READ_POSITION_HEADER

PRIVATE = "private, no-cache"
NO_STORE = "no-store"


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as If-None-Match requires (RFC 9110, 13.1.2)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(_opaque(candidate) == _opaque(etag) for candidate in if_none_match.split(","))


def content_etag(content: bytes) -> str:
    return f'W/"{hashlib.sha256(content).hexdigest()[:32]}"'


def catalog_cache_control(caller: Caller | None, max_age_seconds: int) -> str:
    # Anonymous catalog reads may be shared by caches; a signed-in caller revalidates
    # every time so they see their own writes.
    return f"public, max-age={max_age_seconds}" if caller is None else PRIVATE


def query_response(
    result: DownstreamResponse, *, if_none_match: str | None, cache_control: str
) -> Response:
    etag = result.etag or content_etag(result.content)
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization"}
    if result.status_code == 304 or etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(result.content, media_type="application/json", headers=headers)


def passed_on(result: DownstreamResponse, *, status_code: int = 200) -> Response:
    """A downstream answer to a request that changes state (or must not be cached), as is."""
    headers = {"Cache-Control": NO_STORE}
    if status_code == 204:
        return Response(status_code=204, headers=headers)
    return Response(
        result.content, status_code=status_code, media_type="application/json", headers=headers
    )


def command_response(
    outcome: CommandOutcome, *, status_code: int, location: str | None = None
) -> Response:
    headers = {"Cache-Control": NO_STORE}
    if outcome.position is not None:
        headers[READ_POSITION_HEADER] = str(outcome.position)
    if location is not None:
        headers["Location"] = location
    if status_code == 204:
        return Response(status_code=204, headers=headers)
    return Response(
        outcome.response.content,
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
