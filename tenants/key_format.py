"""The shape of an API key, checked without touching the database.

    ckp_live_<8-char lookup id><43-char secret>_<6-char checksum>

* `ckp_live_` lets secret scanners (and people) recognise a leaked key;
* the lookup id is random and not secret: it finds the row and is shown in listings;
* the secret is 32 bytes from `secrets`, base62-encoded;
* the checksum is the CRC32 of everything before it, base62-encoded, so a mistyped or
  truncated key is refused before any query.

Only the SHA-256 of the whole key is stored. A salt or a slow hash adds nothing here: the
key is 256 random bits, so guessing it from its hash is out of reach either way.

ChatKit client secrets (tenants/models/sessions.py) have the same shape under their own
prefix, `ckcs_`, so that neither kind of credential is ever mistaken for the other.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass
from functools import cache

PREFIX = "ckp_live_"
CLIENT_SECRET_PREFIX = "ckcs_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_LOOKUP_LEN = 8
_SECRET_BYTES = 32
_SECRET_LEN = 43  # 62**43 > 2**256
_CHECKSUM_LEN = 6  # 62**6 > 2**32


@cache
def _shape(prefix: str) -> re.Pattern[str]:
    return re.compile(
        rf"^{re.escape(prefix)}([0-9A-Za-z]{{{_LOOKUP_LEN}}})[0-9A-Za-z]{{{_SECRET_LEN}}}_([0-9A-Za-z]{{{_CHECKSUM_LEN}}})$"
    )


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_LEN)


@dataclass(frozen=True)
class NewKey:
    raw: str
    lookup_id: str
    key_hash: str


def key_generate(prefix: str = PREFIX) -> NewKey:
    """Return a fresh key (or, with its prefix, client secret), its lookup id and its hash."""
    lookup_id = "".join(secrets.choice(_ALPHABET) for _ in range(_LOOKUP_LEN))
    secret = _base62(int.from_bytes(secrets.token_bytes(_SECRET_BYTES)), _SECRET_LEN)
    body = f"{prefix}{lookup_id}{secret}"
    raw = f"{body}_{_checksum(body)}"
    return NewKey(raw=raw, lookup_id=lookup_id, key_hash=key_hash(raw))


def key_lookup_id(raw: str, prefix: str = PREFIX) -> str | None:
    """Return the lookup id of a well-formed key, or None if its shape or checksum is wrong."""
    match = _shape(prefix).match(raw)
    if match is None:
        return None
    body = raw[: -_CHECKSUM_LEN - 1]
    if _checksum(body) != match.group(2):
        return None
    return match.group(1)


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def key_display(lookup_id: str) -> str:
    """Return the non-secret beginning of a key, as shown in listings."""
    return f"{PREFIX}{lookup_id}..."
