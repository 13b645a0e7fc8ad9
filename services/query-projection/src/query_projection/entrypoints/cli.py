"""Operator commands: `python -m query_projection rebuild [--no-switch]`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence

from query_projection.settings import QueryProjectionSettings
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
    arguments = parser.parse_args(argv)

    settings = load_settings(QueryProjectionSettings)
    configure_logging(settings.service_name, settings.log_level)
    from query_projection.bootstrap import QueryProjection

    report = asyncio.run(QueryProjection(settings).rebuild(switch=not arguments.no_switch))
    sys.stdout.write(json.dumps(dataclasses.asdict(report)) + "\n")
    return 0
