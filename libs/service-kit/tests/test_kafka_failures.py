"""Messages that can never be processed go to the dead-letter topic and the partition moves
on (on faststream's in-memory TestKafkaBroker)."""

from __future__ import annotations

from faststream.kafka import TestKafkaBroker

from service_kit.kafka.failures import dead_letter_reason
from ticketing_contracts import headers as ce
from ticketing_contracts.events import (
    ContractViolation,
    UndecodableMessage,
    UnknownEventType,
)

from .order_subscriber import TOPIC, Recorder, publish, runtime_with


async def test_dead_letters_a_contract_violation_and_still_records_its_offset() -> None:
    recorder = Recorder()
    runtime, dead_letters = runtime_with(recorder)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": "seven"}', correlation_id="req-1")
    assert recorder.stored == []
    assert recorder.next_offsets == [1], "the partition moves past the poison message"
    [letter] = dead_letters
    headers = dict(letter.headers)
    assert letter.topic == runtime.dead_letter_topic
    assert letter.value == b'{"number": "seven"}'
    assert headers[ce.DEAD_LETTER_ERROR].startswith(b"ContractViolation: number")
    assert headers[ce.DEAD_LETTER_ORIGINAL_TOPIC] == TOPIC.encode()
    assert headers[ce.DEAD_LETTER_ORIGINAL_OFFSET] == b"0"
    assert headers[ce.DEAD_LETTER_CONSUMER_GROUP] == b"orders"
    assert headers[ce.DEAD_LETTER_SERVICE] == b"orders-service"
    assert headers[ce.CORRELATION_ID] == b"req-1"


async def test_undecodable_bytes_go_to_the_dead_letter_topic() -> None:
    recorder = Recorder()
    runtime, dead_letters = runtime_with(recorder)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b"\x00not json")
    assert [letter.value for letter in dead_letters] == [b"\x00not json"]
    assert recorder.next_offsets == [1]


async def test_a_message_that_keeps_failing_goes_to_the_dead_letter_topic_after_max_failures() -> (
    None
):
    recorder = Recorder(fail_on={13})
    runtime, dead_letters = runtime_with(recorder, consumer_max_failures=3)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": 13}')
        await publish(broker, b'{"number": 14}')
    assert [letter.value for letter in dead_letters] == [b'{"number": 13}']
    assert recorder.stored == [14], "the partition goes on after the failing message"
    # One batch attempt, then three attempts alone, then the offset past it is recorded.
    assert recorder.calls == 1 + 3 + 1 + 1
    assert recorder.next_offsets[-1] == 1


async def test_with_one_allowed_failure_a_failing_message_is_dead_lettered_at_once() -> None:
    recorder = Recorder(fail_on={13})
    runtime, dead_letters = runtime_with(recorder, consumer_max_failures=1)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": 13}')
    assert [letter.value for letter in dead_letters] == [b'{"number": 13}']
    assert dict(dead_letters[0].headers)[ce.DEAD_LETTER_ERROR].startswith(b"ValueError")
    # The failing attempt, then the offset past it is recorded.
    assert recorder.calls == 2
    assert recorder.next_offsets == [1]


def test_a_dead_letter_names_why_the_message_could_not_be_processed() -> None:
    assert dead_letter_reason(UnknownEventType("booking.v9.Teleported")) == "unknown_event_type"
    assert dead_letter_reason(ContractViolation("number: must be an integer")) == (
        "contract_violation"
    )
    assert dead_letter_reason(UndecodableMessage("empty message")) == "undecodable"
    assert dead_letter_reason(ValueError("value too long")) == "processing_failed"
