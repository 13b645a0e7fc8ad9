"""Errors the domain and application layers raise; pure Python, no framework.

`http_errors` maps each class to a status code and the public body
`{"detail": ..., "error_type": ..., **extra}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    error_type = "domain_error"

    def __init__(
        self,
        detail: str,
        *,
        error_type: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if error_type is not None:
            self.error_type = error_type
        # JSON values the body carries beside detail and error_type (what a client needs
        # to act on the error, e.g. when a sale opens).
        self.extra: dict[str, Any] = dict(extra or {})


class NotFoundError(DomainError):
    error_type = "not_found"


class ConflictError(DomainError):
    error_type = "conflict"


class InsufficientCapacityError(ConflictError):
    error_type = "insufficient_capacity"


class SoldOutError(InsufficientCapacityError):
    error_type = "sold_out"


class InvalidInputError(DomainError):
    error_type = "validation_error"


class UnauthorizedError(DomainError):
    error_type = "unauthorized"


class ForbiddenError(DomainError):
    error_type = "forbidden"


class RateLimitedError(DomainError):
    error_type = "rate_limited"

    def __init__(
        self, detail: str, *, retry_after_seconds: int, error_type: str | None = None
    ) -> None:
        super().__init__(detail, error_type=error_type)
        self.retry_after_seconds = retry_after_seconds


class DependencyUnavailableError(DomainError):
    error_type = "dependency_unavailable"

    def __init__(self, detail: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds
