"""`python -m <service> dead-letters list|redrive`: the operator side of dead letters.

Every consuming service offers the same two commands over its own consumer group.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from service_kit.dead_letters import list_dead_letters, redrive_dead_letter, redrive_dead_letters
from service_kit.errors import DomainError
from service_kit.kafka.messages import OutboundMessage
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.messaging import KafkaHeaders
from service_kit.settings import KafkaSettings
from ticketing_contracts import topics


def add_dead_letter_commands(commands: Any, service: str) -> None:
    """Adds `dead-letters list|redrive` to an argparse sub-command set."""
    dead_letters = commands.add_parser("dead-letters", help="Inspect and re-drive dead letters")
    actions = dead_letters.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help=f"Print {service}'s dead letters as JSON lines")
    listing.add_argument("--limit", type=int, default=None)
    listing.add_argument(
        "--all-groups", action="store_true", help="Include other consumers' dead letters"
    )
    redrive = actions.add_parser(
        "redrive", help=f"Send {service}'s dead letters back to their original topics, once each"
    )
    which = redrive.add_mutually_exclusive_group()
    which.add_argument("--limit", type=int, default=None, help="At most this many, oldest first")
    which.add_argument(
        "--dead-letter",
        type=_dead_letter_id,
        default=None,
        metavar="PARTITION@OFFSET",
        help="Only this one (the `dead_letter` field `list` prints)",
    )


def _dead_letter_id(text: str) -> tuple[int, int]:
    partition, separator, offset = text.partition("@")
    if not separator or not partition.isdigit() or not offset.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not PARTITION@OFFSET, e.g. 0@12")
    return int(partition), int(offset)


async def run_dead_letter_command(
    arguments: argparse.Namespace, settings: KafkaSettings, consumer_group: str
) -> int:
    """`consumer_group` is the group id as the service joined it (`settings.group_id(...)`),
    which is what its dead letters name. Logs in as DEAD_LETTER_KAFKA_USERNAME when set."""
    settings = settings.dead_letter_kafka_settings()
    topic = settings.topic(topics.DEAD_LETTERS)
    if arguments.action == "list":
        entries = await list_dead_letters(
            settings,
            topic,
            consumer_group=None if arguments.all_groups else consumer_group,
            limit=arguments.limit,
        )
        for entry in entries:
            print(json.dumps(entry.describe()))
        print(f"{len(entries)} dead letter(s) on {topic}", file=sys.stderr)
        return 0
    kafka = KafkaRuntime(settings)

    async def send(topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        await kafka.publish([OutboundMessage(topic, key, value, headers)])

    await kafka.start()
    try:
        if arguments.dead_letter is not None:
            partition, offset = arguments.dead_letter
            redriven = [
                await redrive_dead_letter(
                    settings,
                    topic,
                    send,
                    consumer_group=consumer_group,
                    partition=partition,
                    offset=offset,
                )
            ]
        else:
            redriven = await redrive_dead_letters(
                settings,
                topic,
                send,
                consumer_group=consumer_group,
                limit=arguments.limit,
            )
    except DomainError as error:
        print(error.detail, file=sys.stderr)
        return 1
    finally:
        await kafka.stop()
    for entry in redriven:
        print(json.dumps(entry.describe()))
    print(f"re-drove {len(redriven)} dead letter(s)", file=sys.stderr)
    return 0
