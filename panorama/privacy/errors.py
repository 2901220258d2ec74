"""The privacy layer's errors: one family under :class:`PanoramaError`."""

from __future__ import annotations

from panorama.errors import ContractError, PanoramaError, ProducerError


class PrivacyError(PanoramaError):
    """A personal-data operation (key store, encryption, forget, export) could not be done."""


class KeyStoreUnavailable(PrivacyError, ProducerError):
    """The key store did not answer before events were sealed: nothing was sent. Both a
    privacy error (the collector answers ``key_store_unavailable``) and a producer error
    (callers that only know producers retry it like any failed send)."""


class CiphertextError(ContractError):
    """A sealed value is malformed, of an unknown version, or fails authentication (tampered
    with, or sealed under another key); names the field, never the value. A contract error,
    so a consumer parks such an event in the DLQ like any other corrupt one."""

    def __init__(self, path: str, problem: str):
        super().__init__(path, problem, "bad_ciphertext")


class SuppressedIdentity(ContractError):
    """The event carries an identity whose owner asked to be forgotten and has not given
    consent again: it is dropped, never written (the DLQ record keeps no payload)."""

    def __init__(self) -> None:
        super().__init__("identities", "belongs to a forgotten customer (right to erasure); event dropped "
                         "until the customer gives consent again", "suppressed")
