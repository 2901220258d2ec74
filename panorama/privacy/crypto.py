"""Sealed values: one personal field, AES-256-GCM encrypted under its subject's data key.

Wire format of a sealed string (ASCII, so the Avro schema keeps its ``string`` fields)::

    pii1.<subject>.<key id>.<base64url(nonce 12 B | ciphertext | tag 16 B)>

``subject`` is the keyed routing hash the value's data key belongs to (32 hex digits, the
Kafka message key of the event, never plaintext), ``key id`` the 8-hex-digit id of that
data key's generation (a key created again after a forget has another id, so an old value
reads as *shredded*, not as tampered with). The associated data binds the ciphertext to
its header and to the field path, so a sealed value moved to another field, another
subject or another key fails authentication.
"""

from __future__ import annotations

import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from panorama.privacy.errors import CiphertextError
from panorama.random_pool import random_bytes

VERSION = "pii1"
PREFIX = VERSION + "."
NONCE_SIZE = 12
KEY_SIZE = 32


@dataclass(frozen=True, slots=True)
class DataKey:
    """One subject's data key: its generation id and the ready AES-GCM object."""

    subject: str
    kid: str
    aead: AESGCM


@dataclass(frozen=True, slots=True)
class Sealed:
    """The parsed header of a sealed value."""

    subject: str
    kid: str
    blob: bytes


# Every sealed value of any version holds these bytes, so a raw record without them has
# nothing to open (most events carry no personal data at all).
SEALED_MARK = b"pii"


def is_sealed(value: object) -> bool:
    """True for a sealed value of any version (``pii<digit>...``; an unknown version then
    fails in :func:`parse`). No regex: it runs on every personal field a consumer reads,
    and an allocation per call shows in the garbage collector's bill."""
    return type(value) is str and value.startswith("pii") and len(value) > 4 and value[3].isdigit()


def seal(key: DataKey, value: str, path: str) -> str:
    """``value`` sealed under ``key`` for the field ``path``."""
    header = f"{PREFIX}{key.subject}.{key.kid}."
    nonce = random_bytes(NONCE_SIZE)
    blob = nonce + key.aead.encrypt(nonce, value.encode(), (header + path).encode())
    return header + binascii.b2a_base64(blob, newline=False).decode().replace("+", "-").replace("/", "_")


def parse(value: str, path: str) -> Sealed:
    """The header of a sealed value; CiphertextError for an unknown version or bad shape."""
    version, _, rest = value.partition(".")
    if version != VERSION:
        raise CiphertextError(path, f"sealed with unknown version {version[:8]!r} (this build reads {VERSION})")
    parts = rest.split(".")
    if len(parts) != 3 or len(parts[0]) != 32 or len(parts[1]) != 8:
        raise CiphertextError(path, f"malformed sealed value (expected {VERSION}.<subject>.<key id>.<data>)")
    try:
        blob = binascii.a2b_base64(parts[2].replace("-", "+").replace("_", "/"), strict_mode=True)
    except binascii.Error as e:
        raise CiphertextError(path, f"sealed data is not base64url: {e}") from None
    if len(blob) < NONCE_SIZE + 16:
        raise CiphertextError(path, f"sealed data too short ({len(blob)} bytes)")
    return Sealed(parts[0], parts[1], blob)


def unseal(key: DataKey, sealed: Sealed, path: str) -> str:
    """The plaintext; CiphertextError when authentication fails (tampered, other key or field)."""
    header = f"{PREFIX}{sealed.subject}.{sealed.kid}."
    if key.subject != sealed.subject or key.kid != sealed.kid:
        raise CiphertextError(path, f"sealed under key {sealed.subject}/{sealed.kid}, not {key.subject}/{key.kid}")
    nonce, body = sealed.blob[:NONCE_SIZE], sealed.blob[NONCE_SIZE:]
    try:
        return key.aead.decrypt(nonce, body, (header + path).encode()).decode()
    except InvalidTag:
        raise CiphertextError(path, f"authentication failed (tampered with, or sealed for another field)") from None


def new_key_material() -> tuple[str, bytes]:
    """(key id, 32 random key bytes) for a new data key."""
    return os.urandom(4).hex(), AESGCM.generate_key(bit_length=256)
