import pytest

pytestmark = pytest.mark.integration


def test_track_roundtrip(collector):
    r = collector.post("/v1/track", json={"userId": "u1", "event": "Signed Up", "properties": {"plan": "pro"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}
