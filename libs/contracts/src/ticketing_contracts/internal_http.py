"""Headers the gateway sets on calls to the internal services.

The gateway authenticates the caller; internal services trust these headers
because only the gateway can reach them (NetworkPolicy).
"""

from __future__ import annotations

from typing import Final, Literal

CALLER_ID_HEADER: Final = "X-Caller-ID"
CALLER_ROLE_HEADER: Final = "X-Caller-Role"
IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"

Role = Literal["admin", "manager", "user"]
ROLES: Final[tuple[Role, ...]] = ("admin", "manager", "user")

# The internal services, by the names their own tokens carry as issuer and subject (and
# the audience of a call to them). The gateway signs with its own key under "gateway".
BOOKING_COMMAND: Final = "booking-command"
INVENTORY: Final = "inventory"
QUERY_PROJECTION: Final = "query-projection"
ENTRY: Final = "entry"
NOTIFICATIONS: Final = "notifications"
INTERNAL_SERVICES: Final = frozenset(
    {BOOKING_COMMAND, INVENTORY, QUERY_PROJECTION, ENTRY, NOTIFICATIONS}
)
