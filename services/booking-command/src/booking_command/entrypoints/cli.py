"""Operator commands: `python -m booking_command asyncapi [--output FILE]` and, after a
restore of the event store, `python -m booking_command reconcile [--repair]
[--refund-lost-payments] [--event ID ...]`.

booking-command consumes no topic, so it has no dead letters of its own."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from uuid import UUID

from service_kit.asyncapi_commands import add_asyncapi_command, run_asyncapi_command

CONSISTENT = 0
FINDINGS_LEFT = 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m booking_command")
    commands = root.add_subparsers(dest="command", required=True)
    add_asyncapi_command(commands, "booking-command")
    reconcile = commands.add_parser(
        "reconcile",
        help=(
            "After a restore of the event store: compare it with inventory, the read models "
            "and the payment provider; print the findings as JSON (stdout) and words (stderr)"
        ),
        description=(
            "Exits 0 when everything agrees (bar payments and facts still settling), "
            "1 when findings are left. See docs/runbooks/restore-from-backup.md."
        ),
    )
    reconcile.add_argument(
        "--repair",
        action="store_true",
        help=(
            "Also repair what the event store can tell: advance its positions, release the "
            "tickets of bookings it does not hold, set aside the facts it no longer holds "
            "(then rebuild the read models)"
        ),
    )
    reconcile.add_argument(
        "--refund-lost-payments",
        action="store_true",
        help=(
            "Refund every capture (and cancel every authorisation) of a booking the event "
            "store does not hold: money, so only when a person has decided it"
        ),
    )
    reconcile.add_argument(
        "--event",
        dest="events",
        action="append",
        type=UUID,
        default=[],
        metavar="EVENT_ID",
        help="Only this event's bookings (repeatable); default: every event",
    )
    return root


def main(argv: Sequence[str]) -> int:
    arguments = parser().parse_args(argv)
    if arguments.command == "reconcile":
        return asyncio.run(_reconcile(arguments))
    from booking_command.entrypoints.asyncapi import asyncapi_document

    return run_asyncapi_command(arguments, asyncapi_document())


async def _reconcile(arguments: argparse.Namespace) -> int:
    from booking_command.bootstrap import reconciliation
    from booking_command.entrypoints.reconciliation_report import in_words
    from booking_command.settings import BookingCommandSettings
    from service_kit.settings import load_settings
    from service_kit.structured_logging import configure_logging

    settings = load_settings(BookingCommandSettings)
    configure_logging(settings.service_name, settings.log_level)
    async with reconciliation(settings) as reconcile:
        report = await reconcile(
            repair=arguments.repair,
            refund_lost_payments=arguments.refund_lost_payments,
            only_events=arguments.events,
        )
    sys.stderr.write(in_words(report))
    sys.stdout.write(json.dumps(report.to_json()) + "\n")
    return CONSISTENT if report.consistent else FINDINGS_LEFT
