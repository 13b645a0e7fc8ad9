"""Each event's Ed25519 ticket key, derived from one secret and the event id (HKDF-SHA256):
no private key is stored or sent anywhere, and every replica derives the same one."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ticketing_contracts.tickets import ParsedPayload, b64url, qr_payload, signed_message

# Changing the salt or the info re-keys every event, as changing the secret does.
_SALT = b"ticketing/entry/ticket-keys"
_INFO = b"ticket signing key v1:"
_KEY_CACHE = 4096


class TicketKeys:
    """Signs and verifies ticket QR payloads with the key of each ticket's event."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._key = lru_cache(maxsize=_KEY_CACHE)(self._derive)

    def _derive(self, event_id: UUID) -> Ed25519PrivateKey:
        seed = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO + event_id.bytes
        ).derive(self._secret)
        return Ed25519PrivateKey.from_private_bytes(seed)

    def public_key(self, event_id: UUID) -> str:
        """The raw 32-byte public key, base64url, as scanners download it."""
        raw = self._key(event_id).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return b64url(raw)

    def payload(self, event_id: UUID, code: str) -> str:
        signature = self._key(event_id).sign(signed_message(event_id, code))
        return qr_payload(event_id, code, signature)

    def verifies(self, parsed: ParsedPayload) -> bool:
        try:
            self._key(parsed.event_id).public_key().verify(parsed.signature, parsed.message)
        except InvalidSignature:
            return False
        return True
