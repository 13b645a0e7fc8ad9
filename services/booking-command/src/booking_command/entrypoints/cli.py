"""Operator commands: `python -m booking_command asyncapi [--output FILE]`.

booking-command consumes no topic, so it has no dead letters of its own."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from service_kit.asyncapi_commands import add_asyncapi_command, run_asyncapi_command


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m booking_command")
    commands = root.add_subparsers(dest="command", required=True)
    add_asyncapi_command(commands, "booking-command")
    return root


def main(argv: Sequence[str]) -> int:
    arguments = parser().parse_args(argv)
    from booking_command.entrypoints.asyncapi import asyncapi_document

    return run_asyncapi_command(arguments, asyncapi_document())
