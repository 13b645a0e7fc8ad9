"""Operator commands: `python -m entry dead-letters list|redrive [--limit N]` and
`python -m entry asyncapi [--output FILE]`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from entry.settings import EntrySettings
from service_kit.asyncapi_commands import add_asyncapi_command, run_asyncapi_command
from service_kit.dead_letter_commands import add_dead_letter_commands, run_dead_letter_command
from service_kit.settings import load_settings
from service_kit.structured_logging import configure_logging


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m entry")
    commands = parser.add_subparsers(dest="command", required=True)
    add_dead_letter_commands(commands, "entry")
    add_asyncapi_command(commands, "entry")
    arguments = parser.parse_args(argv)
    if arguments.command == "asyncapi":
        from entry.entrypoints.asyncapi import asyncapi_document

        return run_asyncapi_command(arguments, asyncapi_document())

    settings = load_settings(EntrySettings)
    configure_logging(settings.service_name, settings.log_level)
    # Dead letters name the consumer group as the runtime joined it (topic prefix included).
    group = settings.group_id(settings.consumer_group)
    return asyncio.run(run_dead_letter_command(arguments, settings, group))
