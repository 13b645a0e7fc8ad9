"""Operator commands: `python -m inventory dead-letters list|redrive [--limit N]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from inventory.adapters.dead_letters import list_dead_letters, redrive_dead_letters
from inventory.settings import InventorySettings
from service_kit.messaging import create_producer
from service_kit.settings import load_settings
from ticketing_contracts import topics


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m inventory")
    commands = root.add_subparsers(dest="command", required=True)
    dead_letters = commands.add_parser("dead-letters", help="Inspect and re-drive dead letters")
    actions = dead_letters.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="Print inventory's dead letters as JSON lines")
    listing.add_argument("--limit", type=int, default=None)
    listing.add_argument(
        "--all-groups", action="store_true", help="Include other consumers' dead letters"
    )
    redrive = actions.add_parser(
        "redrive", help="Send inventory's dead letters back to their original topics, once each"
    )
    redrive.add_argument("--limit", type=int, default=None)
    return root


async def run(arguments: argparse.Namespace, settings: InventorySettings) -> int:
    topic = settings.topic(topics.DEAD_LETTERS)
    if arguments.action == "list":
        entries = await list_dead_letters(
            settings.kafka_bootstrap_servers,
            topic,
            consumer_group=None if arguments.all_groups else settings.consumer_group,
            limit=arguments.limit,
        )
        for entry in entries:
            print(json.dumps(entry.describe()))
        print(f"{len(entries)} dead letter(s) on {topic}", file=sys.stderr)
        return 0
    producer = create_producer(settings)
    await producer.start()
    try:
        redriven = await redrive_dead_letters(
            settings.kafka_bootstrap_servers,
            topic,
            producer,
            consumer_group=settings.consumer_group,
            limit=arguments.limit,
        )
    finally:
        await producer.stop()
    for entry in redriven:
        print(json.dumps(entry.describe()))
    print(f"re-drove {len(redriven)} dead letter(s)", file=sys.stderr)
    return 0


def main(argv: Sequence[str]) -> int:
    arguments = parser().parse_args(argv)
    return asyncio.run(run(arguments, load_settings(InventorySettings)))
