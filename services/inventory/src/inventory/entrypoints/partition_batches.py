"""Polls per-partition batches and hands each to a handler; a failed batch is fetched again.

Nothing is skipped: when a handler fails (retries exhausted, or a circuit breaker is
open) the partition is rewound to the batch's first offset. While a breaker is open,
every assigned partition is paused and the loop keeps polling (so the group does not
drop the member) without fetching, until the breaker allows a trial call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from inventory.adapters.retries import is_transient
from service_kit.circuit_breakers import (
    CircuitBreaker,
    CircuitBreakerError,
    is_open,
    seconds_until_trial,
)
from service_kit.metrics import KAFKA_CONSUMER_LAG

logger = logging.getLogger(__name__)

BatchHandler = Callable[[TopicPartition, list[Any]], Awaitable[None]]


class PartitionBatchLoop:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        handle: BatchHandler,
        *,
        name: str,
        breakers: Sequence[CircuitBreaker],
        max_records: int,
        poll_timeout_ms: int,
        failure_pause_seconds: float = 1.0,
        on_empty_poll: Callable[[float], None] = lambda started_at: None,
    ) -> None:
        self._consumer = consumer
        self._handle = handle
        self._name = name
        self._breakers = breakers
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._failure_pause_seconds = failure_pause_seconds
        # Told the start time of each poll that found nothing new: by then the consumer
        # had read and handled everything its partitions held.
        self._on_empty_poll = on_empty_poll
        self._next_offsets: dict[TopicPartition, int] = {}
        self.paused = False
        self.batches_done = 0

    async def run(self) -> None:
        while True:
            wait = max((seconds_until_trial(b) for b in self._breakers if is_open(b)), default=0)
            if wait > 0:
                self._pause(True)
                await self._consumer.getmany(timeout_ms=int(min(wait, 0.5) * 1000) + 1)
                continue
            self._pause(False)
            poll_started = asyncio.get_running_loop().time()
            batches = await self._consumer.getmany(
                timeout_ms=self._poll_timeout_ms, max_records=self._max_records
            )
            if not batches:
                self._on_empty_poll(poll_started)
            await self._handle_all(list(batches.items()))
            self._record_lag()

    async def _handle_all(self, batches: list[tuple[TopicPartition, list[Any]]]) -> None:
        for index, (tp, records) in enumerate(batches):
            try:
                await self._handle(tp, records)
            except asyncio.CancelledError:
                self._rewind(batches[index:])
                raise
            except Exception as error:
                self._rewind(batches[index:])
                if isinstance(error, CircuitBreakerError):
                    logger.warning("%s paused: %s", self._name, error)
                    return
                log = logger.warning if is_transient(error) else logger.exception
                log(
                    "%s batch %s[%d]@%d failed, will fetch it again: %r",
                    self._name,
                    tp.topic,
                    tp.partition,
                    records[0].offset,
                    error,
                )
                await asyncio.sleep(self._failure_pause_seconds)
                return
            self._next_offsets[tp] = records[-1].offset + 1
            self.batches_done += 1

    def _rewind(self, batches: list[tuple[TopicPartition, list[Any]]]) -> None:
        for tp, records in batches:
            if tp in self._consumer.assignment():
                self._consumer.seek(tp, records[0].offset)

    def _pause(self, paused: bool) -> None:
        assigned = list(self._consumer.assignment())
        if paused:
            self._consumer.pause(*assigned)
            if not self.paused:
                logger.warning("%s: a circuit breaker is open, consumption paused", self._name)
        elif self.paused:
            self._consumer.resume(*assigned)
            logger.info("%s: consumption resumed", self._name)
        self.paused = paused

    def _record_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            position = self._next_offsets.get(tp)
            if highwater is not None and position is not None:
                KAFKA_CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(0, highwater - position)
                )
