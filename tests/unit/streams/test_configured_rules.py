"""Link and signal rules from the settings (CDP_IDENTITY_LIMITS, CDP_IDENTITY_LINKING_KINDS,
CDP_SIGNAL_RULES): what they change, and the errors that name a bad entry."""

from __future__ import annotations

import pytest

from panorama.errors import ConfigError
from panorama.settings import load_settings
from streams.identity.rules import DEFAULT_LIMITS, configured_link_rules
from streams.signals.rules import SignalRules, configured_signal_rules


@pytest.fixture
def env(monkeypatch):
    def set_env(**values: str):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return load_settings()
    return set_env


def test_unset_the_rules_are_the_defaults(env):
    settings = env()
    assert configured_link_rules(settings).limits == DEFAULT_LIMITS
    assert configured_link_rules(settings).linking_kinds is None
    assert configured_signal_rules(settings) == SignalRules()


def test_limits_override_per_kind_and_null_lifts_one(env):
    rules = configured_link_rules(env(CDP_IDENTITY_LIMITS='{"email": 2, "device_id": null, "external:shop": 1}'))
    assert rules.limits == {"user_id": 1, "email": 2, "phone": 5, "external:shop": 1}
    assert rules.violation(["email:a", "email:b", "email:c"]) == "would hold 3 email identities (limit 2)"
    assert rules.violation([f"device_id:{i}" for i in range(50)]) is None


def test_linking_kinds_keep_the_others_from_linking(env):
    rules = configured_link_rules(env(CDP_IDENTITY_LINKING_KINDS='["user_id", "email", "external"]'))
    assert rules.links("email:h") and rules.links("external:crm:h")
    assert not rules.links("device_id:h") and not rules.links("anonymous_id:h")


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("CDP_IDENTITY_LIMITS", '{"mail": 2}', "CDP_IDENTITY_LIMITS: unknown identity kind 'mail'"),
    ("CDP_IDENTITY_LIMITS", '{"email": 0}', "CDP_IDENTITY_LIMITS: email: a limit is at least 1, got 0"),
    ("CDP_IDENTITY_LINKING_KINDS", '["user_id", "external:"]', "unknown identity kind 'external:'"),
])
def test_a_bad_link_rule_is_named(env, variable, value, message):
    with pytest.raises(ConfigError, match=message):
        configured_link_rules(env(**{variable: value}))


def test_signal_rules_override_the_defaults(env):
    rules = configured_signal_rules(env(CDP_SIGNAL_RULES='{"churned_days": 120, "loyal_orders": 3}'))
    assert (rules.churned_days, rules.loyal_orders, rules.at_risk_days) == (120, 3, SignalRules().at_risk_days)


@pytest.mark.parametrize(("value", "message"), [
    ('{"churn_days": 120}', "unknown rule 'churn_days'; the rules are new_days, "),
    ('{"new_days": 0}', "new_days: must be at least 1, got 0"),
    ('{"churned_days": 60}', r"at_risk_days \(90\) must be below churned_days \(60\)"),
    ('{"high_risk": 120}', "high_risk is a score of 0-100, got 120"),
])
def test_a_bad_signal_rule_is_named(env, value, message):
    with pytest.raises(ConfigError, match=f"CDP_SIGNAL_RULES: {message}"):
        configured_signal_rules(env(CDP_SIGNAL_RULES=value))


def test_a_value_that_is_not_json_fails_at_load_naming_the_variable(env):
    with pytest.raises(ConfigError, match="CDP_SIGNAL_RULES: not valid JSON"):
        env(CDP_SIGNAL_RULES="churned_days=120")
    with pytest.raises(ConfigError, match="CDP_IDENTITY_LIMITS: not valid JSON"):
        env(CDP_SIGNAL_RULES="{}", CDP_IDENTITY_LIMITS="email: 3")
