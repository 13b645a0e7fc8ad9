"""Dependencies the routers share: who is calling, what they may do, rate limits, headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.exceptions import HTTPException
from starlette.types import Scope

from gateway.adapters.metrics import RATE_LIMITED
from gateway.adapters.rate_limits import RateLimiter
from gateway.application.auth import AuthService
from gateway.application.bookings import BookingService
from gateway.application.catalog import CatalogService
from gateway.application.operations import OperationsService
from gateway.application.ports import TokenCodec
from gateway.application.tickets import TicketService
from gateway.application.waiting_room import WaitingRooms
from gateway.application.waitlist import WaitlistService
from gateway.domain.permissions import Permission, is_allowed
from gateway.domain.users import Caller
from gateway.entrypoints.http.middleware import defer_response_headers
from gateway.settings import GatewaySettings
from service_kit.errors import ForbiddenError, RateLimitedError, UnauthorizedError
from service_kit.middleware import route_template

API_PREFIX = "/api/v1"
TOKEN_URL = f"{API_PREFIX}/auth/token"
READ_POSITION_HEADER = "X-Read-Position"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:\-]{1,200}$"


@dataclass(frozen=True)
class GatewayServices:
    settings: GatewaySettings
    auth: AuthService
    tokens: TokenCodec
    catalog: CatalogService
    bookings: BookingService
    rate_limiter: RateLimiter
    operations: OperationsService
    waiting_rooms: WaitingRooms
    tickets: TicketService
    waitlist: WaitlistService


# async: FastAPI runs a plain `def` dependency on a worker thread, for every request.
async def get_services(request: Request) -> GatewayServices:
    services: GatewayServices = request.app.state.services
    return services


Services = Annotated[GatewayServices, Depends(get_services)]

bearer_token = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    scopes={},
    description="Log in with your email as the username to get a bearer token.",
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def caller_with_token(services: GatewayServices, token: str) -> Caller:
    """Who a sent token proves: it must be valid and not revoked (401 otherwise)."""
    try:
        return await services.auth.caller(token)
    except UnauthorizedError as error:
        raise _unauthorized(error.detail) from None


async def optional_caller(
    services: Services, token: Annotated[str | None, Depends(bearer_token)]
) -> Caller | None:
    """The caller when a token is sent; a token that is sent must be valid and not revoked."""
    return None if token is None else await caller_with_token(services, token)


async def current_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise _unauthorized("Not authenticated: send an 'Authorization: Bearer <token>' header")
    return caller


OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]


def ensure_allowed(caller: Caller, permission: Permission) -> Caller:
    if not is_allowed(caller.role, permission):
        raise ForbiddenError(f"The {caller.role} role may not do this ({permission.value})")
    return caller


def require(permission: Permission) -> Callable[[Caller], Awaitable[Caller]]:
    async def check(caller: CurrentCaller) -> Caller:
        return ensure_allowed(caller, permission)

    return check


CatalogManager = Annotated[Caller, Depends(require(Permission.MANAGE_CATALOG))]
Admin = Annotated[Caller, Depends(require(Permission.DELETE_CATALOG))]
SalesWatcher = Annotated[Caller, Depends(require(Permission.WATCH_SALES))]
UserAdmin = Annotated[Caller, Depends(require(Permission.MANAGE_USERS))]
Booker = Annotated[Caller, Depends(require(Permission.BOOK))]
TicketReissuer = Annotated[Caller, Depends(require(Permission.REISSUE_TICKETS))]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Repeat a request with the same key to get the same answer instead of a "
        "second effect (e.g. a UUID per booking attempt).",
        examples=["7d1c3a9e-5a8b-4f3e-9a55-0f1e2d3c4b5a"],
    ),
]
ReadPosition = Annotated[
    int | None,
    Header(
        alias=READ_POSITION_HEADER,
        ge=0,
        le=2**63 - 1,
        description="Wait until the read model includes this write position (from a previous "
        "write's X-Read-Position). Your own writes are awaited automatically. Ignored on "
        "anonymous reads; a position ahead of every acknowledged write answers 422 "
        "`read_position_ahead`.",
    ),
]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
ADMISSION_PASS_HEADER = "X-Admission-Pass"  # noqa: S105 (a header name, not a secret)
AdmissionPass = Annotated[
    str | None,
    Header(
        alias=ADMISSION_PASS_HEADER,
        description="While the event's waiting room is on: the pass your place in it gives "
        "you once admitted (`GET /api/v1/waiting-room/places/{place_token}`); without a valid "
        "one the booking answers 403 `not_admitted`. Each booking uses one of its attempts (a "
        "retry with the same `Idempotency-Key` is the same attempt).",
    ),
]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limit_identity(caller: Caller) -> str:
    return f"user:{caller.user_id}"


async def count_request(
    scope: Scope, rate_limiter: RateLimiter, groups: Sequence[str], identity: str
) -> None:
    """Count the request against every group in one store round trip; 429 beyond a limit.
    The limits' headers go on whatever answer the request gets."""
    decision = await rate_limiter.hit(groups, identity)
    if decision is None:
        return
    defer_response_headers(scope.setdefault("state", {}), decision.headers())
    if not decision.allowed:
        RATE_LIMITED.labels(route=route_template(scope)).inc()
        raise RateLimitedError(
            "Too many requests; try again later",
            retry_after_seconds=decision.retry_after_seconds,
        )


def rate_limit(*groups: str, per_address: bool = False) -> Callable[..., Awaitable[None]]:
    """Count the request against every group at once: per user when authenticated, else
    per address. A route lists all its groups in one dependency (one store round trip)."""

    async def check(request: Request, services: Services, caller: OptionalCaller) -> None:
        if per_address or caller is None:
            identity = f"ip:{client_address(request)}"
        else:
            identity = rate_limit_identity(caller)
        await count_request(request.scope, services.rate_limiter, groups, identity)

    return check


DefaultRateLimit = Depends(rate_limit("default"))
