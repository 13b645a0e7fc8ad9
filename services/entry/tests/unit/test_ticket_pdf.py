"""Names on PDF tickets as their holders write them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pypdfium2
import pytest

from entry.adapters.pdf import TicketPdf
from entry.settings import EntrySettings
from ticketing_contracts.tickets import BookingTickets, Ticket

FONT = EntrySettings.model_fields["ticket_pdf_font"].default


def booking_for(
    holder: str, ticket_type: str = "Партер", event_name: str = "Ночь в опере"
) -> BookingTickets:
    event_id, booking_id = uuid4(), uuid4()
    ticket = Ticket(
        ticket_id=uuid4(),
        booking_id=booking_id,
        event_id=event_id,
        ticket_type_id=uuid4(),
        ticket_type_name=ticket_type,
        holder_name=holder,
        code="K7QW2M4XZT5R6YB3N2P2H4LC",
        qr_payload=f"TKT1:{event_id}:K7QW2M4XZT5R6YB3N2P2H4LC:sig",
        status="valid",
        issued_at=datetime.now(UTC),
    )
    return BookingTickets(
        booking_id=booking_id, event_id=event_id, event_name=event_name, tickets=[ticket]
    )


def text_of(pdf: bytes) -> str:
    (page,) = pypdfium2.PdfDocument(pdf)
    return str(page.get_textpage().get_text_range())


def test_the_font_make_install_provides_is_there() -> None:
    assert isinstance(FONT, Path)
    assert FONT.is_file(), f"{FONT} missing: make install installs fonts-dejavu-core"


def test_a_cyrillic_name_is_printed_as_written_with_the_font() -> None:
    pdf = TicketPdf(FONT)(booking_for("Анна Сергеевна"))

    assert TicketPdf(FONT).covers_any_script
    text = text_of(pdf)
    assert "Анна Сергеевна" in text
    assert "Ночь в опере" in text
    assert "K7QW2M4XZT5R6YB3N2P2H4LC" in text


@pytest.mark.parametrize("missing", [None, Path("/nonexistent/font.ttf")])
def test_without_a_font_names_fall_back_to_latin_1(missing: Path | None) -> None:
    pdf = TicketPdf(missing)(booking_for("Zoë Анна"))

    assert not TicketPdf(missing).covers_any_script
    text = text_of(pdf)
    assert "Zoë" in text
    assert "Анна" not in text


def test_latin_1_names_are_printed_without_embedding_the_font() -> None:
    latin = TicketPdf(FONT)(booking_for("Zoë Ørsted", "Parterre", "Noche en la ópera"))
    cyrillic = TicketPdf(FONT)(booking_for("Анна Сергеевна"))

    assert "Zoë Ørsted" in text_of(latin)
    assert "Noche en la ópera" in text_of(latin)
    assert b"/FontFile2" not in latin
    assert b"/FontFile2" in cyrillic
    assert len(latin) < len(cyrillic) / 2
