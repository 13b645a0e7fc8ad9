"""Each event's key comes from the one secret and the event id: the same on every replica,
different per event and per secret; a payload verifies only with its event's key."""

from __future__ import annotations

from uuid import uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from entry.adapters.ticket_keys import TicketKeys
from ticketing_contracts.tickets import b64url_decode, parse_qr_payload

SECRET = b"k" * 16 + b"Q" * 16 + b"z" * 16
CODE = "K7QW2M4XZT5R6YB3N6P2H4LC"


def test_every_replica_derives_the_same_key_for_an_event() -> None:
    event_id = uuid4()

    assert TicketKeys(SECRET).public_key(event_id) == TicketKeys(SECRET).public_key(event_id)
    assert TicketKeys(SECRET).payload(event_id, CODE) == TicketKeys(SECRET).payload(event_id, CODE)


def test_events_and_secrets_have_keys_of_their_own() -> None:
    event_id = uuid4()
    keys = TicketKeys(SECRET)

    assert keys.public_key(event_id) != keys.public_key(uuid4())
    assert keys.public_key(event_id) != TicketKeys(SECRET + b"!").public_key(event_id)


def test_a_payload_verifies_with_the_published_public_key_and_not_after_a_new_secret() -> None:
    event_id = uuid4()
    keys = TicketKeys(SECRET)
    parsed = parse_qr_payload(keys.payload(event_id, CODE))
    assert parsed is not None

    public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(keys.public_key(event_id)))
    public_key.verify(parsed.signature, parsed.message)
    assert keys.verifies(parsed)
    assert not TicketKeys(SECRET + b"!").verifies(parsed)
