"""The reconciliation's report in words, for the person reading the terminal."""

from __future__ import annotations

from booking_command.application.reconciliation import ReconciliationReport
from booking_command.domain.reconciliation import Kind

HEADINGS = {
    Kind.NOT_IN_EVENT_STORE: "bookings the event store does not hold",
    Kind.READ_MODEL_DIFFERS: "bookings the read models show from lost facts",
    Kind.CATALOG_DIFFERS: "events the read models show from lost facts",
    Kind.INVENTORY_DIFFERS: "bookings inventory holds otherwise",
    Kind.PAYMENT_DIFFERS: "bookings the provider charged otherwise",
    Kind.TICKETS_DIFFER: "ticket types whose tickets sold differ",
    Kind.POSITIONS_BEHIND: "event-store positions behind the read models'",
    Kind.SETTLING: "bookings still settling (payments due, facts not yet applied)",
}
SHOWN_PER_KIND = 20


def in_words(report: ReconciliationReport) -> str:
    comparison = report.comparison
    checked = ", ".join(f"{count} {what}" for what, count in comparison.checked.items())
    lines = [
        f"reconciliation started {report.started_at.isoformat()}: "
        f"{len(report.events)} event(s); {checked}"
    ]
    if report.consistent:
        lines.append("everything agrees: nothing to repair, nothing for a person")
    for kind, heading in HEADINGS.items():
        found = comparison.of_kind(kind)
        if not found:
            continue
        lines.append(f"{len(found)} {heading}:")
        for finding in found[:SHOWN_PER_KIND]:
            repairs = f" [repairs: {', '.join(r.value for r in finding.repairs)}]"
            lines.append(
                f"  - {finding.subject}: {finding.detail}{repairs if finding.repairs else ''}"
            )
            if finding.action:
                lines.append(f"    a person: {finding.action}")
        if len(found) > SHOWN_PER_KIND:
            lines.append(f"  ... and {len(found) - SHOWN_PER_KIND} more (see the JSON)")
    for what, done in report.repaired.items():
        lines.append(f"repaired: {what}: {done}")
    lines.extend(f"error: {error}" for error in report.errors)
    lines.extend(f"next: {step}" for step in report.next_steps)
    return "\n".join(lines) + "\n"
