"""What the catcher caught, over HTTP: a page for people and a JSON API for tests."""

from __future__ import annotations

from datetime import datetime
from html import escape

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from mail_catcher.mailbox import CaughtMessage, Mailbox
from service_kit.errors import NotFoundError
from service_kit.http_errors import error_responses


class AttachmentSummary(BaseModel):
    filename: str | None
    content_type: str
    size: int = Field(description="Bytes, decoded")


class MessageSummary(BaseModel):
    id: str
    message_id: str | None = Field(description="The Message-ID header")
    sender: str = Field(serialization_alias="from")
    to: list[str]
    subject: str
    received_at: datetime
    attachments: list[AttachmentSummary]


class Header(BaseModel):
    name: str
    value: str


class MessageDetail(MessageSummary):
    envelope_from: str
    envelope_to: list[str]
    headers: list[Header]
    text: str | None = Field(description="The text/plain body, if any")
    html: str | None = Field(description="The text/html body, if any")


class Cleared(BaseModel):
    deleted: int


def _summary(message: CaughtMessage) -> MessageSummary:
    return MessageSummary(
        id=message.id,
        message_id=message.message_id,
        sender=message.sender,
        to=message.to,
        subject=message.subject,
        received_at=message.received_at,
        attachments=[
            AttachmentSummary(filename=a.filename, content_type=a.content_type, size=a.size)
            for a in message.attachments
        ],
    )


def mailbox_router(mailbox: Mailbox) -> APIRouter:
    router = APIRouter(tags=["messages"])

    def found(message_id: str) -> CaughtMessage:
        message = mailbox.get(message_id)
        if message is None:
            raise NotFoundError(f"no message {message_id}", error_type="message_not_found")
        return message

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        rows = "".join(
            "<tr>"
            f"<td>{escape(m.received_at.isoformat(timespec='seconds'))}</td>"
            f"<td>{escape(', '.join(m.to))}</td>"
            f"<td>{escape(m.subject)}</td>"
            f"<td>{escape(', '.join(a.filename or a.content_type for a in m.attachments))}</td>"
            f'<td><a href="/api/messages/{m.id}">json</a> '
            f'<a href="/api/messages/{m.id}/raw">eml</a></td>'
            "</tr>"
            for m in reversed(mailbox.all())
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Caught mail</title></head>"
            "<body><h1>Caught mail</h1><table border='1' cellpadding='4'>"
            "<tr><th>received</th><th>to</th><th>subject</th><th>attachments</th><th></th></tr>"
            f"{rows}</table></body></html>"
        )

    @router.get(
        "/api/messages",
        response_model=list[MessageSummary],
        response_model_by_alias=True,
        summary="Every caught message, oldest first",
    )
    async def list_messages() -> list[MessageSummary]:
        return [_summary(message) for message in mailbox.all()]

    @router.get(
        "/api/messages/{message_id}",
        response_model=MessageDetail,
        response_model_by_alias=True,
        responses=error_responses(404),
    )
    async def get_message(message_id: str) -> MessageDetail:
        message = found(message_id)
        return MessageDetail(
            **_summary(message).model_dump(),
            envelope_from=message.envelope_from,
            envelope_to=list(message.envelope_to),
            headers=[Header(name=name, value=value) for name, value in message.headers()],
            text=message.body("plain"),
            html=message.body("html"),
        )

    @router.get(
        "/api/messages/{message_id}/raw",
        response_class=Response,
        responses={200: {"content": {"message/rfc822": {}}}, **error_responses(404)},
    )
    async def raw_message(message_id: str) -> Response:
        return Response(found(message_id).raw, media_type="message/rfc822")

    @router.get(
        "/api/messages/{message_id}/attachments/{index}",
        response_class=Response,
        responses=error_responses(404),
        summary="An attachment's bytes (index in the order the message carries them)",
    )
    async def attachment(message_id: str, index: int) -> Response:
        attachments = found(message_id).attachments
        if not 0 <= index < len(attachments):
            raise NotFoundError(
                f"message {message_id} has {len(attachments)} attachments; no index {index}",
                error_type="attachment_not_found",
            )
        chosen = attachments[index]
        headers = {}
        if chosen.filename:
            headers["Content-Disposition"] = f'attachment; filename="{chosen.filename}"'
        return Response(chosen.content, media_type=chosen.content_type, headers=headers)

    @router.delete("/api/messages", response_model=Cleared, summary="Forget every message")
    async def clear() -> Cleared:
        return Cleared(deleted=mailbox.clear())

    return router
