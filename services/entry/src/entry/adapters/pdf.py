"""A booking's tickets as a PDF: one A6 page per ticket with its QR code (zxing-cpp)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

import zxingcpp
from fpdf import FPDF
from PIL import Image

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


def _qr_image(payload: str) -> Image.Image:
    """zxing-cpp's encoder (C++): a pure-Python one (segno) spent 20 ms of CPU per ticket,
    most of a ticket PDF's cost, choosing its mask."""
    qr = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    pixels = qr.to_image(scale=4, add_quiet_zones=True)
    # zxing-cpp's Image exports the buffer protocol; its type stub does not declare it.
    raw = bytes(pixels)  # type: ignore[call-overload]
    # 8-bit gray as drawn: fpdf2 re-encodes a 1-bit image in Python, which costs more than
    # compressing these 212 by 212 bytes.
    return Image.frombuffer("L", (pixels.shape[1], pixels.shape[0]), raw, "raw")


class TicketPdf:
    """Renders with the built-in Helvetica when every name is Latin-1; else with `font`, a
    TrueType file covering the scripts holders' names are written in, when it exists, or
    with Helvetica folding what Latin-1 cannot show. Embedding a font costs a parse and a
    subset of it per document, four fifths of a ticket PDF's CPU, so only names that need
    it pay for it."""

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
        names = [booking.event_name]
        for ticket in booking.tickets:
            names += [ticket.ticket_type_name, ticket.holder_name]
        if self._font is not None and any(_latin1(name) != name for name in names):
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
            pdf.image(_qr_image(ticket.qr_payload), x=(_PAGE[0] - _QR_SIZE) / 2, y=35, w=_QR_SIZE)
            pdf.set_y(35 + _QR_SIZE + 4)
            pdf.set_font(family, bold, 11)
            pdf.cell(width, 6, text(ticket.ticket_type_name), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, "", 10)
            pdf.cell(width, 6, text(ticket.holder_name), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("courier", "B", 11)
            pdf.cell(width, 6, ticket.code, new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())
