"""A consumed message continues its trace into what it causes (on faststream's in-memory
TestKafkaBroker)."""

from __future__ import annotations

from faststream.kafka import TestKafkaBroker
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service_kit.kafka.messages import OutboundMessage, PartitionBatch
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.tracing import configure_tracing, shutdown_tracing

from .order_subscriber import GROUP, TOPIC, Order, decode_order, from_the_start, publish, settings


async def test_a_consumed_message_continues_its_trace_into_what_it_publishes() -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("orders-service", exporter=exporter)
    try:
        runtime = KafkaRuntime(settings())
        outcome_topic = "orders.outcomes"
        runtime.publisher(outcome_topic, message_type=bytes, description="Outcomes")

        async def confirm(batch: PartitionBatch[Order]) -> None:
            await runtime.publish(
                [
                    OutboundMessage(outcome_topic, b"show-1", b"confirmed", message.trace_headers)
                    for message in batch.messages
                ]
            )

        runtime.subscriber(TOPIC, group=GROUP, decode=decode_order, offsets=from_the_start)(confirm)
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        async with TestKafkaBroker(runtime.broker) as broker:
            await publish(
                broker, b'{"number": 1}', traceparent=f"00-{trace_id}-00f067aa0ba902b7-01"
            )
    finally:
        shutdown_tracing()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    process, publish_outcome = spans[f"{TOPIC} process"], spans[f"{outcome_topic} publish"]
    assert f"{process.context.trace_id:032x}" == trace_id
    assert process.parent is not None
    assert f"{process.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert publish_outcome.context.trace_id == process.context.trace_id
    assert publish_outcome.parent is not None
    assert publish_outcome.parent.span_id == process.context.span_id
