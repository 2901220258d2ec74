"""Settings, routing keys, dead-letter records and PII masking: no I/O."""

from __future__ import annotations

import pytest

from panorama.errors import ConfigError, ContractError
from panorama.log_reader import MASK, mask_pii, readable
from panorama.settings import load_settings
from producers.dead_letter import dead_letter_record, read_dead_letter
from producers.keys import RoutingKeys
from schemas.contract import pii_fields
from schemas.examples import example_records


def test_invalid_settings_name_the_variable(monkeypatch):
    monkeypatch.setenv("CDP_KAFKA_PORT", "not-a-port")
    monkeypatch.setenv("CDP_REDIS_URL", "http://wrong")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "CDP_KAFKA_PORT" in str(err.value) and "CDP_REDIS_URL" in str(err.value)


def test_worker_batch_size_from_the_environment(monkeypatch):
    monkeypatch.setenv("CDP_WORKER_BATCH_SIZE", "250")
    assert load_settings().worker_batch_size == 250
    monkeypatch.setenv("CDP_WORKER_BATCH_SIZE", "0")
    with pytest.raises(ConfigError, match="CDP_WORKER_BATCH_SIZE"):
        load_settings()


def test_settings_from_a_file(tmp_path):
    config = tmp_path / "cdp.env"
    config.write_text("CDP_TOPIC_PREFIX=acme\nCDP_KAFKA_BOOTSTRAP=kafka:9092\n")
    settings = load_settings(config)
    assert settings.topics.interactions == "acme.interactions"
    assert settings.kafka_address == "kafka:9092"
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.env")


def test_secrets_never_show_in_settings_repr():
    settings = load_settings(routing_key_secret="s3cret-value")
    assert "s3cret-value" not in repr(settings)


def test_routing_keys_are_stable_keyed_and_free_of_plaintext():
    record = example_records()["identify"]
    keys = RoutingKeys(b"secret-a")
    key = keys.for_identities(record["identities"])
    assert key == keys.for_identities(dict(record["identities"]))
    assert key != RoutingKeys(b"secret-b").for_identities(record["identities"])
    assert b"u-4821" not in key and b"example.com" not in key
    # the strongest identity decides: the same user_id with another email is the same key
    other_email = dict(record["identities"], email="someone.else@example.com")
    assert keys.for_identities(other_email) == key


def test_dead_letter_record_carries_reason_and_the_shape_of_the_payload_only():
    value, headers = dead_letter_record(b'{"type": "track"', ContractError("type", "not JSON", code="malformed"))
    body = read_dead_letter(value)
    assert body["reason"] == "malformed" and body["problem"] == "not JSON"
    assert body["redacted"] == {"base64": "<str>"}  # no subject to seal it under: shape only
    assert ("reason", b"malformed") in headers


def test_every_pii_field_is_masked_and_nothing_else():
    record = example_records()["order_placed"]
    masked = mask_pii(record)
    assert masked["identities"]["email"] == MASK and masked["identities"]["phone"] == MASK
    assert masked["order"]["shipping_address"] == MASK
    assert masked["order"]["total"] == record["order"]["total"]
    text = str(masked)
    for needle in ("ana.martins", "+33612345678", "rue de la Paix", "203.0.113.42"):
        assert needle not in text
    assert {path.split(".")[0] for path, _ in pii_fields()} >= {"identities", "traits", "context"}


def test_readable_drops_empty_fields_and_formats_times():
    shown = readable(example_records()["track"])
    assert shown["occurred_at"].startswith("2024-06-10T")
    assert "order" not in shown


def test_kafka_cluster_ids_never_look_like_options():
    from panorama.stack.kafka import _cluster_id

    ids = [_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)
