from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from mail_catcher.mailbox import Mailbox


def _message_with_pdf() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "tickets@example.test"
    message["To"] = "Ada <ada@example.test>"
    message["Subject"] = "Your tickets"
    message["Message-ID"] = "<fact-1@notifications.example.test>"
    message.set_content("Plain words")
    message.add_alternative("<p>Rich words</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="tickets.pdf"
    )
    return message


def test_a_stored_message_reads_back_with_bodies_envelope_and_attachments(tmp_path: Path) -> None:
    mailbox = Mailbox(tmp_path)
    message_id = mailbox.store(
        "bounce@example.test", ["ada@example.test"], bytes(_message_with_pdf())
    )

    caught = mailbox.get(message_id)

    assert caught is not None
    assert caught.message_id == "<fact-1@notifications.example.test>"
    assert caught.subject == "Your tickets"
    assert caught.to == ["Ada <ada@example.test>"]
    assert caught.envelope_from == "bounce@example.test"
    assert caught.envelope_to == ("ada@example.test",)
    assert caught.body("plain") == "Plain words\n"
    assert caught.body("html") == "<p>Rich words</p>\n"
    (attachment,) = caught.attachments
    assert (attachment.filename, attachment.content_type) == ("tickets.pdf", "application/pdf")
    assert attachment.content == b"%PDF-1.4 fake"


def test_messages_are_listed_in_arrival_order_and_survive_a_new_mailbox(tmp_path: Path) -> None:
    first = Mailbox(tmp_path).store("a@x.test", ["b@x.test"], b"Subject: one\r\n\r\nbody\r\n")
    second = Mailbox(tmp_path).store("a@x.test", ["b@x.test"], b"Subject: two\r\n\r\nbody\r\n")

    reopened = Mailbox(tmp_path)

    assert reopened.ids() == [first, second]
    assert [m.subject for m in reopened.all()] == ["one", "two"]


def test_unknown_or_malformed_ids_find_nothing(tmp_path: Path) -> None:
    mailbox = Mailbox(tmp_path)
    assert mailbox.get("00000000000000000001-deadbeef") is None
    assert mailbox.get("../../etc/passwd") is None


def test_clear_forgets_every_message(tmp_path: Path) -> None:
    mailbox = Mailbox(tmp_path)
    mailbox.store("a@x.test", ["b@x.test"], b"Subject: one\r\n\r\nbody\r\n")
    assert mailbox.clear() == 1
    assert mailbox.all() == []
