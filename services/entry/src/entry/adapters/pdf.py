"""A booking's tickets as a PDF: one A6 page per ticket with its QR code (segno)."""

from __future__ import annotations

import io
import unicodedata

import segno
from fpdf import FPDF

from ticketing_contracts.tickets import BookingTickets

_PAGE = (105.0, 148.0)  # A6 portrait, millimetres
_MARGIN = 10.0
_QR_SIZE = 70.0


def _latin1(text: str) -> str:
    """The PDF's built-in Helvetica covers Latin-1 only: accents are folded where they can
    be (the QR code, which carries no names, is what the door reads)."""
    folded = "".join(
        char if char.encode("latin-1", "ignore") else unicodedata.normalize("NFKD", char)
        for char in text
    )
    return folded.encode("latin-1", "replace").decode("latin-1")


def _qr_png(payload: str) -> io.BytesIO:
    image = io.BytesIO()
    segno.make_qr(payload, error="m").save(image, kind="png", scale=8, border=2)
    image.seek(0)
    return image


def render_tickets_pdf(booking: BookingTickets) -> bytes:
    pdf = FPDF(unit="mm", format=_PAGE)
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_title(_latin1(f"Tickets - {booking.event_name}"))
    width = _PAGE[0] - 2 * _MARGIN
    starts_at = (
        booking.event_starts_at.strftime("%d %b %Y, %H:%M UTC")
        if booking.event_starts_at is not None
        else ""
    )
    for ticket in booking.tickets:
        pdf.add_page()
        pdf.set_font("helvetica", "B", 14)
        pdf.multi_cell(width, 7, _latin1(booking.event_name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 10)
        if starts_at:
            pdf.cell(width, 6, starts_at, new_x="LMARGIN", new_y="NEXT")
        pdf.image(_qr_png(ticket.qr_payload), x=(_PAGE[0] - _QR_SIZE) / 2, y=35, w=_QR_SIZE)
        pdf.set_y(35 + _QR_SIZE + 4)
        pdf.set_font("helvetica", "B", 11)
        pdf.cell(width, 6, _latin1(ticket.ticket_type_name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 10)
        pdf.cell(width, 6, _latin1(ticket.holder_name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("courier", "B", 11)
        pdf.cell(width, 6, ticket.code, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
