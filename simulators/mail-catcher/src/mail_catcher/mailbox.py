"""Caught messages as .eml files in one directory, and what the HTTP API shows of them.

A message's id is its file name without `.eml`: the time it was caught (nanoseconds, so
names sort by arrival) and a random suffix. The SMTP envelope is written in front of the
message as `X-Envelope-From` and `X-Envelope-To` headers, as a mail server's delivery
agent records it.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

ENVELOPE_FROM = "X-Envelope-From"
ENVELOPE_TO = "X-Envelope-To"
_ID = re.compile(r"^\d{19,20}-[0-9a-f]{8}$")


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int
    content: bytes


@dataclass(frozen=True)
class CaughtMessage:
    id: str
    received_at: datetime
    envelope_from: str
    envelope_to: tuple[str, ...]
    raw: bytes
    parsed: EmailMessage

    @property
    def message_id(self) -> str | None:
        value = self.parsed["Message-ID"]
        return None if value is None else str(value).strip()

    @property
    def subject(self) -> str:
        return str(self.parsed["Subject"] or "")

    @property
    def sender(self) -> str:
        return str(self.parsed["From"] or self.envelope_from)

    @property
    def to(self) -> list[str]:
        header = self.parsed["To"]
        if header is None:
            return list(self.envelope_to)
        return [str(address) for address in header.addresses]

    def body(self, subtype: str) -> str | None:
        part = self.parsed.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_subtype() != subtype:
            return None
        content: str = part.get_content()
        # SMTP carries CRLF line ends; readers want the text as written.
        return content.replace("\r\n", "\n")

    @property
    def attachments(self) -> list[Attachment]:
        found = []
        for part in self.parsed.walk():
            if part.get_content_disposition() != "attachment":
                continue
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            found.append(
                Attachment(part.get_filename(), part.get_content_type(), len(content), content)
            )
        return found

    def headers(self) -> list[tuple[str, str]]:
        return [(name, str(value)) for name, value in self.parsed.items()]


class Mailbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def store(self, envelope_from: str, envelope_to: list[str], content: bytes) -> str:
        message_id = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        envelope = (
            f"{ENVELOPE_FROM}: {envelope_from}\r\n{ENVELOPE_TO}: {', '.join(envelope_to)}\r\n"
        ).encode()
        path = self.directory / f"{message_id}.eml"
        partial = path.with_suffix(".part")
        partial.write_bytes(envelope + content)
        # Written whole, then renamed: a reader never sees half a message.
        os.replace(partial, path)
        return message_id

    def ids(self) -> list[str]:
        return sorted(path.stem for path in self.directory.glob("*.eml") if _ID.match(path.stem))

    def get(self, message_id: str) -> CaughtMessage | None:
        if not _ID.match(message_id):
            return None
        path = self.directory / f"{message_id}.eml"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        nanoseconds = int(message_id.split("-", 1)[0])
        return CaughtMessage(
            id=message_id,
            received_at=datetime.fromtimestamp(nanoseconds / 1e9, UTC),
            envelope_from=str(parsed[ENVELOPE_FROM] or ""),
            envelope_to=tuple(
                address.strip()
                for address in str(parsed[ENVELOPE_TO] or "").split(",")
                if address.strip()
            ),
            raw=raw,
            parsed=parsed,
        )

    def all(self) -> list[CaughtMessage]:
        messages = (self.get(message_id) for message_id in self.ids())
        return [message for message in messages if message is not None]

    def clear(self) -> int:
        removed = 0
        for path in self.directory.glob("*.eml"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed
