"""Turns a command result into the HTTP answer."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from booking_command.application.results import CommandResult

REPLAYED_HEADER = "Idempotent-Replayed"


def command_response(result: CommandResult, *, location: str | None = None) -> JSONResponse:
    headers: dict[str, str] = {}
    if result.replayed:
        headers[REPLAYED_HEADER] = "true"
    if location is not None:
        headers["Location"] = location
    return JSONResponse(result.response_body(), status_code=result.status_code, headers=headers)
