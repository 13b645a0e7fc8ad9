"""Kafka plumbing every service shares: headers, ids and dead-letter headers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from service_kit.request_context import accept_id, correlation_id_var, new_id, request_id_var
from ticketing_contracts import headers as ce
from ticketing_contracts.envelope import EventEnvelope

KafkaHeaders = list[tuple[str, bytes]]


def envelope_headers(envelope: EventEnvelope) -> KafkaHeaders:
    return [(name, value.encode()) for name, value in ce.headers_for(envelope).items()]


def header_map(headers: Iterable[tuple[str, bytes]] | Mapping[str, Any] | None) -> dict[str, str]:
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for name, value in items
    }


@contextmanager
def message_context(headers: Mapping[str, str]) -> Iterator[str]:
    """Makes the correlation id of a consumed message current for logs and new events."""
    # Headers come from anyone who can publish: only a safe id shape reaches logs and events.
    correlation_id = accept_id(headers.get(ce.CORRELATION_ID)) or new_id()
    request_token = request_id_var.set(accept_id(headers.get(ce.CE_ID)) or new_id())
    correlation_token = correlation_id_var.set(correlation_id)
    try:
        yield correlation_id
    finally:
        request_id_var.reset(request_token)
        correlation_id_var.reset(correlation_token)


def dead_letter_headers(
    original: Sequence[tuple[str, bytes]] | None,
    *,
    error: BaseException | str,
    topic: str,
    partition: int,
    offset: int,
    consumer_group: str | None = None,
) -> KafkaHeaders:
    """The original headers plus where the message came from and why it failed."""
    reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    headers = [
        *(original or []),
        (ce.DEAD_LETTER_ERROR, reason[:2000].encode()),
        (ce.DEAD_LETTER_ORIGINAL_TOPIC, topic.encode()),
        (ce.DEAD_LETTER_ORIGINAL_PARTITION, str(partition).encode()),
        (ce.DEAD_LETTER_ORIGINAL_OFFSET, str(offset).encode()),
    ]
    if consumer_group is not None:
        # Re-drive tools send a dead letter back only to the group that gave up on it.
        headers.append((ce.DEAD_LETTER_CONSUMER_GROUP, consumer_group.encode()))
    return headers
