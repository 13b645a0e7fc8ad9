"""Creates the platform topics when they are missing; on real Kafka a Job does it first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from service_kit.kafka_security import kafka_client_options
from service_kit.settings import KafkaSettings
from ticketing_contracts.topics import DEFAULT_PARTITIONS

logger = logging.getLogger(__name__)


async def ensure_topics(
    kafka: KafkaSettings | str,
    names: Iterable[str],
    *,
    partitions: int = DEFAULT_PARTITIONS,
    timeout_seconds: float = 10.0,
) -> None:
    """Creates every missing topic of `names`; existing ones are left as they are.

    Needs only Describe on topics that exist: Create is asked for missing ones alone."""
    admin = AIOKafkaAdminClient(
        **kafka_client_options(kafka), request_timeout_ms=int(timeout_seconds * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_seconds)
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout_seconds))
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if not missing:
            return
        response = await asyncio.wait_for(
            admin.create_topics(
                [
                    NewTopic(name, num_partitions=partitions, replication_factor=1)
                    for name in missing
                ]
            ),
            timeout_seconds,
        )
        failures = [
            f"{entry[0]}: error {entry[1]}"
            for entry in response.topic_errors
            if entry[1] not in (0, TopicAlreadyExistsError.errno)
        ]
        if failures:
            raise RuntimeError(f"could not create topics: {'; '.join(failures)}")
        logger.info("created topics %s", ", ".join(missing))
    finally:
        await admin.close()
