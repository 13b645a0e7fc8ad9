"""The audit trail: one JSON line per security event on the `audit` logger.

Lines carry `event_type` and who was involved, never a password or a token.
"""

from __future__ import annotations

import logging

audit_logger = logging.getLogger("audit")
# Written whatever LOG_LEVEL says: an operator quieting the service keeps the audit trail.
audit_logger.setLevel(logging.INFO)

LOGIN_SUCCEEDED = "login_succeeded"
LOGIN_FAILED = "login_failed"
LOGIN_THROTTLED = "login_throttled"
LOGOUT = "logout"
PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event type)
PASSWORD_CHANGE_FAILED = "password_change_failed"  # noqa: S105
ROLE_CHANGED = "role_changed"
SIGN_UP_THROTTLED = "sign_up_throttled"


def audit(event_type: str, **fields: object) -> None:
    audit_logger.info(event_type, extra={"event_type": event_type, **fields})
