"""Inventory's calls as booking-command sees them, in memory: each ticket type has a number
of tickets; a booking id is decided once and answered the same way after that; a ticket type
change is refused while more tickets are taken (`taken`) than the new quantity allows, or,
for a removal, while any are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from booking_command.application.ports import HoldAnswer, InventoryUnavailable, TicketsToHold
from ticketing_contracts.waitlist import (
    TicketTypeChangeAnswer,
    TicketTypeChangeQuestion,
    TicketTypeTaken,
)


class FakeInventory:
    def __init__(self, tickets_per_type: int = 1_000_000) -> None:
        self.tickets_per_type = tickets_per_type
        self.held: dict[UUID, int] = {}  # ticket type id -> tickets held
        self.answers: dict[UUID, HoldAnswer] = {}
        self.calls: list[list[TicketsToHold]] = []
        self.unavailable = False
        self.answers_lost = False  # decides, then the answer never arrives
        # Refuses every new booking with this reason and what it says (inventory remembers
        # neither not_on_sale nor purchase_limit_reached: nor does this).
        self.refusal: tuple[str, dict[str, Any]] | None = None
        self.questions: list[TicketTypeChangeQuestion] = []
        # Tickets sold, held and offered per ticket type id, beside those held here.
        self.taken: dict[UUID, tuple[int, int, int]] = {}

    async def hold(self, requests: Sequence[TicketsToHold]) -> list[HoldAnswer]:
        if self.unavailable:
            raise InventoryUnavailable("inventory is down", retry_after_seconds=7)
        self.calls.append(list(requests))
        answers = [self._decide(request) for request in requests]
        if self.answers_lost:
            raise InventoryUnavailable("inventory's answer timed out")
        return answers

    def _decide(self, request: TicketsToHold) -> HoldAnswer:
        known = self.answers.get(request.booking_id)
        if known is not None:
            return known
        if self.refusal is not None:
            reason, details = self.refusal
            return HoldAnswer(
                request.booking_id, held=False, refusal=reason, refusal_details=details
            )
        held = self.held.get(request.ticket_type_id, 0)
        left = self.tickets_per_type - held
        if left <= 0:
            answer = HoldAnswer(request.booking_id, held=False, refusal="sold_out")
        elif left < request.quantity:
            answer = HoldAnswer(request.booking_id, held=False, refusal="not_enough_tickets")
        else:
            self.held[request.ticket_type_id] = held + request.quantity
            answer = HoldAnswer(request.booking_id, held=True)
        self.answers[request.booking_id] = answer
        return answer

    async def change_ticket_type(
        self, question: TicketTypeChangeQuestion
    ) -> TicketTypeChangeAnswer:
        if self.unavailable:
            raise InventoryUnavailable("inventory is down", retry_after_seconds=7)
        self.questions.append(question)
        sold, held, offered = self.taken.get(question.ticket_type_id, (0, 0, 0))
        held += self.held.get(question.ticket_type_id, 0)
        taken = TicketTypeTaken(
            ticket_type_id=question.ticket_type_id,
            quantity=self.tickets_per_type,
            sold=sold,
            held=held,
            offered=offered,
        )
        if question.remove and sold + held + offered > 0:
            return TicketTypeChangeAnswer(
                outcome="refused", reason="ticket_type_in_use", taken=taken
            )
        if question.quantity is not None and question.quantity < sold + held + offered:
            return TicketTypeChangeAnswer(
                outcome="refused", reason="quantity_below_taken", taken=taken
            )
        if question.quantity is not None:
            self.tickets_per_type = question.quantity
        return TicketTypeChangeAnswer(outcome="applied", taken=taken)

    async def aclose(self) -> None:
        pass
