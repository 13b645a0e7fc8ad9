"""`/internal/v1/notices`: operators list the notices given up on and send one again
(admins, through the gateway's internal token, like the dead-letter routes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from notifications.adapters.postgres_store import PostgresNoticeAdmin, StoredNotice
from service_kit.errors import ForbiddenError, NotFoundError
from service_kit.http_errors import error_responses
from service_kit.internal_auth import InternalCaller

TAG = "notices"
TAG_DESCRIPTION = "Mails given up on after their attempts, and sending them again (admins)"


class NoticeOut(BaseModel):
    fact_id: UUID = Field(description="The fact that caused the notice (its envelope's id)")
    kind: str = Field(examples=["confirmation"])
    booking_id: UUID | None = Field(description="The booking it is about (None: an offer)")
    offer_id: UUID | None = Field(description="The waitlist offer it is about (None: a booking)")
    status: str = Field(examples=["failed"])
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime


class FailedNotices(BaseModel):
    notices: list[NoticeOut]


def _out(notice: StoredNotice) -> NoticeOut:
    return NoticeOut(**vars(notice))


def _admin(caller: InternalCaller) -> None:
    if not caller.is_admin:
        raise ForbiddenError("Only admins may see or retry failed notices")


def notices_router(admin: Callable[[], PostgresNoticeAdmin]) -> APIRouter:
    router = APIRouter(prefix="/internal/v1/notices", tags=[TAG])

    @router.get(
        "/failed",
        summary="Notices given up on, oldest first",
        response_model=FailedNotices,
        responses=error_responses(403, 422),
    )
    async def failed(
        caller: InternalCaller, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> FailedNotices:
        _admin(caller)
        return FailedNotices(notices=[_out(n) for n in await admin().failed(limit)])

    @router.post(
        "/{fact_id}/retry",
        summary="Send a failed notice again, with a fresh count of attempts",
        response_model=NoticeOut,
        responses=error_responses(403, 404, 422),
    )
    async def retry(caller: InternalCaller, fact_id: UUID) -> NoticeOut:
        _admin(caller)
        notice = await admin().retry(fact_id)
        if notice is None:
            raise NotFoundError(
                f"No failed notice for fact {fact_id} (a pending one is retried by itself; "
                "a sent one is never sent again)",
                error_type="notice_not_failed",
            )
        return _out(notice)

    return router
