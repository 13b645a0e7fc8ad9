"""`/internal/v1/dead-letters`: the operator's dead-letter commands over HTTP, for the gateway's
admin console. The same list and re-drive as `python -m <service> dead-letters`, admins only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field, model_validator

from service_kit.dead_letters import (
    DeadLetterEntry,
    SendToTopic,
    dead_letters_with_state,
    redrive_dead_letter,
    redrive_dead_letters,
)
from service_kit.errors import DependencyUnavailableError, ForbiddenError
from service_kit.http_errors import error_responses
from service_kit.internal_auth import InternalCaller
from service_kit.kafka.messages import OutboundMessage
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.messaging import KafkaHeaders
from service_kit.settings import KafkaSettings
from ticketing_contracts import topics

MAX_LISTED = 500
DEAD_LETTER_ID = r"^\d{1,9}@\d{1,19}$"


class DeadLetterOut(BaseModel):
    dead_letter: str = Field(
        description="partition@offset on the dead-letter topic: the id to re-drive it by",
        examples=["0@12"],
    )
    original: str = Field(description="topic[partition]@offset the message came from")
    consumer_group: str | None
    error: str
    key: str | None
    value: str = Field(description="The first 500 bytes of the message")
    redriven: bool = Field(description="Already sent back to its topic by a re-drive")


class DeadLettersOut(BaseModel):
    consumer_group: str
    topic: str
    pending: int = Field(description="Dead letters not yet re-driven")
    dead_letters: list[DeadLetterOut]


class RedriveRequest(BaseModel):
    limit: int | None = Field(
        default=None, ge=1, le=10_000, description="Most to re-drive, oldest first (all if unset)"
    )
    dead_letter: str | None = Field(
        default=None,
        pattern=DEAD_LETTER_ID,
        description="Re-drive only this dead letter (its `dead_letter` id from the list); "
        "not together with `limit`",
        examples=["0@12"],
    )

    @model_validator(mode="after")
    def _one_or_oldest(self) -> Self:
        if self.dead_letter is not None and self.limit is not None:
            raise ValueError("give either dead_letter or limit, not both")
        return self

    def target(self) -> tuple[int, int] | None:
        if self.dead_letter is None:
            return None
        partition, _, offset = self.dead_letter.partition("@")
        return int(partition), int(offset)


class RedriveOut(BaseModel):
    consumer_group: str
    redriven: list[DeadLetterOut]


def _admin(caller: Any) -> None:
    if not caller.is_admin:
        raise ForbiddenError("Only admins may see or re-drive dead letters")


def _sender(kafka: KafkaRuntime) -> SendToTopic:
    async def send(topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        await kafka.publish([OutboundMessage(topic, key, value, headers)])

    return send


def dead_letter_router(
    settings: KafkaSettings, consumer_group: str, runtime: Callable[[], KafkaRuntime | None]
) -> APIRouter:
    """`consumer_group` as the service joined it (`settings.group_id(...)`); `runtime` gives
    the service's running Kafka runtime, which publishes the re-driven messages unless
    DEAD_LETTER_KAFKA_USERNAME is set: then every client of these routes, the re-drive's
    producer included, logs in as that user instead (in Kubernetes the service's own user
    may neither read the dead-letter topic nor write the topics it consumes)."""
    router = APIRouter(prefix="/internal/v1/dead-letters", tags=["dead letters"])
    topic = settings.topic(topics.DEAD_LETTERS)
    kafka_settings = settings.dead_letter_kafka_settings()

    async def _redrive(send: SendToTopic, body: RedriveRequest) -> list[DeadLetterEntry]:
        target = body.target()
        if target is None:
            return await redrive_dead_letters(
                kafka_settings, topic, send, consumer_group=consumer_group, limit=body.limit
            )
        partition, offset = target
        entry = await redrive_dead_letter(
            kafka_settings,
            topic,
            send,
            consumer_group=consumer_group,
            partition=partition,
            offset=offset,
        )
        return [entry]

    @router.get(
        "",
        summary="This service's dead letters, oldest first (admins)",
        response_model=DeadLettersOut,
        responses=error_responses(403, 503),
    )
    async def list_letters(caller: InternalCaller) -> DeadLettersOut:
        _admin(caller)
        letters = [
            DeadLetterOut(**entry.describe(), redriven=redriven)
            for entry, redriven in await dead_letters_with_state(
                kafka_settings, topic, consumer_group
            )
        ]
        return DeadLettersOut(
            consumer_group=consumer_group,
            topic=topic,
            pending=sum(not letter.redriven for letter in letters),
            dead_letters=letters[-MAX_LISTED:],
        )

    @router.post(
        "/redrive",
        summary="Send dead letters back to their original topics, once each (admins)",
        description="The oldest pending ones (up to `limit`), or exactly the one named by "
        "`dead_letter`: 404 if this service has no such dead letter, 409 if it was already "
        "re-driven.",
        response_model=RedriveOut,
        responses=error_responses(403, 404, 409, 422, 503),
    )
    async def redrive(
        caller: InternalCaller, body: RedriveRequest = Body(default_factory=RedriveRequest)
    ) -> RedriveOut:
        _admin(caller)
        kafka = runtime()
        if kafka is None:
            raise DependencyUnavailableError(
                "This service runs without Kafka", retry_after_seconds=5
            )
        if settings.has_dead_letter_credentials:
            kafka = KafkaRuntime(kafka_settings)
            await kafka.start()
            try:
                entries = await _redrive(_sender(kafka), body)
            finally:
                await kafka.stop()
        else:
            entries = await _redrive(_sender(kafka), body)
        return RedriveOut(
            consumer_group=consumer_group,
            redriven=[DeadLetterOut(**entry.describe(), redriven=True) for entry in entries],
        )

    return router
