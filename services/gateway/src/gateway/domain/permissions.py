"""What each role may do.

Roles nest: a manager can do what a user can, an admin what a manager can.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.domain.users import Caller
from ticketing_contracts.internal_http import Role


class Permission(StrEnum):
    BOOK = "book"
    MANAGE_CATALOG = "manage_catalog"
    DELETE_CATALOG = "delete_catalog"
    SEE_ALL_BOOKINGS = "see_all_bookings"
    MANAGE_USERS = "manage_users"
    # The console's live sale view: counts per ticket type and status, no personal data.
    WATCH_SALES = "watch_sales"
    # A new code for a ticket, the old one refused at the door (a ticket lost or shared).
    REISSUE_TICKETS = "reissue_tickets"


_USER = frozenset({Permission.BOOK})
_MANAGER = _USER | {Permission.MANAGE_CATALOG, Permission.WATCH_SALES}
_ADMIN = frozenset(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    "user": _USER,
    "manager": _MANAGER,
    "admin": _ADMIN,
}


def is_allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def may_see_booking(caller: Caller, owner_id: str | None) -> bool:
    """Someone else's booking is invisible (404), not forbidden: its id leaks nothing."""
    return is_allowed(caller.role, Permission.SEE_ALL_BOOKINGS) or owner_id == caller.user_id
