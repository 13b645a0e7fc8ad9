"""The two cookies: the session (the gateway's token, out of reach of scripts) and the CSRF
token (readable by our pages, which echo it in a header)."""

from __future__ import annotations

from fastapi import Request, Response

from ticketing_web.domain.security import CSRF_COOKIE, SESSION_COOKIE, new_csrf_token
from ticketing_web.entrypoints.http.middleware import cookie
from ticketing_web.settings import WebSettings


def secure_cookies(request: Request) -> bool:
    settings: WebSettings = request.app.state.settings
    if settings.cookie_secure is not None:
        return settings.cookie_secure
    return settings.is_production or request.url.scheme == "https"


def session_token(request: Request) -> str | None:
    return cookie(request.headers, SESSION_COOKIE)


def set_session(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=secure_cookies(request),
        samesite="strict",
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=secure_cookies(request), samesite="strict"
    )


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    if cookie(request.headers, CSRF_COOKIE):
        return
    response.set_cookie(
        CSRF_COOKIE,
        new_csrf_token(),
        path="/",
        httponly=False,
        secure=secure_cookies(request),
        samesite="strict",
    )


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None
