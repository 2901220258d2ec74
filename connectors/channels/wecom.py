"""WeCom (企业微信) external-contact callbacks: a customer added, edited or removed as a
contact of a company employee.

WeCom posts every callback encrypted (the WXBizMsgCrypt scheme of
:mod:`connectors.channels.msg_crypt`, receiver id = the corp id) with ``msg_signature``,
``timestamp`` and ``nonce`` in the query; the URL check is a GET whose ``echostr`` is
itself encrypted, answered with its plaintext. Decrypted, a callback is flat XML:
``ToUserName`` (corp id), ``CreateTime`` (epoch seconds), ``MsgType=event``,
``Event=change_external_contact`` and ``ChangeType``:

* ``add_external_contact`` / ``add_half_external_contact`` (the customer added the
  employee, who has / has not accepted yet): ``UserID`` (employee), ``ExternalUserID``,
  ``State`` (the "contact me" channel code), ``WelcomeCode`` (not kept: a short-lived token);
* ``edit_external_contact``, ``del_follow_user`` (the customer removed the employee):
  ``UserID``, ``ExternalUserID``;
* ``del_external_contact`` (the employee removed the customer): also ``Source``
  (``DELETE_BY_TRANSFER`` when a handover removed them);
* ``transfer_fail``: ``FailReason`` (``customer_refused``, ``customer_limit_exceed``).

Group-chat callbacks (``change_external_chat``) name a chat and no customer, so they carry
no identity the contract can key by: they are refused with ``unknown_type``.
WeCom retries an unanswered callback unchanged, so (corp, change, customer, employee,
CreateTime) is the natural key of the event id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from connectors import records
from connectors.base import Connector
from connectors.channels.msg_crypt import EncodingAESKey, MsgCrypt
from panorama.errors import ContractError

_TRACKED = {
    "add_half_external_contact": "WeCom Contact Added Pending",
    "edit_external_contact": "WeCom Contact Edited",
    "del_external_contact": "WeCom Contact Removed by Employee",
    "del_follow_user": "WeCom Employee Removed by Contact",
    "transfer_fail": "WeCom Contact Transfer Failed",
}
_DETAILS = {"State": "state", "Source": "source", "FailReason": "fail_reason"}


class WeComConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    token: SecretStr
    encoding_aes_key: EncodingAESKey  # the 43-character EncodingAESKey of the callback settings
    corp_id: str  # the receiver id every ciphertext must be addressed to


class WeComExternalContactConnector(Connector):
    name = "wecom"
    channel = "wecom"
    description = "WeCom external-contact callbacks (encrypted): contact added, edited, removed, transfer failed"
    input_format = "xml"
    Config = WeComConfig

    def __init__(self, config: Any = None):
        super().__init__(config)
        c = self.config
        self._crypt = MsgCrypt(c.token.get_secret_value(), c.encoding_aes_key.get_secret_value(), c.corp_id)

    def verify(self, params: Mapping[str, str], headers: Mapping[str, str], body: bytes, url: str = "") -> None:
        # a POST signs the body's ciphertext; the GET URL check (empty body) signs echostr
        self._crypt.verify_request(params, self._crypt.ciphertext(body) if body else params.get("echostr", ""))

    def unwrap(self, params: Mapping[str, str], body: bytes) -> bytes:
        return self._crypt.open_body(body)

    def handshake(self, params: Mapping[str, str]) -> str | None:
        return self._crypt.decrypt(params.get("echostr", ""), "echostr")

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict):
            raise ContractError("<body>", "a WeCom callback is an XML document", "malformed")
        if raw.get("Event") != "change_external_contact":
            raise ContractError("Event", f"{raw.get('Event')!r:.40} is not an external-contact change this connector maps",
                                "unknown_type")
        change, customer, employee = raw.get("ChangeType", ""), raw.get("ExternalUserID"), raw.get("UserID")
        if change != "add_external_contact" and change not in _TRACKED:
            raise ContractError("ChangeType", f"{change!r:.40} is not an external-contact change this connector maps",
                                "unknown_type")
        if not customer:
            raise ContractError("ExternalUserID", "an external-contact change needs the customer's ExternalUserID", "malformed")
        properties = {"corp_id": raw.get("ToUserName"), "employee_id": employee} | {
            name: raw[tag] for tag, name in _DETAILS.items() if raw.get(tag)}
        common = {
            "event_id": records.batch_event_id(self.name, raw.get("ToUserName"), change, customer, employee, raw.get("CreateTime")),
            "occurred_at": records.timestamp(raw.get("CreateTime"), "CreateTime"),
            "received_at": received_at, "connector": self.name, "channel": self.channel,
            "identities": {"external_ids": {"wecom_external_userid": customer}},
            "properties": properties,
        }
        if change == "add_external_contact":
            social = {"platform": "wecom", "interaction": "follow", "post_id": None, "handle": None, "text": None,
                      "sentiment": None}
            return [records.interaction("social_interaction", payload=social, **common)]
        return [records.interaction("track", name=_TRACKED[change], **common)]
