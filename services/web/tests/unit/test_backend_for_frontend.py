"""The web service against a stand-in gateway: cookies, CSRF, CSP, what reaches the gateway."""

from __future__ import annotations

import httpx
import pytest

from ticketing_web.bootstrap import build_app
from ticketing_web.domain.security import CSRF_COOKIE, SESSION_COOKIE, csrf_allows, proxyable
from ticketing_web.settings import WebSettings

TOKEN = "header.payload.signature"
ME = {"id": "u1", "email": "zoe@example.com", "name": "Zoë", "role": "user"}


class FakeGateway:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/v1/auth/token":
            form = dict(httpx.QueryParams(request.content.decode()))
            if form.get("password") != "Right-Horse-42":
                return httpx.Response(401, json={"detail": "bad", "error_type": "unauthorized"})
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 1800})
        if path == "/api/v1/users/me":
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return httpx.Response(401, json={"detail": "no", "error_type": "unauthorized"})
            return httpx.Response(200, json=ME)
        if path.endswith("/tickets.pdf"):
            disposition = 'attachment; filename="tickets-b1.pdf"'
            return httpx.Response(
                200,
                content=b"%PDF-1.7",
                headers={"Content-Type": "application/pdf", "Content-Disposition": disposition},
            )
        if path == "/api/v1/bookings" and request.method == "POST":
            return httpx.Response(
                429,
                json={"detail": "slow", "error_type": "rate_limited"},
                headers={"Retry-After": "7"},
            )
        return httpx.Response(
            200, json={"path": path, "auth": request.headers.get("authorization")}
        )


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def browser(gateway: FakeGateway):
    app = build_app(WebSettings(environment="test"), transport=httpx.MockTransport(gateway))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://shop.test"
    ) as client:
        yield client


async def csrf(browser: httpx.AsyncClient) -> str:
    await browser.get("/")
    token = browser.cookies.get(CSRF_COOKIE)
    assert token
    return token


async def log_in(browser: httpx.AsyncClient, password: str = "Right-Horse-42") -> httpx.Response:  # noqa: S107
    token = await csrf(browser)
    return await browser.post(
        "/session/login",
        json={"email": "zoe@example.com", "password": password},
        headers={"X-CSRF-Token": token},
    )


async def test_pages_carry_a_strict_content_security_policy(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script" in page.text
    assert 'type="module"' in page.text
    assert "<script>" not in page.text  # no inline script
    assert (await browser.get("/console")).status_code == 200
    assert (await browser.get("/static/js/shop.js")).status_code == 200


async def test_an_emailed_offer_link_opens_the_shop(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/offers/6f1d4c2e-7a39-4c55-9d1e-0c0b8d3f6a21")
    assert page.status_code == 200
    assert 'src="/static/js/shop.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert (await browser.get("/offers/not-an-offer")).status_code == 422


async def test_a_ticket_type_edit_is_proxied_with_its_body(
    browser: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await log_in(browser)
    answer = await browser.patch(
        "/api/v1/events/e1/ticket-types/t1",
        json={"name": "Balcony"},
        headers={"X-CSRF-Token": browser.cookies[CSRF_COOKIE]},
    )
    assert answer.status_code == 200
    assert gateway.requests[-1].method == "PATCH"
    assert gateway.requests[-1].content == b'{"name":"Balcony"}'


async def test_only_the_door_scanner_may_use_the_camera(browser: httpx.AsyncClient) -> None:
    scanner = await browser.get("/scanner")
    assert scanner.status_code == 200
    assert 'src="/static/js/scanner.js"' in scanner.text
    assert "camera=(self)" in scanner.headers["permissions-policy"]
    assert "script-src 'self'" in scanner.headers["content-security-policy"]
    assert browser.cookies.get(CSRF_COOKIE)
    for page in ("/", "/console"):
        assert "camera=()" in (await browser.get(page)).headers["permissions-policy"]


async def test_the_tickets_pdf_downloads_through_the_proxy_as_an_attachment(
    browser: httpx.AsyncClient,
) -> None:
    await log_in(browser)
    answer = await browser.get("/api/v1/bookings/b1/tickets.pdf")
    assert answer.status_code == 200
    assert answer.content == b"%PDF-1.7"
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'attachment; filename="tickets-b1.pdf"'


async def test_login_keeps_the_token_in_an_httponly_strict_cookie(
    browser: httpx.AsyncClient,
) -> None:
    response = await log_in(browser)
    assert response.status_code == 200
    assert response.json() == ME
    assert TOKEN not in response.text
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and value.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http in tests


async def test_cookies_are_secure_over_https(gateway: FakeGateway) -> None:
    app = build_app(WebSettings(environment="test"), transport=httpx.MockTransport(gateway))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://shop.test"
    ) as browser:
        response = await log_in(browser)
    cookies = [value for name, value in response.headers.multi_items() if name == "set-cookie"]
    assert cookies
    assert all("Secure" in value for value in cookies)
    assert "Strict-Transport-Security" in response.headers or "strict-transport-security" in {
        name.lower() for name in response.headers
    }


async def test_api_calls_carry_the_session_as_a_bearer_token(
    browser: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await log_in(browser)
    answer = await browser.get("/api/v1/bookings?size=5")
    assert answer.json() == {"path": "/api/v1/bookings", "auth": f"Bearer {TOKEN}"}
    assert gateway.requests[-1].url.params["size"] == "5"


async def test_a_booking_carries_the_waiting_rooms_admission_pass_to_the_gateway(
    browser: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await log_in(browser)
    token = browser.cookies[CSRF_COOKIE]
    await browser.post(
        "/api/v1/bookings",
        json={},
        headers={"X-CSRF-Token": token, "X-Admission-Pass": "a1.pass.mac"},
    )
    assert gateway.requests[-1].headers["x-admission-pass"] == "a1.pass.mac"


async def test_a_waiting_room_place_is_polled_through_the_proxy(
    browser: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await log_in(browser)
    place = "p1.ZXZlbnQtcm9vbS1hY2NvdW50LXBsYWNl.q83vEjRWeJq8_-0"
    answer = await browser.get(f"/api/v1/waiting-room/places/{place}")
    assert answer.json() == {
        "path": f"/api/v1/waiting-room/places/{place}",
        "auth": f"Bearer {TOKEN}",
    }


async def test_state_changing_requests_need_the_csrf_token(
    browser: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await log_in(browser)
    calls = len(gateway.requests)
    missing = await browser.post("/api/v1/bookings", json={})
    wrong = await browser.post("/api/v1/bookings", json={}, headers={"X-CSRF-Token": "forged"})
    assert missing.status_code == wrong.status_code == 403
    assert missing.json()["error_type"] == "csrf_failed"
    assert len(gateway.requests) == calls  # nothing reached the gateway


async def test_a_foreign_origin_is_refused_even_with_the_token(browser: httpx.AsyncClient) -> None:
    token = await csrf(browser)
    response = await browser.post(
        "/session/login",
        json={"email": "zoe@example.com", "password": "Right-Horse-42"},
        headers={"X-CSRF-Token": token, "Origin": "https://evil.test"},
    )
    assert response.status_code == 403


async def test_rate_limit_answers_pass_through_with_retry_after(
    browser: httpx.AsyncClient,
) -> None:
    await log_in(browser)
    token = browser.cookies[CSRF_COOKIE]
    response = await browser.post("/api/v1/bookings", json={}, headers={"X-CSRF-Token": token})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


async def test_auth_routes_cannot_be_reached_through_the_api_proxy(
    browser: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    token = await csrf(browser)
    response = await browser.post(
        "/api/v1/auth/token",
        data={"username": "zoe@example.com", "password": "Right-Horse-42"},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 404
    assert gateway.requests == []


async def test_wrong_password_is_relayed_and_sets_no_session(browser: httpx.AsyncClient) -> None:
    response = await log_in(browser, password="nope")
    assert response.status_code == 401
    assert SESSION_COOKIE not in browser.cookies


async def test_logout_clears_the_session(browser: httpx.AsyncClient) -> None:
    await log_in(browser)
    token = browser.cookies[CSRF_COOKIE]
    assert (
        await browser.post("/session/logout", headers={"X-CSRF-Token": token})
    ).status_code == 204
    assert (await browser.get("/session")).status_code == 401


async def test_an_unreachable_gateway_is_a_503_with_retry_after() -> None:
    def down(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    app = build_app(WebSettings(environment="test"), transport=httpx.MockTransport(down))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://shop.test"
    ) as browser:
        response = await browser.get("/api/v1/events")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"


def test_csrf_rule() -> None:
    own = "http://shop.test"
    assert csrf_allows("GET", cookie_token=None, header_token=None, origin=None, own_origin=own)
    assert csrf_allows("POST", cookie_token="a", header_token="a", origin=own, own_origin=own)
    assert not csrf_allows("POST", cookie_token="a", header_token="b", origin=None, own_origin=own)
    assert not csrf_allows("PUT", cookie_token="", header_token="", origin=None, own_origin=own)


def test_only_plain_api_paths_are_proxied() -> None:
    assert proxyable("events/3f2c/availability")
    assert not proxyable("auth/token")
    assert not proxyable("../health")
    assert not proxyable("events?x=1")
    assert proxyable("bookings")
