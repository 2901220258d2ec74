"""Keys in the real Redis: stored hashed, rotated, revoked, and every CLI change audited."""

from __future__ import annotations

import hashlib

import pytest
import redis
from typer.testing import CliRunner

from panorama.cli import app
from panorama.security.audit_search import AuditQuery, search_audit
from panorama.security.errors import KeyStoreError
from panorama.security.keys import KeyStore
from panorama.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def store(settings: Settings):
    store = KeyStore(settings)
    yield store
    store.close()


def test_only_the_hash_is_stored(settings: Settings, store: KeyStore):
    key, record = store.create("ana", "marketing", grants=("pii",))
    client = redis.Redis.from_url(settings.redis_address)
    stored = b"".join(k + b"".join(client.hgetall(k).values()) if client.type(k) == b"hash" else k + (client.get(k) or b"")
                      for k in client.scan_iter(f"{settings.topic_prefix}:keys:*") if client.type(k) != b"set")
    assert key.encode() not in stored and key.split("_")[-1].encode() not in stored
    assert hashlib.sha256(key.encode()).hexdigest().encode() in stored
    assert store.lookup(key) == record and record.grants == ("pii",) and record.workspace == settings.topic_prefix


def test_rotation_replaces_the_secret_and_revocation_is_remembered(store: KeyStore):
    old, record = store.create("support desk", "support", workspace="brand-b")
    new, rotated = store.rotate(record.key_id)
    assert store.lookup(old) is None and store.lookup(new).key_id == record.key_id
    assert rotated.rotated_at is not None and rotated.role == "support" and rotated.workspace == "brand-b"
    store.revoke(record.key_id)
    assert store.lookup(new).revoked
    with pytest.raises(KeyStoreError, match="revoked"):
        store.rotate(record.key_id)


@pytest.mark.parametrize(("args", "field"), [
    ({"role": "root"}, "role"), ({"workspace": "a b"}, "workspace"), ({"grants": ("everything",)}, "grants"),
    ({"rate_limit": -1}, "rate_limit"),
])
def test_bad_fields_are_named(store: KeyStore, args, field):
    with pytest.raises(KeyStoreError, match=f"^{field}"):
        store.create("x", **({"role": "support"} | args))


def test_cli_prints_the_key_once_and_audits_every_change(settings: Settings, monkeypatch):
    for name, value in {"CDP_REDIS_URL": settings.redis_address, "CDP_KAFKA_BOOTSTRAP": settings.kafka_address,
                        "CDP_TOPIC_PREFIX": settings.topic_prefix}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--role", "support", "--name", "desk"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    [record] = KeyStore(settings).list()
    listed = runner.invoke(app, ["keys", "list", "--json"])
    assert record.key_id in listed.stdout and key not in listed.stdout
    rotated = runner.invoke(app, ["keys", "rotate", record.key_id])
    assert rotated.exit_code == 0 and rotated.stdout.strip() not in ("", key)
    assert runner.invoke(app, ["keys", "revoke", record.key_id]).exit_code == 0
    trail = search_audit(settings, AuditQuery(subject=record.key_id))
    assert [e["action"] for e in trail] == ["key.create", "key.rotate", "key.revoke"]
    assert all(e["actor"].startswith("cli:") and key not in str(e) for e in trail)
    found = runner.invoke(app, ["audit", "--action", "key.*", "--limit", "2"])
    assert [line.count("key.r") for line in found.stdout.strip().splitlines()] == [1, 1]


def test_first_admin_hint_until_an_admin_key_exists(settings: Settings, store: KeyStore):
    from panorama.security.cli import first_admin_hint

    assert "cdp keys create --role admin" in first_admin_hint(settings)
    store.create("ops", "admin")
    assert first_admin_hint(settings) is None


def test_cdp_profile_get_is_audited_even_when_nothing_is_found(settings: Settings, monkeypatch):
    for name, value in {"CDP_REDIS_URL": settings.redis_address, "CDP_KAFKA_BOOTSTRAP": settings.kafka_address,
                        "CDP_TOPIC_PREFIX": settings.topic_prefix}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["profile", "get", "user_id:nobody-here", "--purpose", "ticket 9"])
    assert result.exit_code == 1
    [event] = search_audit(settings, AuditQuery(action="profile.read"))
    assert (event["outcome"], event["reason"], event["role"]) == ("not_found", "ticket 9", "operator")
    assert event["subject"].startswith("user_id:") and "nobody-here" not in str(event)
