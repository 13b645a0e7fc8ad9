"""Waiting rooms: managers and admins turn one on for an event and watch it; fans join and
follow their place until they are admitted with a pass their bookings then carry.

The place poll is the route 20,000 fans call over and over: it checks the bearer token
locally (signature and expiry, remembered once verified: no revocation or account read, as
for the sold-out answer) against the account the place token is bound to, reads the place
in one Redis call and writes its JSON by hand; `place_polls.py` answers it before FastAPI's
routing, with `place_response` below.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from gateway.adapters.waiting_room_tokens import MAX_TOKEN_LENGTH
from gateway.application.stream_slots import StreamSlots
from gateway.application.waiting_room import PlaceAnswer, RoomReport
from gateway.domain.waiting_room import RoomSettings
from gateway.entrypoints.http.deps import (
    API_PREFIX,
    Booker,
    CatalogManager,
    DefaultRateLimit,
    GatewayServices,
    SalesWatcher,
    Services,
)
from service_kit.errors import UnauthorizedError
from service_kit.http_errors import ErrorResponse, error_responses

PLACES = f"{API_PREFIX}/waiting-room/places"
router = APIRouter(prefix=API_PREFIX, tags=["waiting room"])

ROOM_DESCRIPTION = """
While an event's room is on, `POST /api/v1/bookings` for it needs an admission pass
(`X-Admission-Pass`), which fans get by waiting in the room: 403 `not_admitted` without one.
Fans who join before the sale starts (the event's `sale_starts_at`) are put in a uniformly
random order at the start; fans who join after it queue behind them in arrival order.
Admission lets in `admission_per_minute` fans (less while the booking path is struggling:
halved on pressure, grown back over a minute), never more than `max_admitted_at_once` at
once nor more than the tickets left, and stops while the event is sold out (holds counted),
resuming when tickets come back. A pass lasts `session_minutes` and admits
`booking_attempts_per_pass` bookings. The room is enforced at once by the gateway that turned
it on, and by every other within half a second.
"""


class WaitingRoomIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opens_at: AwareDatetime | None = Field(
        default=None,
        description="When fans may start joining (the pre-queue); null: at once. Fans who "
        "join before the sale starts are shuffled at the start.",
    )
    admission_per_minute: int = Field(ge=1, le=1_000_000, examples=[600])
    max_admitted_at_once: int = Field(
        ge=1, le=1_000_000, description="Fans holding a live pass at the same time", examples=[500]
    )
    session_minutes: int = Field(
        default=10, ge=1, le=240, description="How long a pass lasts from admission"
    )
    booking_attempts_per_pass: int = Field(default=3, ge=1, le=100)

    def settings(self) -> RoomSettings:
        return RoomSettings(
            opens_at=self.opens_at,
            admission_per_minute=self.admission_per_minute,
            max_admitted_at_once=self.max_admitted_at_once,
            session_minutes=self.session_minutes,
            booking_attempts_per_pass=self.booking_attempts_per_pass,
        )


class WaitingRoomOut(BaseModel):
    event_id: uuid.UUID
    opens_at: datetime | None
    admission_per_minute: int
    max_admitted_at_once: int
    session_minutes: int
    booking_attempts_per_pass: int
    sale_starts_at: datetime | None = Field(description="From the event; null: on sale now")
    paused: bool
    sold_out: bool = Field(description="Every ticket type sold or held: nobody is admitted")
    tickets_left: int | None = Field(description="Tickets not sold nor held; null: not read yet")
    waiting: int
    admitted_now: int = Field(description="Fans holding a live pass with attempts left")
    admitted_total: int
    effective_admission_per_minute: float = Field(
        description="The rate in effect: lower than the room's while the booking path struggles"
    )
    estimated_seconds_to_clear: int | None = Field(
        description="Until everyone waiting now is admitted, if the current rate holds; null "
        "while nobody is admitted (paused, sold out)"
    )
    waitlist: None = Field(default=None, description="Not offered yet (always null)")

    @classmethod
    def of(cls, report: RoomReport) -> WaitingRoomOut:
        figures, settings = report.figures, report.figures.settings
        return cls(
            event_id=report.event_id,
            opens_at=settings.opens_at,
            admission_per_minute=settings.admission_per_minute,
            max_admitted_at_once=settings.max_admitted_at_once,
            session_minutes=settings.session_minutes,
            booking_attempts_per_pass=settings.booking_attempts_per_pass,
            sale_starts_at=report.sale_starts_at,
            paused=figures.paused,
            sold_out=figures.sold_out,
            tickets_left=figures.tickets_left,
            waiting=figures.waiting,
            admitted_now=figures.admitted_now,
            admitted_total=figures.admitted_total,
            effective_admission_per_minute=round(figures.effective_rate_per_minute, 2),
            estimated_seconds_to_clear=report.seconds_to_clear,
        )


class PlaceOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    event_id: uuid.UUID
    state: Literal["waiting", "admitted", "expired", "sold_out", "closed"] = Field(
        description="`waiting`; `admitted`: book with `pass` until `pass_expires_at`; "
        "`expired`: the pass's session ended or its attempts are used (join again to queue "
        "at the back); `sold_out`: nothing left, counting holds; you keep your place and are "
        "admitted if tickets come back; `closed`: the room was turned off (book without a "
        "pass) or you joined again since"
    )
    position: int | None = Field(
        description="1: next to go in. Null before the sale starts for a place taken before "
        "it: that order is drawn at random at the start"
    )
    ahead: int | None = Field(description="Fans before you; null when position is")
    estimated_wait_seconds: int | None = Field(
        description="If the current admission rate holds (until the start, then your expected "
        "turn when the order is not drawn yet); null while nobody is admitted"
    )
    order_decided_at_start: bool = Field(
        description="You joined before the sale starts: your place is drawn at the start"
    )
    paused: bool = Field(description="Admission is paused by the organiser")
    tickets_left: int | None = Field(description="Tickets not sold nor held, live")
    sale_starts_at: datetime | None
    admission_pass: str | None = Field(
        alias="pass",
        description="While admitted: send it as `X-Admission-Pass` on your bookings for "
        "this event; it works for your account only",
    )
    pass_expires_at: datetime | None
    attempts_left: int | None = Field(description="Bookings the pass still admits")
    waitlist: None = Field(default=None, description="Not offered yet (always null)")
    poll_after_seconds: int = Field(description="Also sent as `Retry-After`: poll again then")


class JoinedOut(PlaceOut):
    place_token: str = Field(
        description="Your place: poll `GET /api/v1/waiting-room/places/{place_token}` "
        "(also in `Location`) with your own bearer token"
    )


class WaitingRoomNotOpenOut(ErrorResponse):
    opens_at: datetime


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _place_body(answer: PlaceAnswer) -> dict[str, Any]:
    view = answer.view
    expires = view.pass_expires_at
    return {
        "event_id": str(answer.event_id),
        "state": view.state.value,
        "position": view.position,
        "ahead": view.ahead,
        "estimated_wait_seconds": view.estimated_wait_seconds,
        "order_decided_at_start": view.order_decided_at_start,
        "paused": view.paused,
        "tickets_left": view.tickets_left,
        "sale_starts_at": _iso(answer.sale_starts_at),
        "pass": answer.pass_token,
        "pass_expires_at": None if expires is None else _iso(datetime.fromtimestamp(expires, UTC)),
        "attempts_left": view.attempts_left,
        "waitlist": None,
        "poll_after_seconds": view.poll_after_seconds,
    }


def _place_headers(answer: PlaceAnswer) -> dict[str, str]:
    return {"Retry-After": str(answer.view.poll_after_seconds), "Cache-Control": "no-store"}


# ------------------------------------------------------------------ managers and admins

ROOM = "/events/{event_id}/waiting-room"


@router.put(
    ROOM,
    response_model=WaitingRoomOut,
    status_code=200,
    summary="Turn the event's waiting room on, or change its settings (manager, admin)",
    description="201 when the room is turned on, 200 when its settings change (waiting fans "
    "keep their places; passes already given keep their session and attempts). 404 for an "
    "unknown event." + ROOM_DESCRIPTION,
    responses={
        201: {"model": WaitingRoomOut, "description": "Turned on"},
        **error_responses(400, 401, 403, 404, 413, 422, 429, 503),
    },
    dependencies=[DefaultRateLimit],
)
async def configure_room(
    event_id: uuid.UUID, body: WaitingRoomIn, _: CatalogManager, services: Services
) -> Response:
    report, created = await services.waiting_rooms.configure(event_id, body.settings())
    return Response(
        WaitingRoomOut.of(report).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    ROOM,
    response_model=WaitingRoomOut,
    summary="The room's settings and live figures: waiting, admitted, rate, time to clear "
    "(manager, admin)",
    responses=error_responses(401, 403, 404, 422, 429, 503),
    dependencies=[DefaultRateLimit],
)
async def room(event_id: uuid.UUID, _: SalesWatcher, services: Services) -> WaitingRoomOut:
    return WaitingRoomOut.of(await services.waiting_rooms.report(event_id))


@router.delete(
    ROOM,
    status_code=204,
    summary="Turn the room off: bookings need no pass, places end (manager, admin)",
    responses=error_responses(401, 403, 404, 422, 429, 503),
    dependencies=[DefaultRateLimit],
)
async def close_room(event_id: uuid.UUID, _: CatalogManager, services: Services) -> Response:
    await services.waiting_rooms.close(event_id)
    return Response(status_code=204)


@router.post(
    f"{ROOM}/pause",
    response_model=WaitingRoomOut,
    summary="Stop admitting (fans keep their places; passes given still work) (manager, admin)",
    responses=error_responses(401, 403, 404, 422, 429, 503),
    dependencies=[DefaultRateLimit],
)
async def pause(event_id: uuid.UUID, _: CatalogManager, services: Services) -> WaitingRoomOut:
    return WaitingRoomOut.of(await services.waiting_rooms.set_paused(event_id, True))


@router.post(
    f"{ROOM}/resume",
    response_model=WaitingRoomOut,
    summary="Admit again after a pause (manager, admin)",
    responses=error_responses(401, 403, 404, 422, 429, 503),
    dependencies=[DefaultRateLimit],
)
async def resume(event_id: uuid.UUID, _: CatalogManager, services: Services) -> WaitingRoomOut:
    return WaitingRoomOut.of(await services.waiting_rooms.set_paused(event_id, False))


# ------------------------------------------------------------------ fans


@router.post(
    f"{ROOM}/places",
    response_model=JoinedOut,
    status_code=201,
    summary="Join the event's waiting room (signed in)",
    description="201 with a new place, 200 with the place you already hold (one per account; "
    "once your pass has expired or is used, joining again queues you at the back). "
    "`Location` and `place_token` name the place to poll. 409 `waiting_room_not_open` with "
    "`opens_at` before the room opens; 404 `no_waiting_room`.",
    responses={
        200: {"model": JoinedOut, "description": "The place you already hold"},
        **error_responses(400, 401, 403, 404, 422, 429, 503),
        409: {"model": WaitingRoomNotOpenOut, "description": "The room is not open yet"},
    },
    dependencies=[DefaultRateLimit],
)
async def join(event_id: uuid.UUID, caller: Booker, services: Services) -> Response:
    joined = await services.waiting_rooms.join(caller, event_id)
    location = f"{PLACES}/{joined.token}"
    return Response(
        json.dumps({**_place_body(joined.answer), "place_token": joined.token}),
        status_code=201 if joined.new else 200,
        media_type="application/json",
        headers={**_place_headers(joined.answer), "Location": location},
    )


# Before OpenAPI 3.2 an event stream's `schema` describes one event: its SSE fields, with
# the JSON place in `data`.
PLACE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"const": "place"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": PlaceOut.model_json_schema(by_alias=True),
        },
    },
}


PLACE_PATH = "/waiting-room/places/{place_token}"


def _account(services: GatewayServices, authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("Not authenticated: send an 'Authorization: Bearer <token>' header")
    return services.tokens.decode(token).user_id


def wants_stream(accept: str) -> bool:
    return "text/event-stream" in accept


async def place_response(
    services: GatewayServices, place_token: str, authorization: str
) -> Response:
    """The place as JSON, for the account the bearer token proves."""
    answer = await services.waiting_rooms.place(place_token, _account(services, authorization))
    return Response(
        json.dumps(_place_body(answer)),
        media_type="application/json",
        headers=_place_headers(answer),
    )


@router.get(
    PLACE_PATH,
    response_model=PlaceOut,
    summary="Your place: position, fans ahead, estimated wait, tickets left, and your pass "
    "once admitted",
    description="Poll it no sooner than `Retry-After` (also `poll_after_seconds`), or send "
    "`Accept: text/event-stream` to get the place as server-sent events named `place`, one "
    "per change (a user may hold a few streams at once, 429 beyond). Only the account that "
    "joined may read its place: anyone else, or a token that is not a place's, gets 404 "
    "`place_not_found`.",
    responses={
        200: {
            "content": {"text/event-stream": {"schema": PLACE_EVENT_SCHEMA}},
            "description": "The place (JSON), or a stream of `place` events",
        },
        **error_responses(401, 404, 422, 429, 503),
    },
    openapi_extra={"security": [{"OAuth2PasswordBearer": []}]},
)
async def place(
    place_token: Annotated[str, Path(max_length=MAX_TOKEN_LENGTH)], request: Request
) -> Response:
    services: GatewayServices = request.app.state.services
    authorization = request.headers.get("authorization", "")
    if wants_stream(request.headers.get("accept", "")):
        account = _account(services, authorization)
        return await _place_stream(request, services, place_token, account)
    return await place_response(services, place_token, authorization)


async def _place_stream(
    request: Request, services: GatewayServices, place_token: str, account: str
) -> EventSourceResponse:
    rooms = services.waiting_rooms
    first = await rooms.place(place_token, account)
    settings = services.settings
    slots: StreamSlots = request.app.state.stream_slots
    slots.acquire(account)
    changes = rooms.place_changes(
        place_token,
        account,
        first=first,
        interval_seconds=settings.waiting_room_stream_interval_seconds,
        max_duration_seconds=settings.sse_max_duration_seconds,
    )

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for change in changes:
            if await request.is_disconnected():
                break
            yield ServerSentEvent(data=json.dumps(_place_body(change)), event="place")

    return EventSourceResponse(
        events(),
        ping=15,
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(slots.release, account),
    )
