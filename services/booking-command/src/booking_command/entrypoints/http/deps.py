"""Dependencies of the internal routes: the message bus, the caller, idempotency.

Every route already requires a valid gateway token (the kit's app factory); these add
who may do what, checked again here where the write happens.

They are `async def` though they never await: FastAPI runs a plain `def` dependency on
a worker thread, a thread hop per dependency per request for nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel

from booking_command.application.message_bus import MessageBus
from booking_command.application.reads import WriteSideReads
from booking_command.application.results import IdempotencyClaim
from service_kit.errors import ForbiddenError, InvalidInputError, UnauthorizedError
from service_kit.internal_auth import Caller as InternalCallerType
from service_kit.internal_auth import InternalCaller
from ticketing_contracts.internal_http import IDEMPOTENCY_KEY_HEADER, ROLES, Role

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


async def message_bus(request: Request) -> MessageBus:
    bus: MessageBus = request.app.state.bus
    return bus


async def write_side_reads(request: Request) -> WriteSideReads:
    reads: WriteSideReads = request.app.state.reads
    return reads


@dataclass(frozen=True)
class Caller:
    """A signed-in person, as the gateway's token names them."""

    id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


async def required_caller(caller: InternalCaller) -> Caller:
    if caller.id is None or caller.role not in ROLES:
        raise UnauthorizedError("a signed-in caller is required")
    return Caller(id=caller.id, role=caller.role)


async def catalog_caller(caller: Annotated[Caller, Depends(required_caller)]) -> Caller:
    """Catalog changes are for admins and managers, checked here as well as in the gateway."""
    if caller.role not in ("admin", "manager"):
        raise ForbiddenError("only admins and managers may change the catalog")
    return caller


async def admin_caller(caller: Annotated[Caller, Depends(required_caller)]) -> Caller:
    """Deleting a venue and cancelling an event are for admins only."""
    if not caller.is_admin:
        raise ForbiddenError("only admins may delete venues or cancel events")
    return caller


async def gateway_caller(caller: InternalCaller) -> InternalCallerType:
    """Only the gateway itself may speak for many callers at once (a booking batch)."""
    if not caller.is_gateway:
        raise ForbiddenError("only the gateway's own token may send a batch")
    return caller


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description="Retries with the same key and body return the original answer",
        ),
    ] = None,
) -> str | None:
    if key is None:
        return None
    if not _KEY.match(key):
        raise InvalidInputError(
            f"{IDEMPOTENCY_KEY_HEADER} must be 1 to 255 visible ASCII characters",
            error_type="invalid_idempotency_key",
        )
    return key


BusDep = Annotated[MessageBus, Depends(message_bus)]
ReadsDep = Annotated[WriteSideReads, Depends(write_side_reads)]
CallerDep = Annotated[Caller, Depends(required_caller)]
CatalogCallerDep = Annotated[Caller, Depends(catalog_caller)]
AdminCallerDep = Annotated[Caller, Depends(admin_caller)]
GatewayCallerDep = Annotated[InternalCallerType, Depends(gateway_caller)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]


def claim(
    request: Request, caller: Caller, key: str | None, body: BaseModel | None
) -> IdempotencyClaim | None:
    """The key scoped to its caller, with a fingerprint of what was asked."""
    return claim_for(request.method, request.url.path, caller.id, key, body)


# Fields added to bodies after keys were first stored: left out while null, so a request
# without them keeps its fingerprint (and a keyed booking its id) across the upgrade.
_ADDED_LATER = ("offer_id", "hold_minutes", "waitlist_offer_minutes")


def _fingerprinted(body: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = body.model_dump(mode="json")
    for name in _ADDED_LATER:
        if name in dumped and dumped[name] is None:
            del dumped[name]
    return dumped


def claim_for(
    method: str, path: str, caller_id: str | None, key: str | None, body: BaseModel | None
) -> IdempotencyClaim | None:
    """A claim as `claim` makes it for a request to `method` `path` (a batch item names
    the single route's, so a retry through either route replays the other's answer)."""
    if key is None:
        return None
    payload: dict[str, Any] = {
        "method": method,
        "path": path,
        "body": _fingerprinted(body) if body is not None else None,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return IdempotencyClaim(
        scope=caller_id if caller_id is not None else "-",
        key=key,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
    )
