from collections import Counter

from connectors.demo import generate_population
from schemas.validation import validate


def test_demo_population_is_valid_deterministic_and_multichannel():
    events = list(generate_population(200, seed=3))
    for event in events:
        validate(event)
    assert [e["event_id"] for e in events] == [e["event_id"] for e in generate_population(200, seed=3)]
    types = Counter(e["type"] for e in events)
    for kind in ("identify", "page", "screen", "order_placed", "email_opened", "email_clicked", "ticket_opened",
                 "call_logged", "survey_answered", "loyalty_points_earned", "consent_changed"):
        assert types[kind] > 0, kind
    channels = {e["source"]["channel"] for e in events}
    assert {"web", "mobile", "email", "support", "call_center", "loyalty"} <= channels
    assert any(e["identities"]["device_id"] and e["identities"]["user_id"] for e in events)
    assert any(e["context"]["campaign"] for e in events)
