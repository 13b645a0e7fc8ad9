"""The SMTP side: aiosmtpd on the service's own event loop, every message accepted."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mail_catcher.mailbox import Mailbox

logger = logging.getLogger(__name__)


class CatchEverything:
    """aiosmtpd's handler: stores each message and answers 250."""

    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message_id = self._mailbox.store(
            str(envelope.mail_from or ""), [str(to) for to in envelope.rcpt_tos], content
        )
        logger.info(
            "caught a message",
            extra={"id": message_id, "to": envelope.rcpt_tos, "bytes": len(content)},
        )
        return "250 Message accepted for delivery"


async def start_smtp_server(
    mailbox: Mailbox, host: str, port: int, *, max_message_bytes: int
) -> asyncio.Server:
    handler: Any = CatchEverything(mailbox)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=max_message_bytes, hostname="mail-catcher"),
        host=host,
        port=port,
    )
