"""The event contract: versioned Avro schemas, the codec, validation, models.

Hot path (producers, stream workers)::

    codec = InteractionCodec()          # once per process
    validate(record)                    # semantic rules, ContractError on failure
    data = codec.encode(record)         # Avro single-object bytes
    record = codec.decode(data)         # any known writer version -> current schema
"""

from schemas.codec import InteractionCodec
from schemas.contract import CANONICAL_TYPES, pii_fields
from schemas.identities import normalise_email, normalise_phone, routing_identity
from schemas.validation import validate

__all__ = [
    "CANONICAL_TYPES",
    "InteractionCodec",
    "normalise_email",
    "normalise_phone",
    "pii_fields",
    "routing_identity",
    "validate",
]
