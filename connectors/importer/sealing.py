"""Routing keys and sealed identities of a columnar chunk, once per customer.

An import's rows repeat their customers: within a chunk (exports sorted by customer) and
across chunks (orders of one customer spread over the file). What the producer does to an
order's identities — its routing key, the forgotten-verdict on each of its identities, its
e-mail and phone sealed under the customer's data key — depends on the identities alone,
so :class:`IdentitySealer` works it out once per distinct (user id, e-mail, phone) and
remembers it for the rest of the import. A customer seen for the first time costs a share
of one key-store round trip per chunk (``connectors.privacy_keys``) and the sealer's own
work; a customer seen before costs a dict lookup.

What is remembered is what the sealer would give again: it seals a customer's repeated
values to the same text (``panorama.privacy.fields.memo_sealer``) and refuses a forgotten
customer's every event alike. Both can change only when a forget or a consent grant moves
the key store's generation (seen within ``privacy_refresh_s``, as by the sealer itself):
everything remembered is then dropped and worked out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from connectors.privacy_keys import prefetch_keys
from panorama.errors import ContractError
from producers.encoder import EventEncoder

# Customers remembered: an entry holds a routing key and two sealed values (~0.5 KB).
KNOWN_MAX = 100_000


@dataclass(slots=True)
class SealedIdentities:
    """Per row of a chunk: its routing key and sealed e-mail and phone; ``refused`` marks
    the rows of forgotten (or unroutable) customers, whose other values are meaningless."""

    keys: list[bytes | None]
    email: pa.Array
    phone: pa.Array
    refused: np.ndarray


class IdentitySealer:
    """Seals the identities of an import's chunks. Not thread-safe (like the encoder)."""

    def __init__(self, encoder: EventEncoder, known_max: int = KNOWN_MAX):
        self.encoder = encoder
        self._known: dict[tuple, tuple[bytes, str | None, str | None] | None] = {}  # None: refused
        self._known_max = known_max
        self._generation: int | None = None

    def __call__(self, user_id: pa.Array, email: pa.Array, phone: pa.Array) -> SealedIdentities:
        """The identities of every row (string columns of one length, nulls allowed).
        Raises KeyStoreUnavailable (a ProducerError) when the key store cannot be reached."""
        first, per_row = _distinct_rows([user_id, email, phone])
        combos = list(zip(*(column.take(first).to_pylist() for column in (user_id, email, phone))))
        self._forget_if_stale()
        known = self._known
        missing = [combo for combo in combos if combo not in known]
        if missing:
            if len(known) + len(missing) > self._known_max:
                known.clear()
            self._work_out(missing)
        found = [known[combo] for combo in combos]
        refused = np.array([entry is None for entry in found], dtype=bool)
        keys = [None if entry is None else entry[0] for entry in found]
        sealed = [entry or (None, None, None) for entry in found]
        return SealedIdentities([keys[i] for i in per_row.tolist()],
                                pa.array([s[1] for s in sealed], pa.string()).take(per_row),
                                pa.array([s[2] for s in sealed], pa.string()).take(per_row),
                                refused[per_row])

    def _forget_if_stale(self) -> None:
        privacy = self.encoder.privacy
        if privacy is None:
            return
        privacy.keystore.refresh()
        if privacy.keystore.generation != self._generation:
            self._known.clear()
            self._generation = privacy.keystore.generation

    def _work_out(self, combos: list[tuple]) -> None:
        """Route and seal customers not seen before (their keys fetched in one go)."""
        route, privacy = self.encoder.keys.for_identities, self.encoder.privacy
        routed = []
        for combo in combos:
            identities = row_identities(*combo)
            try:
                routed.append((combo, identities, route(identities)))
            except ContractError:
                self._known[combo] = None
        prefetch_keys(self.encoder, [{"identities": identities} for _, identities, _ in routed])
        for combo, identities, key in routed:
            try:
                sealed = privacy.seal({"identities": identities}, key)["identities"] if privacy else identities
            except ContractError:  # a forgotten customer (SuppressedIdentity)
                self._known[combo] = None
                continue
            self._known[combo] = (key, sealed["email"], sealed["phone"])


def row_identities(user_id: str | None, email: str | None, phone: str | None) -> dict[str, Any]:
    """The identities record of a columnar layout's row, as the row path builds it."""
    return {"user_id": user_id, "anonymous_id": None, "email": email, "phone": phone, "device_id": None,
            "external_ids": {}}


def _distinct_rows(columns: list[pa.Array]) -> tuple[pa.Array, np.ndarray]:
    """(the first row of each distinct combination of ``columns``' values, each row's
    combination as an index into those): the values compared exactly, nulls as a value of
    their own, without building a Python tuple per row."""
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        encoded = column.dictionary_encode()
        codes = codes * (len(encoded.dictionary) + 1) + encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False) + 1
        _, first, codes = np.unique(codes, return_index=True, return_inverse=True)  # dense: products never overflow
    return pa.array(first, pa.int64()), codes
