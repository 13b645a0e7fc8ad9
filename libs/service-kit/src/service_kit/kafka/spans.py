"""Traces through Kafka: a CONSUMER span for every message handled and a PRODUCER span for
every message published, each continuing the trace its headers carry (W3C `traceparent`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TypeVar

from opentelemetry.trace import SpanKind, set_span_in_context

from service_kit.kafka.messages import ConsumedMessage, OutboundMessage
from service_kit.tracing import context_from_headers, current_tracer_provider, inject_trace_headers

BodyT = TypeVar("BodyT")


@contextmanager
def consumer_spans(
    messages: Sequence[ConsumedMessage[BodyT]],
) -> Iterator[Sequence[ConsumedMessage[BodyT]]]:
    """One CONSUMER span per message, a child of the trace its headers carry, open while
    the batch is handled; each message then carries its span's `traceparent`."""
    provider = current_tracer_provider()
    if provider is None or not messages:
        yield messages
        return
    tracer = provider.get_tracer(__name__)
    spans = [
        tracer.start_span(
            f"{message.topic} process",
            context=context_from_headers(message.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": message.topic,
                "messaging.destination.partition.id": str(message.partition),
                "messaging.kafka.offset": message.offset,
            },
        )
        for message in messages
    ]
    try:
        yield [
            replace(message, trace_headers=inject_trace_headers([], set_span_in_context(span)))
            for message, span in zip(messages, spans, strict=True)
        ]
    finally:
        for span in spans:
            span.end()


def messages_with_publish_spans(messages: Sequence[OutboundMessage]) -> list[OutboundMessage]:
    """A PRODUCER span per message under the trace its headers carry (the request or the
    message that caused it); the message leaves with that span as its parent."""
    provider = current_tracer_provider()
    if provider is None:
        return list(messages)
    tracer = provider.get_tracer(__name__)
    published = []
    for message in messages:
        span = tracer.start_span(
            f"{message.topic} publish",
            context=context_from_headers(message.headers),
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": message.topic},
        )
        headers = inject_trace_headers(list(message.headers), set_span_in_context(span))
        published.append(replace(message, headers=headers))
        span.end()
    return published
