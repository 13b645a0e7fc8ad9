"""The waitlist's routes: fans join, see, leave and decline (the gateway forwards them with
the fan's credential: the fan is always the caller, never a field of the body), organisers
see each ticket type's waitlist in figures, and booking-command asks before a ticket type's
quantity goes down or the type is removed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Final, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse

from inventory.adapters.postgres_repository import InventoryQueries
from inventory.application.ticket_type_changes import AnswerTicketTypeChange, UnknownTicketType
from inventory.application.waitlist import Waitlist
from inventory.domain.ledger import EntryNotFound, NoOpenOffer
from inventory.domain.sale import PurchaseLimitReached, SaleWindow
from inventory.domain.waitlist import (
    JoinRefusal,
    JoinRefused,
    JoinRequest,
    TicketTypeChange,
    TicketTypeChangeAnswer,
    WaitlistEntry,
)
from inventory.entrypoints.subscribers import is_transient
from service_kit.circuit_breakers import CircuitBreaker
from service_kit.errors import (
    ConflictError,
    DependencyUnavailableError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
)
from service_kit.http_errors import error_responses
from service_kit.internal_auth import Caller, InternalCaller, VerifiedCaller
from ticketing_contracts import waitlist as contract
from ticketing_contracts.internal_http import BOOKING_COMMAND

TAG: Final = "waitlist"
TAG_DESCRIPTION: Final = (
    "A sold-out ticket type's waitlist. Tickets that come back (cancellations, expired "
    "holds, declined payments, a raised quantity) go to it before general sale while it "
    "has open entries: an offer step (every WAITLIST_OFFER_STEP_SECONDS in each replica, "
    "and right after a fan leaves or declines) offers the free tickets to the first waiting "
    "entry once they cover its whole quantity, held for it until `expires_at` (the event's "
    "`waitlist_offer_minutes`, else WAITLIST_OFFER_SECONDS). Booking with the `offer_id` "
    "takes them up; an offer that expires or is declined passes them to the next entry. "
    "Offers are published as inventory.waitlist_offer_made and "
    "inventory.waitlist_offer_ended."
)

_T = TypeVar("_T")


async def fan(caller: InternalCaller) -> str:
    """The account the gateway calls for: the fan is the caller, never a field."""
    if caller.id is None or caller.role == "service":
        raise UnauthorizedError("log in to use the waitlist")
    return caller.id


async def organiser(caller: InternalCaller) -> Caller:
    if caller.role not in ("admin", "manager"):
        raise ForbiddenError("only managers and admins see an event's waitlist")
    return caller


async def booking_command(caller: VerifiedCaller) -> Caller:
    if not caller.is_service(BOOKING_COMMAND):
        raise ForbiddenError("only booking-command's own token may change a ticket type")
    return caller


Fan = Annotated[str, Depends(fan)]
Organiser = Annotated[Caller, Depends(organiser)]


def waitlist_routers(
    waitlist: Callable[[], Waitlist],
    answer_change: Callable[[], AnswerTicketTypeChange],
    queries: Callable[[], InventoryQueries],
    postgres_breaker: CircuitBreaker,
    *,
    after_commit: Callable[[], None] = lambda: None,
) -> tuple[APIRouter, APIRouter]:
    """(routes for people through the gateway, booking-command's route)."""
    router = APIRouter(prefix="/internal/v1", tags=[TAG])
    service_router = APIRouter(prefix="/internal/v1", tags=[TAG])

    async def decided(call: Awaitable[_T]) -> _T:
        try:
            with postgres_breaker.calling():
                result = await call
        except Exception as error:
            if is_transient(error):
                raise DependencyUnavailableError(
                    f"not decided, retry: {type(error).__name__}", retry_after_seconds=1
                ) from error
            raise
        after_commit()
        return result

    @router.post(
        "/events/{event_id}/ticket-types/{ticket_type_id}/waitlist",
        response_model=contract.WaitlistEntry,
        status_code=status.HTTP_201_CREATED,
        summary="Join a sold-out ticket type's waitlist (201), or see the open entry (200)",
        description=(
            "Only while general sale gets none of the ticket type (sold out, or others "
            "waiting): 409 `not_sold_out` otherwise. One open entry per account and ticket "
            "type: joining again answers it (200). The quantity counts against the purchase "
            "limits with the account's held and bought tickets: 409 `purchase_limit_reached` "
            "with `limit_scope`, `max_tickets_per_account`, `tickets_held_or_bought`. 409 "
            "`event_not_on_sale`, `event_cancelled`, `not_on_sale` (with the window), "
            "`sales_closed`; 404 `unknown_event`, `unknown_ticket_type`."
        ),
        responses={
            200: {"description": "The account's open entry"},
            **error_responses(401, 403, 404, 409, 422, 503),
        },
    )
    async def join(
        event_id: UUID,
        ticket_type_id: UUID,
        body: contract.JoinWaitlist,
        owner_id: Fan,
        response: Response,
    ) -> contract.WaitlistEntry:
        request = JoinRequest(
            event_id,
            ticket_type_id,
            owner_id,
            body.quantity,
            body.customer_name,
            str(body.customer_email),
        )
        joined = await decided(waitlist().join(request))
        if isinstance(joined, JoinRefused):
            raise _join_refused(joined)
        if not joined.new:
            response.status_code = status.HTTP_200_OK
        return _entry(joined.entry, joined.position)

    @router.get(
        "/waitlist/entries",
        response_model=contract.WaitlistEntries,
        summary="The caller's waitlist entries, newest first, with their places and offers",
        responses=error_responses(401, 403, 503),
    )
    async def entries(owner_id: Fan) -> contract.WaitlistEntries:
        found = await queries().entries_of(owner_id)
        return contract.WaitlistEntries(
            entries=[_entry(entry, position) for entry, position in found]
        )

    @router.delete(
        "/waitlist/entries/{entry_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Leave the waitlist (an open offer ends `left`, its tickets pass on)",
        description="204 also for an entry that already ended; 404 for someone else's.",
        responses=error_responses(401, 403, 404, 422, 503),
    )
    async def leave(entry_id: UUID, owner_id: Fan) -> Response:
        try:
            await decided(waitlist().leave(entry_id, owner_id))
        except EntryNotFound as missing:
            raise _entry_not_found(entry_id) from missing
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/waitlist/entries/{entry_id}/decline",
        response_model=contract.WaitlistEntry,
        summary="Decline the entry's open offer: its tickets pass to the next fan",
        description="409 `no_open_offer` when the entry has none; 404 for someone else's.",
        responses=error_responses(401, 403, 404, 409, 422, 503),
    )
    async def decline(entry_id: UUID, owner_id: Fan) -> contract.WaitlistEntry:
        try:
            entry = await decided(waitlist().decline(entry_id, owner_id))
        except EntryNotFound as missing:
            raise _entry_not_found(entry_id) from missing
        except NoOpenOffer as none:
            raise ConflictError(
                f"Waitlist entry {entry_id} has no open offer", error_type="no_open_offer"
            ) from none
        return _entry(entry, None)

    @router.get(
        "/events/{event_id}/waitlist",
        response_model=contract.EventWaitlist,
        summary="An event's waitlists in figures per ticket type (managers and admins)",
        responses=error_responses(401, 403, 404, 422, 503),
    )
    async def event_waitlist(event_id: UUID, _: Organiser) -> contract.EventWaitlist:
        figures = await queries().event_waitlist(event_id)
        if figures is None:
            raise NotFoundError(
                f"Event {event_id} is not known to inventory", error_type="unknown_event"
            )
        return contract.EventWaitlist(
            event_id=event_id,
            ticket_types=[
                contract.TicketTypeWaitlist(
                    ticket_type_id=f.ticket_type_id,
                    waiting=f.waiting,
                    tickets_wanted=f.tickets_wanted,
                    offers_open=f.offers_open,
                    tickets_offered=f.tickets_offered,
                    accepted=f.accepted,
                    expired_or_declined=f.expired_or_declined,
                )
                for f in figures
            ],
        )

    @service_router.post(
        "/ticket-type-changes",
        response_model=contract.TicketTypeChangeAnswer,
        summary="May a ticket type's quantity go down, or the type go? (booking-command)",
        description=(
            "Asked by booking-command before it stores a lower quantity or a removal. "
            "200 `applied`: a lower quantity is in force at once (no hold or offer takes "
            "the tickets meanwhile); a removal ended the type's open waitlist entries. 409 "
            "refused, in the kit's error shape with the answer beside it (`outcome`, "
            "`reason`, `taken`: quantity, sold, held, offered): `quantity_below_taken` "
            "when the new quantity is below sold + held + offered, `ticket_type_in_use` "
            "when anything of the type is sold, held or offered. 404 `unknown_ticket_type` "
            "(not read from the catalog yet, or removed). A quantity not below the current "
            "one changes nothing here (a raise is applied from the catalog fact). Only "
            "booking-command's own token: 403 for anyone else's."
        ),
        responses=error_responses(401, 403, 404, 409, 422, 503),
    )
    async def ticket_type_change(
        question: contract.TicketTypeChangeQuestion,
        _: Annotated[Caller, Depends(booking_command)],
    ) -> contract.TicketTypeChangeAnswer | JSONResponse:
        change = TicketTypeChange(
            question.event_id, question.ticket_type_id, question.quantity, question.remove
        )
        try:
            answer = await decided(answer_change()(change))
        except UnknownTicketType as unknown:
            raise NotFoundError(
                f"Ticket type {question.ticket_type_id} of event {question.event_id} is not "
                "known to inventory",
                error_type="unknown_ticket_type",
            ) from unknown
        body = _change_answer(question.ticket_type_id, answer)
        if answer.is_applied:
            return body
        taken = answer.taken
        return JSONResponse(
            status_code=status.HTTP_409_CONFLICT,
            content={
                "detail": (
                    f"{taken.sold} sold, {taken.held} held and {taken.offered} offered: "
                    + (
                        f"the quantity cannot go below {taken.sold + taken.held + taken.offered}"
                        if answer.reason == "quantity_below_taken"
                        else "the ticket type is in use and cannot be removed"
                    )
                ),
                "error_type": answer.reason,
                **body.model_dump(mode="json"),
            },
        )

    return router, service_router


def _entry(entry: WaitlistEntry, position: int | None) -> contract.WaitlistEntry:
    offer = None
    if entry.has_open_offer and entry.offer_id and entry.offer_expires_at:
        offer = contract.WaitlistOffer(
            offer_id=entry.offer_id, quantity=entry.quantity, expires_at=entry.offer_expires_at
        )
    return contract.WaitlistEntry(
        entry_id=entry.entry_id,
        event_id=entry.event_id,
        ticket_type_id=entry.ticket_type_id,
        quantity=entry.quantity,
        state=entry.state.value,
        position=position,
        joined_at=entry.joined_at,
        offer=offer,
    )


def _entry_not_found(entry_id: UUID) -> NotFoundError:
    return NotFoundError(
        f"Waitlist entry {entry_id} is not one of yours", error_type="waitlist_entry_not_found"
    )


_JOIN_REFUSALS: Final = {
    JoinRefusal.NOT_SOLD_OUT: "the ticket type is not sold out: book it instead",
    JoinRefusal.EVENT_NOT_ON_SALE: "the event is not on sale",
    JoinRefusal.EVENT_CANCELLED: "the event is cancelled",
    JoinRefusal.NOT_ON_SALE: "the ticket type is not on sale now",
    JoinRefusal.SALES_CLOSED: "the ticket type's sales are closed",
    JoinRefusal.PURCHASE_LIMIT_REACHED: "the quantity would pass the purchase limit",
}


def _join_refused(refused: JoinRefused) -> NotFoundError | ConflictError:
    reason = refused.reason
    if reason is JoinRefusal.UNKNOWN_EVENT:
        return NotFoundError("The event is not known to inventory", error_type=reason.value)
    if reason is JoinRefusal.UNKNOWN_TICKET_TYPE:
        return NotFoundError("The ticket type is not known", error_type=reason.value)
    extra: dict[str, object] = {}
    detail = refused.detail
    if isinstance(detail, SaleWindow):
        extra = {
            "sale_starts_at": detail.starts_at.isoformat() if detail.starts_at else None,
            "sale_ends_at": detail.ends_at.isoformat() if detail.ends_at else None,
        }
    elif isinstance(detail, PurchaseLimitReached):
        extra = {
            "limit_scope": detail.scope.value,
            "max_tickets_per_account": detail.max_tickets_per_account,
            "tickets_held_or_bought": detail.tickets_held_or_bought,
        }
    return ConflictError(
        f"Cannot join the waitlist: {_JOIN_REFUSALS[reason]}",
        error_type=reason.value,
        extra=extra,
    )


def _change_answer(
    ticket_type_id: UUID, answer: TicketTypeChangeAnswer
) -> contract.TicketTypeChangeAnswer:
    taken = answer.taken
    return contract.TicketTypeChangeAnswer(
        outcome="applied" if answer.is_applied else "refused",
        reason=answer.reason,
        taken=contract.TicketTypeTaken(
            ticket_type_id=ticket_type_id,
            quantity=taken.quantity,
            sold=taken.sold,
            held=taken.held,
            offered=taken.offered,
        ),
    )
