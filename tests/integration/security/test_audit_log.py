"""The audit log on the real broker: records are durable, searchable by actor, action and
time, and load into ClickHouse without duplicates when loaded twice."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from panorama.security.audit import AuditLog
from panorama.security.audit_search import AuditQuery, load_audit, read_audit, search_audit
from panorama.settings import Settings
from projections import ddl

pytestmark = pytest.mark.integration


def test_records_are_searchable_by_actor_action_and_time(settings: Settings):
    with AuditLog(settings) as log:
        log.record("key:ops", "key.create", "k_1", role="admin", details={"role": "support"})
        time.sleep(0.05)
        middle = datetime.now(UTC)
        time.sleep(0.05)
        log.record("key:ana", "profile.read", "email:abc", reason="ticket 7", role="support")
        log.record("key:ops", "key.revoke", "k_1", role="admin")
    everything = list(read_audit(settings))
    assert [e["action"] for e in everything] == ["key.create", "profile.read", "key.revoke"]
    assert everything[1]["reason"] == "ticket 7" and everything[1]["role"] == "support"
    assert [e["action"] for e in search_audit(settings, AuditQuery(actor="key:ops"))] == ["key.create", "key.revoke"]
    assert [e["action"] for e in search_audit(settings, AuditQuery(action="key.*"))] == ["key.create", "key.revoke"]
    assert [e["action"] for e in search_audit(settings, AuditQuery(since=middle))] == ["profile.read", "key.revoke"]
    assert [e["action"] for e in search_audit(settings, AuditQuery(limit=1))] == ["key.revoke"]
    assert everything[0]["details"] == {"workspace": settings.topic_prefix, "role": "support"}
    assert search_audit(settings, AuditQuery(workspace="elsewhere")) == []


def test_loading_twice_keeps_one_row_per_event(settings: Settings, tmp_path):
    from projections.store import analytics_store

    with AuditLog(settings) as log:
        for n in range(5):
            log.record(f"key:k{n}", "profile.read", f"customer:{n}", role="support")
    with analytics_store(settings.model_copy(update={"data_dir": tmp_path})) as backend:
        backend.command(ddl.audit_log())
        assert load_audit(settings, backend) == 5
        assert 1 <= load_audit(settings, backend) < 5  # from the newest row's time on, not from the start
        rows = backend.query("SELECT actor, action, subject FROM audit_log FINAL ORDER BY at").rows
    assert [tuple(r) for r in rows] == [(f"key:k{n}", "profile.read", f"customer:{n}") for n in range(5)]


def test_an_unreachable_log_refuses(settings: Settings):
    from panorama.security.errors import AuditError
    from panorama.stack.ephemeral import free_port

    nowhere = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    with AuditLog(nowhere, timeout=1.0) as log:
        with pytest.raises(AuditError, match="not written"):
            log.record("key:k", "profile.read", "customer:x")
