"""One error shape for every service: `{"detail": ..., "error_type": ...}`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from service_kit.errors import (
    ConflictError,
    DependencyUnavailableError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidInputError: 422,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    RateLimitedError: 429,
    DependencyUnavailableError: 503,
}

_ERROR_TYPE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "dependency_unavailable",
}


class FieldProblem(BaseModel):
    field: str = Field(examples=["body.quantity"])
    message: str = Field(examples=["Input should be less than or equal to 10"])
    type: str = Field(examples=["less_than_equal"])


class ErrorResponse(BaseModel):
    detail: str = Field(examples=["Venue 3f2c... not found"])
    error_type: str = Field(examples=["not_found"])
    errors: list[FieldProblem] | None = Field(
        default=None, description="Per-field problems, on validation errors only"
    )


def status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the error shape for each status."""
    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


def error_body(detail: str, error_type: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "error_type": error_type, **extra}


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    headers = {}
    if isinstance(error, RateLimitedError | DependencyUnavailableError):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return JSONResponse(
        error_body(error.detail, error.error_type, **error.extra),
        status_code=status_for(error),
        headers=headers,
    )


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(part) for part in issue.get("loc", ())),
            "message": issue.get("msg", "invalid"),
            "type": issue.get("type", "invalid"),
        }
        for issue in error.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "Invalid request"
    return JSONResponse(error_body(summary, "validation_error", errors=problems), status_code=422)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    error_type = _ERROR_TYPE_BY_STATUS.get(error.status_code, "http_error")
    return JSONResponse(
        error_body(str(error.detail), error_type),
        status_code=error.status_code,
        headers=getattr(error, "headers", None),
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
