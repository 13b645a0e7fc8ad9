"""Creates the topics the service uses, idempotently, at start-up."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

logger = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


async def ensure_topics(bootstrap_servers: str, names: Iterable[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing]
        )
        failures = [
            f"{entry[0]}: error {entry[1]}"
            for entry in response.topic_errors
            if entry[1] not in (0, TOPIC_ALREADY_EXISTS)
        ]
        if failures:
            raise RuntimeError(f"could not create topics: {'; '.join(failures)}")
        logger.info("created topics %s", ", ".join(missing))
    finally:
        await admin.close()
