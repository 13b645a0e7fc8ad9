from __future__ import annotations

import pytest

from payment_simulator import domain
from payment_simulator.domain import Status
from payment_simulator.errors import InvalidRequest, ProviderFailure, UnexpectedState


def test_test_cards_approve_decline_or_fail() -> None:
    assert domain.card_for("tok_visa").approved
    assert domain.card_for("tok_timeout").answers_late
    assert domain.card_for("tok_insufficientFunds").decline_code == "insufficient_funds"
    with pytest.raises(ProviderFailure):
        domain.card_for("tok_providerError")
    with pytest.raises(InvalidRequest, match="No such token"):
        domain.card_for("tok_amex")


def test_manual_capture_waits_and_a_decline_needs_another_method() -> None:
    visa, declined = domain.card_for("tok_visa"), domain.card_for("tok_chargeDeclined")
    assert domain.status_after_authorisation(visa, "manual") is Status.REQUIRES_CAPTURE
    assert domain.status_after_authorisation(visa, "automatic") is Status.SUCCEEDED
    assert domain.status_after_authorisation(declined, "manual") is Status.REQUIRES_PAYMENT_METHOD


def test_capture_takes_at_most_the_authorised_amount_once() -> None:
    assert domain.amount_to_capture(Status.REQUIRES_CAPTURE, 4200, None) == 4200
    assert domain.amount_to_capture(Status.REQUIRES_CAPTURE, 4200, 4000) == 4000
    assert domain.amount_to_capture(Status.SUCCEEDED, 4200, 4200) is None
    with pytest.raises(InvalidRequest):
        domain.amount_to_capture(Status.REQUIRES_CAPTURE, 4200, 4201)
    with pytest.raises(UnexpectedState):
        domain.amount_to_capture(Status.CANCELED, 4200, None)


def test_refunds_never_exceed_what_was_captured() -> None:
    assert domain.refund_amount(Status.SUCCEEDED, 4200, 1200, None) == 3000
    assert domain.refund_amount(Status.SUCCEEDED, 4200, 0, 4200) == 4200
    with pytest.raises(InvalidRequest, match="greater than"):
        domain.refund_amount(Status.SUCCEEDED, 4200, 1200, 3001)
    with pytest.raises(InvalidRequest, match="already been refunded"):
        domain.refund_amount(Status.SUCCEEDED, 4200, 4200, None)
    with pytest.raises(InvalidRequest, match="not been captured"):
        domain.refund_amount(Status.REQUIRES_CAPTURE, 0, 0, None)


def test_only_an_uncaptured_intent_can_be_cancelled() -> None:
    assert domain.can_cancel(Status.REQUIRES_CAPTURE)
    assert not domain.can_cancel(Status.CANCELED)
    with pytest.raises(UnexpectedState):
        domain.can_cancel(Status.SUCCEEDED)
