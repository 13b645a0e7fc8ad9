"""A booking's tickets as a PDF: one A6 page per ticket with its QR code (segno)."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from pathlib import Path

import segno
from fpdf import FPDF

from ticketing_contracts.tickets import BookingTickets

_PAGE = (105.0, 148.0)  # A6 portrait, millimetres
_MARGIN = 10.0
_QR_SIZE = 70.0


def _latin1(text: str) -> str:
    """Without a font file the PDF's built-in Helvetica covers Latin-1 only: accents are
    folded where they can be (the QR code, which carries no names, is what the door reads)."""
    folded = "".join(
        char if char.encode("latin-1", "ignore") else unicodedata.normalize("NFKD", char)
        for char in text
    )
    return folded.encode("latin-1", "replace").decode("latin-1")


def _as_written(text: str) -> str:
    return text


def _qr_png(payload: str) -> io.BytesIO:
    image = io.BytesIO()
    segno.make_qr(payload, error="m").save(image, kind="png", scale=8, border=2)
    image.seek(0)
    return image


class TicketPdf:
    """Renders with `font`, a TrueType file covering the scripts holders' names are written
    in, when it exists; else with the built-in Helvetica, folding what Latin-1 cannot show."""

    def __init__(self, font: Path | None) -> None:
        self._font = font if font is not None and font.is_file() else None

    @property
    def covers_any_script(self) -> bool:
        return self._font is not None

    def __call__(self, booking: BookingTickets) -> bytes:
        pdf = FPDF(unit="mm", format=_PAGE)
        pdf.set_auto_page_break(auto=False)
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        text: Callable[[str], str] = _latin1
        family, bold = "helvetica", "B"
        if self._font is not None:
            pdf.add_font("holder", "", str(self._font))
            family, bold, text = "holder", "", _as_written
        pdf.set_title(text(f"Tickets - {booking.event_name}"))
        width = _PAGE[0] - 2 * _MARGIN
        starts_at = (
            booking.event_starts_at.strftime("%d %b %Y, %H:%M UTC")
            if booking.event_starts_at is not None
            else ""
        )
        for ticket in booking.tickets:
            pdf.add_page()
            pdf.set_font(family, bold, 14)
            pdf.multi_cell(width, 7, text(booking.event_name), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, "", 10)
            if starts_at:
                pdf.cell(width, 6, starts_at, new_x="LMARGIN", new_y="NEXT")
            pdf.image(_qr_png(ticket.qr_payload), x=(_PAGE[0] - _QR_SIZE) / 2, y=35, w=_QR_SIZE)
            pdf.set_y(35 + _QR_SIZE + 4)
            pdf.set_font(family, bold, 11)
            pdf.cell(width, 6, text(ticket.ticket_type_name), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, "", 10)
            pdf.cell(width, 6, text(ticket.holder_name), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("courier", "B", 11)
            pdf.cell(width, 6, ticket.code, new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())
