"""Retention policies: parsed and validated with errors naming the entry, the cutoffs,
what they mean for Kafka, and the ClickHouse condition they become."""

from __future__ import annotations

import pytest

from panorama.errors import ConfigError
from panorama.privacy.retention import DAY_US, RetentionPolicy, expired, kafka_note, load_policy, parse_policy
from projections.retention import expired_condition

NOW = 1_750_000_000_000_000


def test_a_toml_or_json_file_is_read_and_unset_keeps_everything(tmp_path):
    toml = tmp_path / "retention.toml"
    toml.write_text('"*" = "keep"\npage = 90\ntrack = 365\n')
    json_file = tmp_path / "retention.json"
    json_file.write_text('{"*": 30, "order_placed": "keep"}')
    assert load_policy(toml) == RetentionPolicy({"page": 90, "track": 365}, None)
    assert load_policy(json_file) == RetentionPolicy({"order_placed": None}, 30)
    assert load_policy(None).keeps_everything


@pytest.mark.parametrize(("document", "named"), [
    ({"pageview": 3}, "'pageview' is not an event type"),
    ({"page": 0}, "page: 0 must be a whole number of days"),
    ({"page": 1.5}, "page: 1.5 must be"),
    ({"page": True}, "page: True must be"),
    ({"*": "forever"}, "*: 'forever' must be"),
])
def test_bad_entries_are_named(document, named):
    with pytest.raises(ConfigError, match=named.replace("*", r"\*").replace("(", r"\(")):
        parse_policy(document)


def test_unreadable_files_name_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="CDP_RETENTION_FILE: cannot read"):
        load_policy(tmp_path / "missing.toml")
    broken = tmp_path / "r.toml"
    broken.write_text("page = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_policy(broken)


def test_named_types_follow_their_own_entry_and_others_the_default():
    policy = parse_policy({"*": 30, "page": 7, "order_placed": "keep"})
    assert expired(policy, "page", NOW - 8 * DAY_US, NOW) and not expired(policy, "page", NOW - 6 * DAY_US, NOW)
    assert expired(policy, "track", NOW - 31 * DAY_US, NOW) and not expired(policy, "track", NOW - 29 * DAY_US, NOW)
    assert not expired(policy, "order_placed", NOW - 10_000 * DAY_US, NOW)
    assert (policy.shortest, policy.longest) == (7, None)
    assert parse_policy({"*": 30, "page": 400}).longest == 400


def test_the_clickhouse_condition_exempts_named_types_from_the_default():
    condition = expired_condition(parse_policy({"*": 30, "page": 7, "order_placed": "keep"}), NOW)
    assert f"(type = 'page' AND occurred_at < fromUnixTimestamp64Micro(toInt64({NOW - 7 * DAY_US}), 'UTC'))" in condition
    assert f"(type NOT IN ('order_placed', 'page') AND occurred_at < fromUnixTimestamp64Micro(toInt64({NOW - 30 * DAY_US})" in condition
    assert expired_condition(parse_policy({"page": "keep"}), NOW) is None


def test_what_the_policy_means_for_the_kafka_log():
    assert "keeps everything" in kafka_note(RetentionPolicy(), -1)
    assert "must be too" in kafka_note(parse_policy({"page": 7}), -1)  # '*' unset: other types kept for ever
    assert "retention.ms to 2592000000" in kafka_note(parse_policy({"*": 30, "page": 7}), -1)
    assert "within the longest policy" in kafka_note(parse_policy({"*": 30, "page": 7}), 30 * 86_400_000)
