"""What the door says about a ticket, from the ticket as stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ticketing_contracts.tickets import ScanAnswer, ScanResult, TicketStatus, VoidReason

NOT_A_TICKET = ScanAnswer(result="not_a_ticket")
WRONG_EVENT = ScanAnswer(result="wrong_event")


@dataclass(frozen=True)
class TicketAtDoor:
    """A ticket as the door sees it; `retired` when the scanned code was replaced by a
    re-issue (the ticket's current state then does not matter)."""

    ticket_id: UUID
    event_id: UUID
    holder_name: str
    ticket_type_name: str
    status: TicketStatus
    checked_in_at: datetime | None
    entrance: str | None
    voided_reason: VoidReason | None
    retired: bool = False

    @property
    def admissible(self) -> bool:
        return not self.retired and self.status == "valid"


def refusal(ticket: TicketAtDoor) -> ScanAnswer:
    """The answer for a ticket that is not admitted: voided (an old code of a re-issued
    ticket too), or checked in already (when and where, the first time)."""
    if ticket.retired:
        return _answer(ticket, "voided", voided_reason="reissued")
    if ticket.status == "voided":
        return _answer(ticket, "voided", voided_reason=ticket.voided_reason)
    if ticket.status == "checked_in":
        return _answer(
            ticket,
            "already_checked_in",
            checked_in_at=ticket.checked_in_at,
            entrance=ticket.entrance,
        )
    raise ValueError(f"ticket {ticket.ticket_id} is valid: it is admitted, not refused")


def admitted(ticket: TicketAtDoor, at: datetime, entrance: str) -> ScanAnswer:
    return _answer(ticket, "admitted", checked_in_at=at, entrance=entrance)


def is_conflict(admitted_offline: bool, answer: ScanAnswer) -> bool:
    """The scanner let someone in whom the server would not have admitted."""
    return admitted_offline and answer.result != "admitted"


def _answer(
    ticket: TicketAtDoor,
    result: ScanResult,
    *,
    checked_in_at: datetime | None = None,
    entrance: str | None = None,
    voided_reason: VoidReason | None = None,
) -> ScanAnswer:
    return ScanAnswer(
        result=result,
        ticket_id=ticket.ticket_id,
        holder_name=ticket.holder_name,
        ticket_type_name=ticket.ticket_type_name,
        checked_in_at=checked_in_at,
        entrance=entrance,
        voided_reason=voided_reason,
    )
