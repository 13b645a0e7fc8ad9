"""Request and response bodies of the HTTP API (JSON, amounts in the currency's minor unit)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# ISO 4217 codes the simulator accepts (lower-case, as the API spells them).
CURRENCIES = frozenset((
    "aud", "brl", "cad", "chf", "cny", "czk", "dkk", "eur", "gbp", "hkd", "huf", "inr",
    "jpy", "krw", "mxn", "nok", "nzd", "pln", "ron", "sek", "sgd", "try", "usd", "zar",
))  # fmt: skip
MAX_AMOUNT = 99_999_999


def _known_currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError(f"unsupported currency {value!r}; use a lower-case ISO 4217 code")
    return value


def _metadata_fits(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 50:
        raise ValueError("at most 50 metadata keys")
    for key, item in value.items():
        if not 1 <= len(key) <= 40 or len(item) > 500:
            raise ValueError("metadata keys are 1-40 characters, values at most 500")
    return value


Amount = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT)]
Currency = Annotated[str, AfterValidator(_known_currency)]
Metadata = Annotated[dict[str, str], AfterValidator(_metadata_fits)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=255)]
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def fingerprint(self) -> str:
        """Equal for equal requests however their JSON was spelled."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class CreatePaymentIntent(Request):
    amount: Amount
    currency: Currency
    payment_method: str = Field(min_length=1, max_length=255, examples=["tok_visa"])
    capture_method: Literal["automatic", "manual"] = "automatic"
    metadata: Metadata = Field(default_factory=dict)
    description: str | None = Field(default=None, max_length=1000)


class CapturePaymentIntent(Request):
    amount_to_capture: Amount | None = None


class CreateRefund(Request):
    payment_intent: str = Field(min_length=1, max_length=255)
    amount: Amount | None = None
    reason: RefundReason | None = None
    metadata: Metadata = Field(default_factory=dict)


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(default=0, ge=0, le=120_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    down: bool = False


class Refund(BaseModel):
    id: str = Field(examples=["re_3f9a..."])
    object: Literal["refund"] = "refund"
    payment_intent: str
    amount: int
    currency: str
    status: Literal["succeeded"] = "succeeded"
    reason: RefundReason | None
    metadata: dict[str, str]
    idempotency_key: str | None
    created: int


class PaymentIntent(BaseModel):
    id: str = Field(examples=["pi_8c1d..."])
    object: Literal["payment_intent"] = "payment_intent"
    amount: int
    amount_received: int
    amount_refunded: int
    currency: str
    status: Literal["requires_payment_method", "requires_capture", "succeeded", "canceled"]
    capture_method: Literal["automatic", "manual"]
    payment_method: str
    idempotency_key: str
    metadata: dict[str, str]
    description: str | None
    created: int
    last_payment_error: dict[str, Any] | None
    refunds: list[Refund]


class PaymentIntentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PaymentIntent]
    has_more: bool = Field(
        default=False, description="More intents follow: ask again with starting_after"
    )


class Ledger(BaseModel):
    payment_intents: list[PaymentIntent]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["invalid_request_error"])
    message: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
