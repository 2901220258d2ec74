"""v2 adds ``consent_change.recipient`` and ``destination_region`` (PIPL's separate
consent per recipient and for transfers abroad): old data reads with the new schema, new
data with the old ones, through the codec's generated writer and reader too."""

import itertools

import pytest

from schemas.codec import InteractionCodec
from schemas.compatibility import check_can_read
from schemas.contract import schema_versions
from schemas.examples import example_records

FORWARD_PAIRS = [(new, old) for old, new in itertools.product(schema_versions(), repeat=2) if old.version < new.version]


def _transfer() -> dict:
    record = example_records()["consent_changed"]
    record["consent_change"] |= {"purpose": "cross_border_transfer", "channel": None,
                                 "recipient": "Acme Analytics Pte Ltd", "destination_region": "SG"}
    record["consent"] = {"cross_border_transfer@Acme Analytics Pte Ltd/SG": True}
    return record


@pytest.mark.parametrize(("writer", "reader"), FORWARD_PAIRS, ids=[f"v{w.version}->v{r.version}" for w, r in FORWARD_PAIRS])
def test_older_versions_read_newer_data(writer, reader):
    assert check_can_read(writer.schema, reader.schema, [*example_records().values(), _transfer()]) == []


def test_v1_bytes_decode_with_no_recipient_and_no_region():
    v1 = schema_versions()[0]
    old_bytes = InteractionCodec([v1]).encode(example_records()["consent_changed"])
    change = InteractionCodec().decode(old_bytes)["consent_change"]
    assert (change["recipient"], change["destination_region"]) == (None, None)
    assert change["purpose"] == "marketing"


def test_the_recipient_and_region_round_trip_through_the_generated_codec():
    codec = InteractionCodec()
    assert codec.version >= 2
    change = codec.decode(codec.encode(_transfer()))["consent_change"]
    assert (change["recipient"], change["destination_region"]) == ("Acme Analytics Pte Ltd", "SG")

