"""The provider's rules, free of I/O: what each test card does and which moves an intent allows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from payment_simulator.errors import (
    InvalidRequest,
    ProviderFailure,
    UnexpectedState,
)


class Status(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


@dataclass(frozen=True)
class Card:
    """What charging a test token does."""

    decline_code: str | None = None
    decline_message: str = ""
    answers_late: bool = False
    fails_at_provider: bool = False

    @property
    def approved(self) -> bool:
        return self.decline_code is None


TEST_CARDS: dict[str, Card] = {
    "tok_visa": Card(),
    "tok_mastercard": Card(),
    "tok_chargeDeclined": Card("generic_decline", "Your card was declined."),
    "tok_insufficientFunds": Card("insufficient_funds", "Your card has insufficient funds."),
    "tok_timeout": Card(answers_late=True),
    "tok_providerError": Card(fails_at_provider=True),
}


def card_for(token: str) -> Card:
    card = TEST_CARDS.get(token)
    if card is None:
        raise InvalidRequest(
            f"No such token: '{token}'; test tokens are {', '.join(TEST_CARDS)}",
            code="resource_missing",
            param="payment_method",
        )
    if card.fails_at_provider:
        raise ProviderFailure("The payment provider failed to process the request (simulated).")
    return card


def status_after_authorisation(card: Card, capture_method: str) -> Status:
    if not card.approved:
        return Status.REQUIRES_PAYMENT_METHOD
    return Status.SUCCEEDED if capture_method == "automatic" else Status.REQUIRES_CAPTURE


def amount_to_capture(status: Status, amount: int, requested: int | None) -> int | None:
    """The amount a capture takes, or None when the intent is already captured."""
    if status is Status.SUCCEEDED:
        return None
    if status is not Status.REQUIRES_CAPTURE:
        raise UnexpectedState(f"This PaymentIntent could not be captured: its status is {status}.")
    if requested is None:
        return amount
    if requested > amount:
        raise InvalidRequest(
            f"amount_to_capture ({requested}) is greater than the authorised amount ({amount}).",
            code="amount_too_large",
            param="amount_to_capture",
        )
    return requested


def can_cancel(status: Status) -> bool:
    """True when a cancel changes the intent; False when it is already canceled."""
    if status is Status.CANCELED:
        return False
    if status is Status.SUCCEEDED:
        raise UnexpectedState(
            "This PaymentIntent could not be canceled: it is already captured; refund it instead."
        )
    return True


def refund_amount(status: Status, received: int, refunded: int, requested: int | None) -> int:
    if status is not Status.SUCCEEDED:
        raise InvalidRequest(
            f"This PaymentIntent has not been captured (status {status}); cancel it instead.",
            code="payment_intent_unexpected_state",
            param="payment_intent",
        )
    remaining = received - refunded
    if remaining <= 0:
        raise InvalidRequest(
            "This PaymentIntent has already been refunded in full.",
            code="charge_already_refunded",
            param="payment_intent",
        )
    if requested is None:
        return remaining
    if requested > remaining:
        raise InvalidRequest(
            f"Refund amount ({requested}) is greater than the unrefunded amount ({remaining}).",
            code="amount_too_large",
            param="amount",
        )
    return requested
