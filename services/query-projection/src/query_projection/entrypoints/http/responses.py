"""Tagged answers: an ETag on every read, 304 when the caller's tag is still current."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from query_projection.application.queries import Tagged
from service_kit.http_errors import error_responses

_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match tag is still current"}
}
SINGLE = {**_NOT_MODIFIED, **error_responses(404, 422, 503)}
LIST = {**_NOT_MODIFIED, **error_responses(422, 503)}


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return etag in candidates


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value


def tagged_response(request: Request, tagged: Tagged[Any]) -> Response:
    headers = {"ETag": tagged.etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), tagged.etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(_json(tagged.value), headers=headers)
