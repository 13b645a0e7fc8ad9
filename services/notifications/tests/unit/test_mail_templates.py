from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from notifications.adapters.templates import JinjaMailTemplates

CONTEXT: dict[str, object] = {
    "customer_name": "Ada <b>Lovelace</b>",
    "event_name": "Jazz & <script>alert(1)</script>",
    "event_starts_at": datetime(2030, 6, 1, 19, 30, tzinfo=UTC),
    "ticket_type_name": "Standing",
    "quantity": 2,
    "total_price": Decimal("90"),
    "currency": "EUR",
    "booking_id": "b-1",
    "booking_url": "http://shop.test/#/booking/b-1",
    "bookings_url": "http://shop.test/#/bookings",
}


def test_the_confirmation_names_the_fan_the_event_the_tickets_and_the_price() -> None:
    mail = JinjaMailTemplates().render("confirmation", CONTEXT)

    assert mail.subject == "Your tickets for Jazz & <script>alert(1)</script>"
    assert "Hello Ada <b>Lovelace</b>," in mail.text
    assert "2 x Standing for Jazz & <script>alert(1)</script>" in mail.text
    assert "Saturday 1 June 2030, 19:30 UTC" in mail.text
    assert "90.00 EUR" in mail.text
    assert "90.00 EUR" in mail.html
    assert "http://shop.test/#/booking/b-1" in mail.html


def test_html_escapes_names_it_did_not_write() -> None:
    html = JinjaMailTemplates().render("confirmation", CONTEXT).html

    assert "<script>" not in html
    assert "Jazz &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html


def test_the_refund_notice_says_the_amount_refunded() -> None:
    mail = JinjaMailTemplates().render(
        "refund", {**CONTEXT, "amount": "45.5", "reason": "booking_cancelled"}
    )

    assert mail.subject.startswith("Refund of 45.50 EUR for Jazz")
    assert "refunded 45.50 EUR" in mail.text


def test_an_event_cancellation_is_worded_as_one() -> None:
    plain = JinjaMailTemplates().render("cancellation", CONTEXT)
    event = JinjaMailTemplates().render("event_cancellation", CONTEXT)

    assert "is cancelled by its organiser" in event.text
    assert "organiser" not in plain.text
    assert event.subject == "Jazz & <script>alert(1)</script> is cancelled"


def test_a_subject_stays_on_one_line_whatever_the_name() -> None:
    mail = JinjaMailTemplates().render("confirmation", {**CONTEXT, "event_name": "A\r\nBcc: x"})
    assert "\n" not in mail.subject
    assert "\r" not in mail.subject


OFFER: dict[str, object] = {
    **CONTEXT,
    "expires_at": datetime(2030, 6, 1, 12, 15, tzinfo=UTC),
    "minutes_left": 15,
    "offer_url": "http://shop.test/offers/o-1",
    "event_url": "http://shop.test/#/event/e-1",
    "waitlist_url": "http://shop.test/#/waitlist",
}


def test_an_offer_says_what_is_held_until_when_and_links_to_booking_it() -> None:
    mail = JinjaMailTemplates().render("waitlist_offer", OFFER)

    assert mail.subject == (
        "Tickets for Jazz & <script>alert(1)</script> are held for you until "
        "Saturday 1 June 2030, 12:15 UTC"
    )
    assert "2 x Standing are held for you for 15 minutes" in mail.text
    assert "Book them here (payment as usual): http://shop.test/offers/o-1" in mail.text
    assert 'href="http://shop.test/offers/o-1"' in mail.html
    assert "<script>" not in mail.html
    assert "Booking " not in mail.text


def test_an_expired_offer_says_the_fan_is_off_the_waitlist() -> None:
    mail = JinjaMailTemplates().render("waitlist_offer_expired", OFFER)

    assert mail.subject == "Your offer of tickets for Jazz & <script>alert(1)</script> expired"
    assert "You are off the waitlist." in mail.text
    assert "passed to the next fan" in mail.html


def test_an_expired_hold_says_the_tickets_went_back_on_sale() -> None:
    mail = JinjaMailTemplates().render("hold_expired", {**CONTEXT, "event_url": "http://e"})

    assert mail.subject == "Your hold on tickets for Jazz & <script>alert(1)</script> expired"
    assert "the hold expired and the tickets went back on sale. Nothing was charged." in mail.text
    assert "http://shop.test/#/booking/b-1" in mail.html
