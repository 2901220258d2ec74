"""Tencent's message encryption for server callbacks (the public ``WXBizMsgCrypt`` scheme).

WeCom (企业微信) callbacks and WeChat Official Account / Mini Program pushes in encrypted
("safe") mode share it:

* ``msg_signature`` = SHA-1 hex of the sorted concatenation of the configured ``token``,
  ``timestamp``, ``nonce`` and the ciphertext (the ``Encrypt`` element of the XML body, or
  the ``echostr`` of a URL check);
* the AES key is the 43-character ``EncodingAESKey`` base64-decoded with a ``=`` added
  (32 bytes, AES-256); CBC mode, the IV is the key's first 16 bytes;
* the plaintext is 16 random bytes, the message length as 4 bytes big-endian, the message
  and the receiver id (the WeCom corp id, or the WeChat appid), PKCS#7-padded to a
  multiple of 32 bytes.

Every failure raises :class:`ContractError` naming the problem: ``bad_signature`` for a
signature that does not match, ``bad_ciphertext`` for a body that does not decrypt to a
message for this receiver.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Annotated

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pydantic import AfterValidator, SecretStr

from connectors import flat_xml
from panorama.errors import ContractError

_BLOCK = 32  # the scheme pads to 32 bytes, not AES's 16


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key of an ``EncodingAESKey``; ValueError when it is not one."""
    if len(encoding_aes_key) != 43:
        raise ValueError(f"must be 43 characters, got {len(encoding_aes_key)}")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("is not base64") from None
    if len(key) != 32:
        raise ValueError("does not decode to 32 bytes")
    return key


def _valid_aes_key(value: SecretStr) -> SecretStr:
    decode_aes_key(value.get_secret_value())
    return value


EncodingAESKey = Annotated[SecretStr, AfterValidator(_valid_aes_key)]
"""A connector setting holding an ``EncodingAESKey``: validated with the config."""


def msg_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class MsgCrypt:
    """Signature check, decryption and encryption for one receiver (corp id or appid)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str):
        self._token = token
        self._key = decode_aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode()

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    @staticmethod
    def ciphertext(body: bytes) -> str:
        """The ``Encrypt`` element of an encrypted push's XML envelope."""
        encrypted = flat_xml.parse(body).get("Encrypt")
        if not encrypted:
            raise ContractError("Encrypt", "an encrypted push needs an Encrypt element", "malformed")
        return encrypted

    def verify_request(self, params: Mapping[str, str], encrypted: str) -> None:
        """Check the query's ``msg_signature`` over ``timestamp``, ``nonce`` and ``encrypted``."""
        self.check_signature(params.get("msg_signature", ""), params.get("timestamp", ""), params.get("nonce", ""), encrypted)

    def open_body(self, body: bytes) -> bytes:
        """The plaintext XML inside an encrypted push's envelope."""
        return self.decrypt(self.ciphertext(body)).encode()

    def check_signature(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = msg_signature(self._token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, signature):
            raise ContractError("msg_signature", "does not match token, timestamp, nonce and ciphertext", "bad_signature")

    def decrypt(self, encrypted: str, field: str = "Encrypt") -> str:
        """The message inside ``encrypted`` (base64), checked to be addressed to this receiver."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except binascii.Error:
            raise ContractError(field, "is not base64", "bad_ciphertext") from None
        if not data or len(data) % 16:
            raise ContractError(field, f"{len(data)} bytes is not a whole number of AES blocks", "bad_ciphertext")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise ContractError(field, "bad padding: wrong key or tampered ciphertext", "bad_ciphertext")
        content = plain[16:-pad]
        length = int.from_bytes(content[:4], "big")
        if len(content) < 4 or length > len(content) - 4:
            raise ContractError(field, "message length out of range: wrong key or tampered ciphertext", "bad_ciphertext")
        receive_id = content[4 + length:]
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise ContractError(field, "addressed to another receiver id (corp id / appid)", "bad_ciphertext")
        try:
            return content[4:4 + length].decode()
        except UnicodeDecodeError:
            raise ContractError(field, "decrypted message is not UTF-8", "bad_ciphertext") from None

    def encrypt(self, message: str, random16: bytes | None = None) -> str:
        """``message`` encrypted for this receiver (base64): for replies and test fixtures."""
        random16 = os.urandom(16) if random16 is None else random16
        if len(random16) != 16:
            raise ValueError("random16 must be 16 bytes")
        body = message.encode()
        plain = random16 + len(body).to_bytes(4, "big") + body + self._receive_id
        pad = _BLOCK - len(plain) % _BLOCK
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()
