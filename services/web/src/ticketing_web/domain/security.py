"""The browser-facing security rules: which headers every answer carries, when a state-changing
request is allowed (CSRF), and which gateway paths the pages may reach through us."""

from __future__ import annotations

import hmac
import re
import secrets

SESSION_COOKIE = "ticketing_session"
CSRF_COOKIE = "ticketing_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"
# The door scanner reads QR codes with the phone's camera; no other page may use it.
SCANNER_PERMISSIONS_POLICY = "camera=(self), microphone=(), geolocation=(), payment=()"


def security_headers(*, https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_allows(
    method: str,
    *,
    cookie_token: str | None,
    header_token: str | None,
    origin: str | None,
    own_origin: str,
) -> bool:
    """Double-submit: an unsafe request must echo the CSRF cookie (which only our own pages
    can read) in a header, and a browser-sent Origin must be ours."""
    if method.upper() in SAFE_METHODS:
        return True
    if origin is not None and origin != "null" and origin.rstrip("/") != own_origin:
        return False
    if not cookie_token or not header_token:
        return False
    return hmac.compare_digest(cookie_token.encode(), header_token.encode())


# Account and token routes are reached through /session only, so no token ever reaches a page.
_BLOCKED_PREFIXES = ("auth/",)
_GATEWAY_PATH = re.compile(r"^[A-Za-z0-9._~\-/]{1,300}$")


def proxyable(path: str) -> bool:
    """`path` is below /api/v1/; only plain resource paths pass, and no auth routes."""
    if not _GATEWAY_PATH.fullmatch(path) or ".." in path or "//" in path:
        return False
    return not path.startswith(_BLOCKED_PREFIXES)
