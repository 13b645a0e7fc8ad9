"""E-mail the platform sent, as the stack's mail catcher caught it (its HTTP API)."""

from __future__ import annotations

from typing import Any

import httpx

from local_infra.stack_state import StackInfo

from .platform_api import eventually

SETTLE_SECONDS = 60


async def caught_mail(stack: StackInfo, to: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.mail_catcher_url, timeout=10) as catcher:
        listed = await catcher.get("/api/messages")
    assert listed.status_code == 200, listed.text
    return [m for m in listed.json() if any(to in recipient for recipient in m["to"])]


async def mail_with_subject(stack: StackInfo, to: str, starting: str) -> dict[str, Any]:
    """The first message to `to` whose subject starts so, once it has arrived."""

    async def messages() -> list[dict[str, Any]]:
        return [m for m in await caught_mail(stack, to) if m["subject"].startswith(starting)]

    found = await eventually(
        messages, bool, within=SETTLE_SECONDS, what=f"mail '{starting}…' to {to}"
    )
    return found[0]


async def attachment(stack: StackInfo, message: dict[str, Any], index: int) -> bytes:
    async with httpx.AsyncClient(base_url=stack.mail_catcher_url, timeout=10) as catcher:
        answer = await catcher.get(f"/api/messages/{message['id']}/attachments/{index}")
    assert answer.status_code == 200, answer.text
    return answer.content
