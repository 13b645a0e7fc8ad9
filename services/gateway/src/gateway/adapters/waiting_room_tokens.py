"""Place and admission-pass tokens: `<kind>.<payload>.<mac>`, the payload's fields in
base64url, the MAC an HMAC-SHA256 (128 bits kept) with a key of their own derived from
`JWT_SECRET`, so every replica signs and checks alike and no new secret has to be
deployed. Checking one costs a single HMAC (about a microsecond), far less than a JWT, which
keeps the place poll cheap. Rotating `JWT_SECRET` ends the places and passes signed before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

from gateway.application.waiting_room import InvalidRoomToken, PassToken, PlaceToken

PLACE = "p1"
PASS = "a1"  # noqa: S105 (a token kind, not a secret)
MAX_TOKEN_LENGTH = 400
_MAC_BYTES = 16
_KEY_LABEL = b"gateway waiting-room tokens v1"


def _encoded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decoded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class HmacRoomTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_secret(cls, secret: str) -> HmacRoomTokens:
        return cls(hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest())

    def sign_place(self, place: PlaceToken) -> str:
        return self._sign(PLACE, [place.event_id.hex, place.room_id, place.account, place.place_id])

    def read_place(self, token: str) -> PlaceToken:
        event_id, room_id, account, place_id = self._read(PLACE, token, 4)
        return PlaceToken(_event_id(event_id), room_id, account, place_id)

    def sign_pass(self, admission: PassToken) -> str:
        fields = [
            admission.event_id.hex,
            admission.room_id,
            admission.account,
            str(admission.pass_number),
            str(admission.expires_at),
        ]
        return self._sign(PASS, fields)

    def read_pass(self, token: str) -> PassToken:
        event_id, room_id, account, pass_number, expires_at = self._read(PASS, token, 5)
        if not (pass_number.isdigit() and expires_at.isdigit()):
            raise InvalidRoomToken("malformed pass")
        return PassToken(_event_id(event_id), room_id, account, int(pass_number), int(expires_at))

    def _mac(self, signed: str) -> str:
        digest = hmac.new(self._key, signed.encode(), hashlib.sha256).digest()
        return _encoded(digest[:_MAC_BYTES])

    def _sign(self, kind: str, fields: list[str]) -> str:
        if any("|" in field for field in fields):
            raise ValueError("a token field may not contain '|'")
        signed = f"{kind}.{_encoded('|'.join(fields).encode())}"
        return f"{signed}.{self._mac(signed)}"

    def _read(self, kind: str, token: str, count: int) -> list[str]:
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidRoomToken("malformed token")
        signed, _, mac = token.rpartition(".")
        if not signed.startswith(f"{kind}.") or not hmac.compare_digest(
            mac.encode(), self._mac(signed).encode()
        ):
            raise InvalidRoomToken("not signed here")
        try:
            fields = _decoded(signed.removeprefix(f"{kind}.")).decode().split("|")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidRoomToken("malformed token") from None
        if len(fields) != count:
            raise InvalidRoomToken("malformed token")
        return fields


def _event_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(hex=text)
    except ValueError:
        raise InvalidRoomToken("malformed token") from None
