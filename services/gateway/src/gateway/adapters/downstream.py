"""HTTP calls to one internal service: pooled, timed out, retried with care, broken on failure.

- Every call carries a short-lived token the gateway signs for the target service, naming
  the caller (or nobody, for a public read; or the gateway itself), and the request and
  correlation ids. The services believe nothing else.
- Retries (tenacity, exponential backoff with jitter): a connection that was never
  made is retried for any method; timeouts and 5xx answers only for idempotent
  requests (GET/PUT/DELETE, or a POST with an Idempotency-Key).
- A circuit breaker per service counts transport failures and 5xx answers; while
  it is open, calls fail at once with 503 and Retry-After.
- Error answers of the service (in the shared error shape) become the kit's
  DomainErrors, so the public answer keeps their status, error_type and the fields they
  carry beside them (a 409 not_on_sale's sale window, for one).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from gateway.application.ports import DownstreamResponse, QueryParams
from gateway.domain.users import Caller
from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError, seconds_until_trial
from service_kit.errors import (
    ConflictError,
    DependencyUnavailableError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from service_kit.internal_auth import ANONYMOUS, GATEWAY, InternalTokenIssuer
from service_kit.internal_auth import Caller as InternalCaller
from service_kit.metrics import RETRIES
from service_kit.request_context import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    current_correlation_id,
    current_request_id,
)
from ticketing_contracts.internal_http import IDEMPOTENCY_KEY_HEADER

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
READ_MODEL_BEHIND = "read_model_behind"
# 503s a working service chooses to give (its read model is behind; inventory cannot hold
# tickets now): passed on with their Retry-After, never retried, never counted as a failure.
DELIBERATE_UNAVAILABLE = frozenset({READ_MODEL_BEHIND, "dependency_unavailable"})
_KEPT_HEADERS = ("etag", "location", "retry-after", "cache-control")


class UpstreamFailedError(DependencyUnavailableError):
    error_type = "upstream_error"


class _ServerFailure(Exception):
    """A 5xx answer, raised inside the breaker so it counts as a failure."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"answered {response.status_code}")
        self.response = response


# Fields of an error body the gateway words itself (a 422's `errors` name internal fields).
_OWN_ERROR_FIELDS = frozenset({"detail", "error_type", "errors"})


def _error_fields(status_code: int, content: bytes) -> tuple[str, str | None, dict[str, Any]]:
    """The body's detail, error_type and the fields it carries beside them (what a client
    needs to act on the error, such as when a sale opens), passed on as they are."""
    try:
        body: Any = json.loads(content) if content else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        detail = body.get("detail")
        error_type = body.get("error_type")
        return (
            detail if isinstance(detail, str) else f"Request failed ({status_code})",
            error_type if isinstance(error_type, str) else None,
            {key: value for key, value in body.items() if key not in _OWN_ERROR_FIELDS},
        )
    return f"Request failed ({status_code})", None, {}


def _retry_after(headers: Mapping[str, str], default: int) -> int:
    value = headers.get("retry-after", "")
    return int(value) if value.isdigit() else default


def _is_deliberately_unavailable(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and _error_fields(response.status_code, response.content)[1] in DELIBERATE_UNAVAILABLE
    )


def _retryable(idempotent: bool) -> Any:
    def check(error: BaseException) -> bool:
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return True  # the request never left: safe for any method
        if isinstance(error, httpx.TransportError | _ServerFailure):
            return idempotent
        return False

    return check


class HttpDownstream:
    def __init__(
        self,
        name: str,
        base_url: str,
        client: httpx.AsyncClient,
        breaker: CircuitBreaker,
        *,
        tokens: InternalTokenIssuer,
        retry_attempts: int = 3,
        retry_initial_seconds: float = 0.05,
        retry_max_seconds: float = 1.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.breaker = breaker
        self._tokens = tokens
        self._client = client
        self._attempts = retry_attempts
        self._initial_backoff = retry_initial_seconds
        self._max_backoff = retry_max_seconds

    def _headers(
        self,
        caller: Caller | None,
        as_gateway: bool,
        idempotency_key: str | None,
        if_none_match: str | None,
    ) -> dict[str, str]:
        internal_caller = (
            GATEWAY
            if as_gateway
            else ANONYMOUS
            if caller is None
            else InternalCaller(id=caller.user_id, role=caller.role)
        )
        headers = {"Authorization": self._tokens.authorization(self.name, internal_caller)}
        if request_id := current_request_id():
            headers[REQUEST_ID_HEADER] = request_id
        if correlation_id := current_correlation_id():
            headers[CORRELATION_ID_HEADER] = correlation_id
        if idempotency_key is not None:
            headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        caller: Caller | None = None,
        params: QueryParams | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
        if_none_match: str | None = None,
        as_gateway: bool = False,
    ) -> DownstreamResponse:
        headers = self._headers(caller, as_gateway, idempotency_key, if_none_match)
        if body is not None:
            headers["Content-Type"] = "application/json"
        query = {key: value for key, value in (params or {}).items() if value is not None}
        idempotent = method in IDEMPOTENT_METHODS or idempotency_key is not None
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=self._initial_backoff,
                jitter=self._initial_backoff,
                max=self._max_backoff,
            ),
            retry=retry_if_exception(_retryable(idempotent)),
            before_sleep=lambda _: RETRIES.labels(operation=f"http:{self.name}").inc(),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._send_once(method, path, headers, query, body)
        except CircuitBreakerError:
            raise self._unavailable(f"{self.name} is unavailable (circuit open)") from None
        except httpx.TransportError as error:
            logger.warning("%s %s%s failed: %r", method, self.name, path, error)
            raise self._unavailable(f"{self.name} did not answer") from None
        except _ServerFailure as failure:
            raise UpstreamFailedError(
                f"{self.name} failed ({failure.response.status_code})",
                retry_after_seconds=_retry_after(failure.response.headers, 1),
            ) from None
        return self.answer(response.status_code, response.content, response.headers)

    async def _send_once(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: dict[str, Any],
        body: bytes | None,
    ) -> httpx.Response:
        with self.breaker.calling():
            response = await self._client.request(
                method, self.base_url + path, headers=headers, params=params, content=body
            )
            if response.status_code >= 500 and not _is_deliberately_unavailable(response):
                raise _ServerFailure(response)
        return response

    def _unavailable(self, detail: str) -> DependencyUnavailableError:
        wait = seconds_until_trial(self.breaker) or self.breaker.reset_timeout
        return DependencyUnavailableError(detail, retry_after_seconds=max(1, math.ceil(wait)))

    def answer(
        self, status_code: int, content: bytes, headers: Mapping[str, str] | None = None
    ) -> DownstreamResponse:
        headers = headers if headers is not None else {}
        if status_code < 400:
            kept = {name: headers[name] for name in _KEPT_HEADERS if name in headers}
            return DownstreamResponse(
                status_code=status_code,
                content=content,
                etag=headers.get("etag"),
                headers=kept,
            )
        raise self._error(status_code, content, headers)

    def _error(self, status: int, content: bytes, headers: Mapping[str, str]) -> DomainError:
        detail, error_type, extra = _error_fields(status, content)
        error: DomainError
        if status == 404 or status == 410:
            error = NotFoundError(detail)
        elif status == 409:
            error = ConflictError(detail)
        elif status in (400, 422):
            error = InvalidInputError(detail)
        elif status == 403:
            error = ForbiddenError(detail)
        elif status == 429:
            error = RateLimitedError(detail, retry_after_seconds=_retry_after(headers, 1))
        elif status == 503:
            error = DependencyUnavailableError(detail, retry_after_seconds=_retry_after(headers, 1))
        else:
            logger.error("%s answered %s: %s", self.name, status, detail)
            error = UpstreamFailedError(f"{self.name} refused the request ({status})")
            return error
        if error_type:
            error.error_type = error_type
        error.extra = extra
        return error
