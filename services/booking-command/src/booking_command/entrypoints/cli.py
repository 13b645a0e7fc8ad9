"""Operator commands: `python -m booking_command dead-letters list|redrive [--limit N]`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from booking_command.settings import BookingCommandSettings
from service_kit.dead_letter_commands import add_dead_letter_commands, run_dead_letter_command
from service_kit.settings import load_settings


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m booking_command")
    add_dead_letter_commands(root.add_subparsers(dest="command", required=True), "booking-command")
    return root


def main(argv: Sequence[str]) -> int:
    arguments = parser().parse_args(argv)
    settings = load_settings(BookingCommandSettings)
    group = settings.group_id(settings.consumer_group)
    return asyncio.run(run_dead_letter_command(arguments, settings, group))
