"""The provider's error answers: `{"error": {"type": ..., "message": ..., ...}}`."""

from __future__ import annotations

from typing import Any


class ProviderError(Exception):
    status_code = 400
    error_type = "invalid_request_error"

    def __init__(
        self, message: str, *, code: str | None = None, param: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error | self.extra}


class InvalidRequest(ProviderError):
    pass


class NotFound(ProviderError):
    status_code = 404

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message, code="resource_missing", param=param)


class AuthenticationFailed(ProviderError):
    status_code = 401
    error_type = "authentication_error"


class IdempotencyConflict(ProviderError):
    status_code = 409
    error_type = "idempotency_error"


class UnexpectedState(ProviderError):
    status_code = 409

    def __init__(self, message: str) -> None:
        super().__init__(message, code="payment_intent_unexpected_state")


class CardDeclined(ProviderError):
    status_code = 402
    error_type = "card_error"


class ProviderFailure(ProviderError):
    status_code = 500
    error_type = "api_error"


class ProviderUnavailable(ProviderError):
    status_code = 503
    error_type = "api_error"
