"""Tickets and check-in: the QR payload a scanner verifies offline, and the bodies of
entry's routes (the gateway forwards the public ones to entry under `/internal/v1`).

A ticket's **code** is 120 random bits in RFC 4648 base32 (24 characters, `A-Z2-7`): it is
what a person types at the door and what the QR code carries. Its **QR payload** is

    TKT1:<event id>:<code>:<signature>

where the signature is Ed25519 over `signed_message(event_id, code)` with the event's key,
base64url without padding. A scanner holding the event's public key (raw 32 bytes,
base64url without padding) verifies it without a network; the ticket list tells it which
codes were voided since.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ticketing_contracts.fields import Identifier, PersonName, Title

QR_PAYLOAD_PREFIX: Final = "TKT1"
KEY_ALGORITHM: Final = "Ed25519"
CODE_LENGTH: Final = 24
MAX_SCANS_PER_SYNC: Final = 500

TicketCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z2-7]{24}$"),
    Field(
        description="The ticket's code: 24 characters A-Z and 2-7",
        examples=["K7QW2M4XZT5R6YB3N2P2H4LC"],
    ),
]
QrPayload = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    Field(description="What the ticket's QR code says: TKT1:<event id>:<code>:<signature>"),
]
Entrance = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    Field(description="Where the scan happened, as door staff name it", examples=["North gate"]),
]

TicketStatus = Literal["valid", "checked_in", "voided"]
VoidReason = Literal["booking_cancelled", "payment_refunded", "event_cancelled", "reissued"]
ScanResult = Literal["admitted", "already_checked_in", "voided", "wrong_event", "not_a_ticket"]


def signed_message(event_id: UUID, code: str) -> bytes:
    """The bytes a ticket's signature covers."""
    return f"{QR_PAYLOAD_PREFIX}:{event_id}:{code}".encode("ascii")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def qr_payload(event_id: UUID, code: str, signature: bytes) -> str:
    return f"{QR_PAYLOAD_PREFIX}:{event_id}:{code}:{b64url(signature)}"


@dataclass(frozen=True)
class ParsedPayload:
    event_id: UUID
    code: str
    signature: bytes

    @property
    def message(self) -> bytes:
        return signed_message(self.event_id, self.code)


def parse_qr_payload(payload: str) -> ParsedPayload | None:
    """The parts of a QR payload, or None when it is not one (checks the form, not the
    signature)."""
    parts = payload.strip().split(":")
    if len(parts) != 4 or parts[0] != QR_PAYLOAD_PREFIX:
        return None
    _, event_text, code, signature_text = parts
    if len(code) != CODE_LENGTH or not all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in code):
        return None
    try:
        event_id = UUID(event_text)
        signature = b64url_decode(signature_text)
    except (ValueError, binascii.Error):
        return None
    if len(signature) != 64:
        return None
    return ParsedPayload(event_id, code, signature)


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ticket(_Body):
    ticket_id: UUID = Field(description="Stays the same when the ticket is re-issued")
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    ticket_type_name: Title
    holder_name: PersonName
    code: TicketCode
    qr_payload: QrPayload
    status: TicketStatus
    issued_at: AwareDatetime
    checked_in_at: AwareDatetime | None = None
    entrance: str | None = Field(default=None, description="Where it was checked in")
    voided_reason: VoidReason | None = None


class BookingTickets(_Body):
    booking_id: UUID
    event_id: UUID
    event_name: Title
    event_starts_at: AwareDatetime | None = None
    tickets: list[Ticket]


class ScanRequest(_Body):
    """One scan at the door: the code typed in, or the QR payload read (exactly one)."""

    code: TicketCode | None = None
    qr_payload: QrPayload | None = None
    entrance: Entrance

    @model_validator(mode="after")
    def _exactly_one(self) -> ScanRequest:
        if (self.code is None) == (self.qr_payload is None):
            raise ValueError("give exactly one of code and qr_payload")
        return self


class ScanAnswer(_Body):
    result: ScanResult
    ticket_id: UUID | None = None
    holder_name: str | None = None
    ticket_type_name: str | None = None
    checked_in_at: datetime | None = Field(
        default=None, description="When it was checked in (now when admitted; first time otherwise)"
    )
    entrance: str | None = Field(default=None, description="Where it was checked in")
    voided_reason: VoidReason | None = None


class OfflineScan(_Body):
    scan_id: UUID = Field(description="Chosen by the scanner; a scan synced twice counts once")
    code: TicketCode | None = None
    qr_payload: QrPayload | None = None
    scanned_at: AwareDatetime
    admitted_offline: bool = Field(description="Whether the scanner let the holder in")

    @model_validator(mode="after")
    def _exactly_one(self) -> OfflineScan:
        if (self.code is None) == (self.qr_payload is None):
            raise ValueError("give exactly one of code and qr_payload")
        return self


class ScanSync(_Body):
    entrance: Entrance
    scans: list[OfflineScan] = Field(min_length=1, max_length=MAX_SCANS_PER_SYNC)


class SyncedScan(_Body):
    scan_id: UUID
    answer: ScanAnswer
    conflict: bool = Field(
        description="The scanner admitted the holder offline but the ticket was already "
        "checked in elsewhere, voided or not a ticket of this event"
    )


class ScanSyncAnswer(_Body):
    results: list[SyncedScan]


class ScannerTicket(_Body):
    code: TicketCode
    ticket_type_name: Title
    holder_name: PersonName
    status: TicketStatus
    checked_in_at: AwareDatetime | None = None


class ScannerData(_Body):
    """What a scanner downloads to work offline."""

    event_id: UUID
    event_name: Title
    key_algorithm: Literal["Ed25519"] = KEY_ALGORITHM
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64url")
    generated_at: AwareDatetime
    tickets: list[ScannerTicket]


class TicketTypeProgress(_Body):
    ticket_type_id: UUID
    name: Title
    issued: int = Field(ge=0, description="Tickets that can be checked in or were")
    checked_in: int = Field(ge=0)
    voided: int = Field(ge=0)


class CheckInProgress(_Body):
    event_id: UUID
    event_name: Title
    issued: int = Field(ge=0)
    checked_in: int = Field(ge=0)
    ticket_types: list[TicketTypeProgress]


class DoorStaff(_Body):
    event_id: UUID
    user_ids: list[Identifier]
