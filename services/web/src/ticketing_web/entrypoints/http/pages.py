"""The pages (shop, console, door scanner) and their static assets (plain ES modules and CSS,
no build step)."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from ticketing_web.domain.security import SCANNER_PERMISSIONS_POLICY
from ticketing_web.entrypoints.http.cookies import ensure_csrf_cookie

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str) -> Response:
    response = FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    ensure_csrf_cookie(request, response)
    return response


@router.get("/")
async def shop(request: Request) -> Response:
    return _page(request, "shop.html")


@router.get("/offers/{offer_id}")
async def waitlist_offer(offer_id: UUID, request: Request) -> Response:
    """The e-mailed link to a waitlist offer: the shop, which opens the offer (a malformed id
    is a 422 before any page)."""
    return _page(request, "shop.html")


@router.get("/console")
async def console(request: Request) -> Response:
    return _page(request, "console.html")


@router.get("/scanner")
async def scanner(request: Request) -> Response:
    response = _page(request, "scanner.html")
    # Set here, the middleware keeps it instead of its camera=() for every other page.
    response.headers["Permissions-Policy"] = SCANNER_PERMISSIONS_POLICY
    return response
