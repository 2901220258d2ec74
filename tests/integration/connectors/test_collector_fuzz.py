"""Property-based fuzz of the collector: whatever a client sends, the answer is never a
5xx, and everything answered 200 is in Kafka (accepted or dead-lettered), nothing more."""

import gzip

import orjson
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from tests.integration.connectors.readback import dead_letters, interactions

pytestmark = pytest.mark.integration

json_scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
timestamps = st.sampled_from(["2024-06-10T06:13:20Z", "2999-01-01T00:00:00Z", "yesterday", "1999-12-31T23:59:59Z", ""]) | st.integers(-2**63, 2**63 - 1)
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias", "launch"]),
        "userId": st.text(max_size=12) | st.integers(-2**63, 2**63 - 1) | json_values,
        "anonymousId": st.text(max_size=12),
        "event": st.text(max_size=20) | json_values,
        "messageId": st.text(max_size=40) | st.uuids().map(str),
        "timestamp": timestamps,
        "properties": st.dictionaries(st.text(max_size=8), json_values, max_size=4) | json_values,
        "traits": st.dictionaries(st.sampled_from(["email", "phone", "firstName", "birthday", "address", "company", "x"]), json_values | st.text(max_size=20), max_size=4),
        "context": st.fixed_dictionaries({}, optional={"ip": json_values, "page": json_values, "campaign": json_values, "device": json_values}),
        "groupId": json_values,
        "previousId": json_values,
    },
)
bodies = st.one_of(
    st.builds(lambda batch: ("/v1/batch", orjson.dumps({"batch": batch}), len(batch)), st.lists(messages | json_values, max_size=8)),
    st.builds(lambda kind, m: (f"/v1/{kind}", orjson.dumps(m), 1), st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]), messages),
    st.builds(lambda raw: ("/v1/batch", raw, 0), st.binary(max_size=64)),
)


def test_no_5xx_and_no_accepted_but_lost(collector, settings):
    tally = {"accepted": 0, "dead": 0}

    @hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(requests=st.lists(st.tuples(bodies, st.booleans()), min_size=1, max_size=4))
    def post(requests):
        for (path, body, count), gzipped in requests:
            headers = {"Content-Type": "application/json"} | ({"Content-Encoding": "gzip"} if gzipped else {})
            r = collector.post(path, content=gzip.compress(body) if gzipped else body, headers=headers)
            assert r.status_code < 500, r.text
            answer = r.json()
            if r.status_code == 200:
                dead = len(answer.get("dead_lettered", []))
                tally["accepted"] += count - dead
                tally["dead"] += dead
            else:
                assert answer["success"] is False and answer["error"]["problem"]

    post()
    assert tally["accepted"] > 0 and tally["dead"] > 0
    assert len(interactions(settings)) == tally["accepted"]
    dlq = dead_letters(settings)
    assert len(dlq) == tally["dead"] and all(d["reason"] for d in dlq)
