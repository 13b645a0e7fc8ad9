"""The catcher as a real process: mail sent with aiosmtplib, read back over HTTP."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest
import pytest_asyncio

from local_infra.health import wait_until_ready
from local_infra.ports import free_port
from local_infra.processes import spawn_background, terminate


@dataclass
class RunningCatcher:
    url: str
    smtp_port: int
    state_dir: Path
    env: dict[str, str]
    pid: int = 0

    async def start(self) -> None:
        log_path = self.state_dir / "mail-catcher.log"
        self.pid = spawn_background(
            [sys.executable, "-m", "mail_catcher"],
            log_path=log_path,
            pid_path=self.state_dir / "mail-catcher.pid",
            env=self.env,
            cwd=self.state_dir,
        )
        await wait_until_ready(
            "mail-catcher", self.url, pid=self.pid, log_path=log_path, wait_seconds=30
        )

    def stop(self) -> None:
        terminate(self.pid, grace_seconds=10)


@pytest.fixture(scope="module")
def catcher_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCatcher]:
    state_dir = tmp_path_factory.mktemp("mail-catcher")
    http_port, smtp_port = free_port(), free_port()
    catcher = RunningCatcher(
        url=f"http://127.0.0.1:{http_port}",
        smtp_port=smtp_port,
        state_dir=state_dir,
        env={
            **os.environ,
            "ENVIRONMENT": "test",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(http_port),
            "MAIL_CATCHER_SMTP_PORT": str(smtp_port),
            "MAIL_CATCHER_MAIL_DIR": str(state_dir / "mail"),
            "SHUTDOWN_GRACE_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        },
    )
    yield catcher
    catcher.stop()


@pytest_asyncio.fixture
async def catcher(catcher_process: RunningCatcher) -> AsyncIterator[RunningCatcher]:
    if not catcher_process.pid:
        await catcher_process.start()
    async with httpx.AsyncClient(base_url=catcher_process.url) as client:
        await client.delete("/api/messages")
    yield catcher_process


def confirmation() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Tickets <tickets@example.test>"
    message["To"] = "ada@example.test"
    message["Subject"] = "Your tickets for Jazz <Night>"
    message["Message-ID"] = "<fact-7@notifications.example.test>"
    message.set_content("See you there")
    message.add_alternative("<p>See you there</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.7 tickets", maintype="application", subtype="pdf", filename="tickets.pdf"
    )
    return message


async def test_a_sent_message_is_listed_with_its_attachment(catcher: RunningCatcher) -> None:
    await aiosmtplib.send(confirmation(), hostname="127.0.0.1", port=catcher.smtp_port)

    async with httpx.AsyncClient(base_url=catcher.url) as client:
        (listed,) = (await client.get("/api/messages")).json()
        detail = (await client.get(f"/api/messages/{listed['id']}")).json()
        pdf = await client.get(f"/api/messages/{listed['id']}/attachments/0")
        raw = await client.get(f"/api/messages/{listed['id']}/raw")
        page = await client.get("/")

    assert listed["message_id"] == "<fact-7@notifications.example.test>"
    assert listed["from"] == "Tickets <tickets@example.test>"
    assert listed["to"] == ["ada@example.test"]
    assert listed["subject"] == "Your tickets for Jazz <Night>"
    assert listed["attachments"] == [
        {"filename": "tickets.pdf", "content_type": "application/pdf", "size": 16}
    ]
    assert detail["text"] == "See you there\n"
    assert detail["html"] == "<p>See you there</p>\n"
    assert detail["envelope_to"] == ["ada@example.test"]
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == b"%PDF-1.7 tickets"
    assert raw.headers["content-type"].startswith("message/rfc822")
    assert b"Message-ID: <fact-7@notifications.example.test>" in raw.content
    assert "Jazz &lt;Night&gt;" in page.text


async def test_caught_mail_outlives_a_restart_until_deleted(catcher: RunningCatcher) -> None:
    await aiosmtplib.send(confirmation(), hostname="127.0.0.1", port=catcher.smtp_port)
    catcher.stop()
    await catcher.start()

    async with httpx.AsyncClient(base_url=catcher.url) as client:
        assert len((await client.get("/api/messages")).json()) == 1
        assert (await client.delete("/api/messages")).json() == {"deleted": 1}
        assert (await client.get("/api/messages")).json() == []


async def test_unknown_messages_and_attachments_are_404(catcher: RunningCatcher) -> None:
    await aiosmtplib.send(confirmation(), hostname="127.0.0.1", port=catcher.smtp_port)
    async with httpx.AsyncClient(base_url=catcher.url) as client:
        (listed,) = (await client.get("/api/messages")).json()
        missing = await client.get("/api/messages/00000000000000000001-deadbeef")
        no_attachment = await client.get(f"/api/messages/{listed['id']}/attachments/3")

    assert missing.status_code == 404
    assert missing.json()["error_type"] == "message_not_found"
    assert no_attachment.status_code == 404
    assert no_attachment.json()["error_type"] == "attachment_not_found"
