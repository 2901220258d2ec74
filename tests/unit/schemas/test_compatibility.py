"""Every version must read what every older (or the same) version wrote.

Runs over whatever v<N>.avsc files exist, so adding v2.avsc is enforced by CI with no
test change. The in-memory v2 cases prove the check catches a breaking change.
"""

import copy
import itertools

import pytest

from schemas.codec import InteractionCodec
from schemas.compatibility import check_can_read
from schemas.contract import SchemaVersion, current_schema, schema_versions
from schemas.examples import example_records

VERSION_PAIRS = [
    (old, new) for old, new in itertools.product(schema_versions(), repeat=2) if old.version <= new.version
]


@pytest.mark.parametrize(("writer", "reader"), VERSION_PAIRS, ids=[f"v{w.version}->v{r.version}" for w, r in VERSION_PAIRS])
def test_newer_versions_read_older_data(writer, reader):
    assert check_can_read(writer.schema, reader.schema, example_records().values()) == []


def _v2_with(field):
    schema = copy.deepcopy(current_schema())
    schema["fields"].append(field)
    return schema


def test_adding_a_field_with_a_default_is_compatible():
    v2 = _v2_with({"name": "loyalty_tier", "type": ["null", "string"], "default": None})
    assert check_can_read(current_schema(), v2, example_records().values()) == []


def test_adding_a_field_without_a_default_is_caught():
    v2 = _v2_with({"name": "loyalty_tier", "type": "string"})
    problems = check_can_read(current_schema(), v2, example_records().values())
    assert problems and "loyalty_tier" in problems[0]


def test_no_samples_is_not_a_pass():
    assert check_can_read(current_schema(), current_schema(), []) != []


def test_codec_decodes_v1_bytes_into_a_v2_reader():
    v1 = schema_versions()[-1]
    v2 = SchemaVersion(v1.version + 1, _v2_with({"name": "loyalty_tier", "type": ["null", "string"], "default": None}))
    old_bytes = InteractionCodec([v1]).encode(example_records()["track"])
    decoded = InteractionCodec([v1, v2]).decode(old_bytes)
    assert decoded["loyalty_tier"] is None
    assert decoded["event_id"] == example_records()["track"]["event_id"]
