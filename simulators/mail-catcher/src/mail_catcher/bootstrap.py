"""Wires the catcher: an SMTP server and the HTTP app on one event loop, one mailbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mail_catcher.api import mailbox_router
from mail_catcher.mailbox import Mailbox
from mail_catcher.settings import MailCatcherSettings
from mail_catcher.smtp import start_smtp_server
from service_kit.app_factory import create_service_app, health_registry_for

DESCRIPTION = """A stand-in for the SMTP relay notifications sends through: it accepts
every message on its SMTP port and keeps it as an .eml file. `GET /` lists what it caught;
`/api/messages` serves the same as JSON, with bodies, raw messages and attachments. A real
relay has none of this."""


def build_app(settings: MailCatcherSettings) -> FastAPI:
    health = health_registry_for(settings)
    mailbox = Mailbox(settings.mail_dir)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        server = await start_smtp_server(
            mailbox,
            settings.smtp_host,
            settings.smtp_port,
            max_message_bytes=settings.max_message_bytes,
        )

        async def smtp() -> None:
            if not server.is_serving():
                raise RuntimeError("the SMTP server is not serving")

        health.add("smtp", smtp)
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    app = create_service_app(
        settings,
        title="Mail catcher",
        description=DESCRIPTION,
        health=health,
        routers=[mailbox_router(mailbox)],
        lifespan=lifespan,
    )
    app.state.mailbox = mailbox
    return app
