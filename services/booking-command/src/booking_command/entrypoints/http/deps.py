"""Dependencies of the internal routes: the command service, the caller, idempotency.

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

from booking_command.application.commands import CommandService
from booking_command.application.results import IdempotencyClaim
from service_kit.errors import ForbiddenError, InvalidInputError, UnauthorizedError
from ticketing_contracts.internal_http import (
    CALLER_ID_HEADER,
    CALLER_ROLE_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    ROLES,
)

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class Caller:
    id: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


async def command_service(request: Request) -> CommandService:
    service: CommandService = request.app.state.command_service
    return service


async def optional_caller(
    caller_id: Annotated[str | None, Header(alias=CALLER_ID_HEADER)] = None,
    caller_role: Annotated[str | None, Header(alias=CALLER_ROLE_HEADER)] = None,
) -> Caller | None:
    if not caller_id or not caller_id.strip():
        return None
    role = (caller_role or "user").strip().lower()
    if role not in ROLES:
        raise UnauthorizedError(f"unknown caller role {role!r}")
    return Caller(id=caller_id.strip(), role=role)


async def required_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise UnauthorizedError(f"the {CALLER_ID_HEADER} header is required")
    return caller


async def catalog_caller(
    caller: Annotated[Caller | None, Depends(optional_caller)],
) -> Caller | None:
    """Catalog changes are for admins and managers; the gateway checks, this is defence in depth."""
    if caller is not None and caller.role not in ("admin", "manager"):
        raise ForbiddenError("only admins and managers may change the catalog")
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


ServiceDep = Annotated[CommandService, Depends(command_service)]
CallerDep = Annotated[Caller, Depends(required_caller)]
CatalogCallerDep = Annotated[Caller | None, Depends(catalog_caller)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]


def claim(
    request: Request, caller: Caller | None, key: str | None, body: BaseModel | None
) -> IdempotencyClaim | None:
    """The key scoped to its caller, with a fingerprint of what was asked."""
    return claim_for(request.method, request.url.path, caller.id if caller else None, key, body)


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
        "body": body.model_dump(mode="json") if body is not None else None,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return IdempotencyClaim(
        scope=caller_id if caller_id is not None else "-",
        key=key,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
    )
