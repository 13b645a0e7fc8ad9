"""Operator commands: `python -m notifications dead-letters list|redrive [--limit N]` and
`python -m notifications asyncapi [--output FILE]`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from notifications.settings import NotificationsSettings
from service_kit.asyncapi_commands import add_asyncapi_command, run_asyncapi_command
from service_kit.dead_letter_commands import add_dead_letter_commands, run_dead_letter_command
from service_kit.settings import load_settings


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m notifications")
    commands = root.add_subparsers(dest="command", required=True)
    add_dead_letter_commands(commands, "notifications")
    add_asyncapi_command(commands, "notifications")
    return root


def main(argv: Sequence[str]) -> int:
    arguments = parser().parse_args(argv)
    if arguments.command == "asyncapi":
        from notifications.entrypoints.asyncapi import asyncapi_document

        return run_asyncapi_command(arguments, asyncapi_document())
    settings = load_settings(NotificationsSettings)
    group = settings.group_id(settings.consumer_group)
    return asyncio.run(run_dead_letter_command(arguments, settings, group))
