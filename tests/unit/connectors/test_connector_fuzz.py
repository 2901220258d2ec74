"""Every webhook connector, fed arbitrary input of its format: it maps it or raises
ContractError naming the problem, never another exception (which the collector would
answer with a 500)."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from connectors import registry
from panorama.errors import ContractError
from tests.unit.connectors.channels.test_msg_crypt import AES_KEY, CORP_ID, TOKEN
from tests.unit.connectors.helpers import RECEIVED_AT

CONFIGS = {"wechat": {"token": TOKEN}, "wecom": {"token": TOKEN, "encoding_aes_key": AES_KEY, "corp_id": CORP_ID},
           "meta": {"verify_token": "vt"}}
WEBHOOKS = [name for name in registry.names() if name != "segment" and registry.get(name).input_format != "row"]

# keys the connectors look for, so the fuzz reaches past the first check
keys = st.sampled_from(["event", "email", "timestamp", "sg_event_id", "id", "CallSid", "CallStatus", "Direction",
                        "FromUserName", "MsgType", "Event", "ChangeType", "ExternalUserID", "CreateTime", "object",
                        "entry", "changes", "messaging", "order", "ticket", "form_response", "points", "status"]) | st.text(max_size=8)
scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | st.text(max_size=12) | st.sampled_from(
    ["page", "instagram", "feed", "comment", "add", "like", "mention", "comments", "opened", "solved", "completed"])
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
                           max_leaves=12)
flat = st.dictionaries(keys, st.text(max_size=12) | st.sampled_from(["event", "text", "subscribe", "completed", "inbound",
                                                                      "change_external_contact", "add_external_contact",
                                                                      "1718000000", "page", "instagram"]), max_size=8)
structured = st.dictionaries(keys, json_values, max_size=6)


def inputs(input_format: str):
    return flat if input_format in ("xml", "form") else structured | json_values


@pytest.mark.parametrize("name", WEBHOOKS)
def test_only_contract_errors_escape(name):
    cls = registry.get(name)
    connector = cls(CONFIGS.get(name, {}))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(raw=inputs(cls.input_format))
    def fuzz(raw):
        try:
            for unit in connector.split(raw):
                connector.to_events(unit, RECEIVED_AT)
        except ContractError:
            pass

    fuzz()
