"""Operator commands: `python -m query_projection rebuild [--no-switch]`,
`python -m query_projection dead-letters list|redrive [--limit N]` and
`python -m query_projection asyncapi [--output FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence

from query_projection.settings import QueryProjectionSettings
from service_kit.asyncapi_commands import add_asyncapi_command, run_asyncapi_command
from service_kit.dead_letter_commands import add_dead_letter_commands, run_dead_letter_command
from service_kit.settings import load_settings
from service_kit.structured_logging import configure_logging


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m query_projection")
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild = commands.add_parser(
        "rebuild",
        help="Rebuild the read models from the beginning of the topics, then switch over",
    )
    rebuild.add_argument(
        "--no-switch",
        action="store_true",
        help="Build the new generation but keep serving the current one",
    )
    add_dead_letter_commands(commands, "query-projection")
    add_asyncapi_command(commands, "query-projection")
    arguments = parser.parse_args(argv)
    if arguments.command == "asyncapi":
        from query_projection.entrypoints.asyncapi import asyncapi_document

        return run_asyncapi_command(arguments, asyncapi_document())

    settings = load_settings(QueryProjectionSettings)
    configure_logging(settings.service_name, settings.log_level)
    if arguments.command == "dead-letters":
        # Dead letters name the consumer group as the runtime joined it (topic prefix included).
        group = settings.group_id(settings.consumer_group)
        return asyncio.run(run_dead_letter_command(arguments, settings, group))
    from query_projection.bootstrap import QueryProjection

    report = asyncio.run(QueryProjection(settings).rebuild(switch=not arguments.no_switch))
    sys.stdout.write(json.dumps(dataclasses.asdict(report)) + "\n")
    return 0
