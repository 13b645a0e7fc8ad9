"""HTTP routes: the provider API (/v1) and the simulator's control API (/_sim)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from payment_simulator import domain
from payment_simulator.domain import Status
from payment_simulator.errors import AuthenticationFailed, CardDeclined, ProviderError
from payment_simulator.faults import FaultInjector
from payment_simulator.ledger import PaymentLedger
from payment_simulator.schemas import (
    CapturePaymentIntent,
    CreatePaymentIntent,
    CreateRefund,
    ErrorResponse,
    Faults,
    IdempotencyKey,
    Ledger,
    PaymentIntent,
    PaymentIntentList,
    Refund,
)
from payment_simulator.settings import PaymentSimulatorSettings


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


OptionalIdempotencyKey = Annotated[
    IdempotencyKey | None,
    Header(alias="Idempotency-Key", description="Retries with the same key are answered once"),
]
_bearer = HTTPBearer(auto_error=False, description="The provider's secret key")


def bearer_key_check(settings: PaymentSimulatorSettings) -> Any:
    expected = settings.secret_key.get_secret_value().encode()

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None:
            raise AuthenticationFailed(
                "No API key provided: send `Authorization: Bearer <secret key>`."
            )
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise AuthenticationFailed("Invalid API key provided.")

    return check


def provider_router(
    ledger: PaymentLedger, settings: PaymentSimulatorSettings, authenticated: Any
) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["provider API"],
        dependencies=[Depends(authenticated)],
        responses=_errors(400, 401, 500, 503),
    )

    @router.post(
        "/payment_intents",
        response_model=PaymentIntent,
        summary="Authorise (and with capture_method=automatic, capture) a payment",
        responses=_errors(402, 409),
    )
    async def create_payment_intent(
        body: CreatePaymentIntent,
        idempotency_key: Annotated[
            IdempotencyKey,
            Header(alias="Idempotency-Key", description="Required; at most 255 characters"),
        ],
    ) -> PaymentIntent:
        card = domain.card_for(body.payment_method)
        created = await ledger.create_intent(body, card, idempotency_key)
        intent = created.intent
        if created.new and card.answers_late:
            # Stored and authorised already: the caller times out not knowing that.
            await asyncio.sleep(settings.timeout_delay_seconds)
        error = intent.last_payment_error
        if intent.status == Status.REQUIRES_PAYMENT_METHOD.value and error is not None:
            raise CardDeclined(
                error["message"],
                code=error["code"],
                decline_code=error["decline_code"],
                payment_intent=intent.model_dump(mode="json"),
            )
        return intent

    @router.get(
        "/payment_intents",
        response_model=PaymentIntentList,
        summary="Find the intent an idempotency key created, or page through every intent",
        description=(
            "Newest first, `limit` at a time; `starting_after` (an intent id) gives the page "
            "after it and `has_more` says whether another follows: the ledger export a "
            "reconciliation reads. 404 when `starting_after` names no intent."
        ),
        responses=_errors(404),
    )
    async def list_payment_intents(
        idempotency_key: Annotated[IdempotencyKey | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        starting_after: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    ) -> PaymentIntentList:
        found = await ledger.intents(
            idempotency_key=idempotency_key, limit=limit + 1, starting_after=starting_after
        )
        return PaymentIntentList(data=found[:limit], has_more=len(found) > limit)

    @router.get(
        "/payment_intents/{intent_id}", response_model=PaymentIntent, responses=_errors(404)
    )
    async def get_payment_intent(intent_id: str) -> PaymentIntent:
        return await ledger.intent(intent_id)

    @router.post(
        "/payment_intents/{intent_id}/capture",
        response_model=PaymentIntent,
        summary="Capture an authorised intent (again: the same answer, nothing charged twice)",
        responses=_errors(404, 409),
    )
    async def capture_payment_intent(
        intent_id: str,
        idempotency_key: OptionalIdempotencyKey = None,
        body: CapturePaymentIntent | None = None,
    ) -> PaymentIntent:
        # A capture is idempotent by itself, so its key needs no bookkeeping.
        return await ledger.capture(intent_id, body or CapturePaymentIntent())

    @router.post(
        "/payment_intents/{intent_id}/cancel",
        response_model=PaymentIntent,
        summary="Release an authorisation",
        responses=_errors(404, 409),
    )
    async def cancel_payment_intent(
        intent_id: str, idempotency_key: OptionalIdempotencyKey = None
    ) -> PaymentIntent:
        return await ledger.cancel(intent_id)

    @router.post(
        "/refunds",
        response_model=Refund,
        summary="Refund (part of) a captured intent",
        responses=_errors(409),
    )
    async def create_refund(
        body: CreateRefund, idempotency_key: OptionalIdempotencyKey = None
    ) -> Refund:
        return await ledger.refund(body, idempotency_key)

    return router


def control_router(ledger: PaymentLedger, faults: FaultInjector, authenticated: Any) -> APIRouter:
    router = APIRouter(
        prefix="/_sim",
        tags=["simulator control (not part of a real provider)"],
        dependencies=[Depends(authenticated)],
        responses=_errors(400, 401),
    )

    @router.get("/faults", response_model=Faults)
    async def get_faults() -> Faults:
        return faults.faults

    @router.put("/faults", response_model=Faults, summary="Inject faults into every /v1 call")
    async def put_faults(body: Faults) -> Faults:
        return faults.set(body)

    @router.delete("/faults", response_model=Faults, summary="Answer normally again")
    async def delete_faults() -> Faults:
        return faults.reset()

    @router.get(
        "/ledger",
        response_model=Ledger,
        summary="Every intent with its captures and refunds, for invariant checks",
    )
    async def get_ledger(
        booking_id: Annotated[str | None, Query(alias="metadata.booking_id")] = None,
    ) -> Ledger:
        return Ledger(payment_intents=await ledger.intents(booking_id=booking_id))

    return router


async def _provider_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProviderError)
    return JSONResponse(error.body(), status_code=error.status_code)


async def _invalid_request(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    first = problems[0] if problems else {}
    location = [str(part) for part in first.get("loc", ())]
    param = ".".join(location[1:]) or None
    message = "; ".join(
        f"{'.'.join(str(part) for part in problem.get('loc', ())[1:]) or 'body'}: "
        f"{problem.get('msg', 'invalid')}"
        for problem in problems
    )
    body = ProviderError(message or "Invalid request", param=param).body()
    return JSONResponse(body, status_code=400)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    body = ProviderError(str(error.detail)).body()
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


def install_provider_errors(app: FastAPI) -> None:
    """Errors answer in the provider's shape (replacing the service kit's handlers)."""
    app.add_exception_handler(ProviderError, _provider_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
