"""Base of every public event payload and the registry that decodes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from ticketing_contracts.envelope import EventEnvelope


class ContractError(Exception):
    """A message that can never be processed: it goes to the dead-letter topic."""


class UndecodableMessage(ContractError):
    pass


class UnknownEventType(ContractError):
    pass


class ContractViolation(ContractError):
    pass


class PublicEvent(BaseModel):
    """Payload of a published event. `TYPE` and `VERSION` identify its schema.

    Only a type's newest version is a class. A payload of an older version is upcast on
    decoding by the class's static `upcast_v<n>_v<n+1>(data)` methods (eventsourcing's
    convention for stored events), each changing the payload dict in place, so consumers
    see one shape whatever a record's age.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]
    TOPIC: ClassVar[str]

    def partition_key(self) -> str:
        """Messages about one show share a key so they share a partition, in order."""
        event_id = getattr(self, "event_id", None)
        return str(event_id if event_id is not None else self.subject())

    def subject(self) -> str:
        raise NotImplementedError

    def to_envelope(
        self,
        *,
        correlation_id: str,
        producer: str,
        causation_id: str | None = None,
        event_id: UUID | None = None,
        occurred_at: datetime | None = None,
        position: int | None = None,
        aggregate_version: int | None = None,
    ) -> EventEnvelope:
        fields: dict[str, Any] = {
            "type": self.TYPE,
            "version": self.VERSION,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "producer": producer,
            "subject": self.subject(),
            "position": position,
            "aggregate_version": aggregate_version,
            "data": self.model_dump(mode="json"),
        }
        if event_id is not None:
            fields["event_id"] = event_id
        if occurred_at is not None:
            fields["occurred_at"] = occurred_at
        return EventEnvelope.model_validate(fields)


_REGISTRY: dict[str, type[PublicEvent]] = {}


EventT = TypeVar("EventT", bound=type[PublicEvent])


def _upcaster(event_class: type[PublicEvent], version: int) -> Callable[[dict[str, Any]], None]:
    upcast: Callable[[dict[str, Any]], None] = getattr(
        event_class, f"upcast_v{version}_v{version + 1}"
    )
    return upcast


def register(event_class: EventT) -> EventT:
    """Registers a type's newest version, which must be able to upcast every older one."""
    if event_class.TYPE in _REGISTRY:
        raise ValueError(f"{event_class.TYPE!r} is registered twice")
    for version in range(1, event_class.VERSION):
        if not hasattr(event_class, f"upcast_v{version}_v{version + 1}"):
            raise TypeError(f"{event_class.__name__} cannot upcast version {version}")
    _REGISTRY[event_class.TYPE] = event_class
    return event_class


def registered_events() -> list[type[PublicEvent]]:
    return list(_REGISTRY.values())


def _escape_unprintable(text: str) -> str:
    # The reason travels in dead-letter headers and tables, which must not receive NUL bytes.
    return "".join(
        character if character.isprintable() else repr(character)[1:-1] for character in text
    )


def _field_path(prefix: str, location: tuple[int | str, ...]) -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(part) for part in location)
    return ".".join(parts) or "message"


def _describe(error: ValidationError, *, prefix: str = "") -> str:
    """Names each wrong field and why, without echoing the offending input."""
    problems = [
        f"{_field_path(prefix, detail['loc'])}: {detail['msg']}"
        for detail in error.errors(include_url=False, include_input=False)
    ]
    return _escape_unprintable("; ".join(problems))


def _is_malformed(error: ValidationError) -> bool:
    return any(detail["type"] == "json_invalid" or not detail["loc"] for detail in error.errors())


def decode_envelope(raw: bytes | str) -> EventEnvelope:
    """Not JSON or not an object is undecodable; a bad envelope field is a contract violation."""
    try:
        return EventEnvelope.model_validate_json(raw)
    except ValidationError as error:
        if _is_malformed(error):
            raise UndecodableMessage(f"not a valid event envelope: {_describe(error)}") from error
        raise ContractViolation(f"event envelope: {_describe(error)}") from error


def decode_event(envelope: EventEnvelope) -> PublicEvent:
    """The payload as its type's newest version (an older one is upcast first)."""
    event_class = _REGISTRY.get(envelope.type)
    if event_class is None or not 1 <= envelope.version <= event_class.VERSION:
        raise UnknownEventType(f"unknown event {envelope.type!r} version {envelope.version}")
    data = envelope.data
    if envelope.version < event_class.VERSION:
        data = dict(data)
        for version in range(envelope.version, event_class.VERSION):
            _upcaster(event_class, version)(data)
    try:
        return event_class.model_validate(data)
    except ValidationError as error:
        raise ContractViolation(
            f"{envelope.type} v{envelope.version}: {_describe(error, prefix='data')}"
        ) from error


def decode_message(raw: bytes | str) -> tuple[EventEnvelope, PublicEvent]:
    envelope = decode_envelope(raw)
    return envelope, decode_event(envelope)


def encode_envelope(envelope: EventEnvelope) -> bytes:
    return envelope.model_dump_json().encode()
