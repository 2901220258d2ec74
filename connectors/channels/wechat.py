"""WeChat Official Account and Mini Program pushes (plaintext mode).

WeChat signs every request to the server URL with query parameters ``signature``,
``timestamp`` and ``nonce``: ``signature`` = SHA-1 of the sorted concatenation of the
configured ``token``, ``timestamp`` and ``nonce``. The URL check is a GET that must echo
``echostr``. Pushes are XML: ``ToUserName`` (the account), ``FromUserName`` (the user's
OpenID), ``CreateTime`` (epoch seconds), ``MsgType`` and, for ``MsgType=event``,
``Event``: ``subscribe`` (``EventKey`` = ``qrscene_<scene>`` when via a QR code),
``unsubscribe``, ``SCAN``, ``CLICK``, ``VIEW``, ``TEMPLATESENDJOBFINISH`` (``Status``,
``MsgID``); Mini Program customer-service sessions push ``user_enter_tempsession``.
User messages (``MsgType=text`` with ``Content``, ``MsgId``) are direct messages.

WeChat retries a push it got no answer to, with the same ``MsgId`` (messages) or the same
``FromUserName`` + ``CreateTime`` (events); both are the natural key of the event id.

Encrypted ("safe" or compatible) mode: with ``encoding_aes_key`` and ``app_id`` set, a push
whose query says ``encrypt_type=aes`` must also carry a ``msg_signature`` over its
ciphertext, and its ``Encrypt`` element is decrypted with the WXBizMsgCrypt scheme
(:mod:`connectors.channels.msg_crypt`, receiver id = the appid). The URL check stays plain.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from connectors import records
from connectors.base import Connector
from connectors.channels.msg_crypt import EncodingAESKey, MsgCrypt
from panorama.errors import ContractError

# Event -> track name (subscribe and user messages become social interactions)
_TRACKED = {
    "unsubscribe": "WeChat Unfollowed",
    "SCAN": "WeChat QR Code Scanned",
    "CLICK": "WeChat Menu Clicked",
    "VIEW": "WeChat Menu Link Opened",
    "TEMPLATESENDJOBFINISH": "WeChat Template Message Status",
    "user_enter_tempsession": "WeChat Mini Program Session Started",
}


class WeChatConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    token: SecretStr
    app: str = "official_account"  # or mini_program
    encoding_aes_key: EncodingAESKey | None = None  # safe mode: the 43-character EncodingAESKey
    app_id: str | None = None  # safe mode: the appid the ciphertext is addressed to

    @model_validator(mode="after")
    def _safe_mode_pair(self) -> WeChatConfig:
        if (self.encoding_aes_key is None) != (self.app_id is None):
            raise ValueError("safe mode needs both encoding_aes_key and app_id")
        return self


def signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


class WeChatConnector(Connector):
    name = "wechat"
    channel = "wechat"
    description = "WeChat Official Account / Mini Program pushes: follow, scan, menu click, template status, messages"
    input_format = "xml"
    Config = WeChatConfig

    def __init__(self, config: Any = None):
        super().__init__(config)
        key = self.config.encoding_aes_key
        self._crypt = None if key is None else MsgCrypt(self.config.token.get_secret_value(), key.get_secret_value(), self.config.app_id)

    def verify(self, params: Mapping[str, str], headers: Mapping[str, str], body: bytes, url: str = "") -> None:
        expected = signature(self.config.token.get_secret_value(), params.get("timestamp", ""), params.get("nonce", ""))
        if not hmac.compare_digest(expected, params.get("signature", "")):
            raise ContractError("signature", "does not match token, timestamp and nonce", "bad_signature")
        if body and self._encrypted(params):
            self._crypt.verify_request(params, self._crypt.ciphertext(body))

    def unwrap(self, params: Mapping[str, str], body: bytes) -> bytes:
        return self._crypt.open_body(body) if self._encrypted(params) else body

    def _encrypted(self, params: Mapping[str, str]) -> bool:
        if params.get("encrypt_type", "raw") != "aes":
            return False
        if self._crypt is None:
            raise ContractError("encrypt_type", "the push is encrypted but this source's wechat settings have no "
                                "encoding_aes_key and app_id", "not_configured")
        return True

    def handshake(self, params: Mapping[str, str]) -> str | None:
        return params.get("echostr", "")

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict) or not raw.get("FromUserName"):
            raise ContractError("FromUserName", "a WeChat push needs the user's OpenID", "malformed")
        msg_type = raw.get("MsgType")
        event = raw.get("Event", "")
        openid = raw["FromUserName"]
        common = {
            "event_id": records.batch_event_id(self.name, raw.get("ToUserName"), raw.get("MsgId") or f"{openid}:{raw.get('CreateTime')}:{event}"),
            "occurred_at": records.timestamp(raw.get("CreateTime"), "CreateTime"),
            "received_at": received_at, "connector": self.name, "channel": self.channel,
            "identities": {"external_ids": {"wechat_openid": openid, "wechat_unionid": raw.get("UnionId")}},
        }
        account = {"account": raw.get("ToUserName"), "app": self.config.app}
        if msg_type == "text":
            return [records.interaction("social_interaction", payload=_social("direct_message", raw, raw.get("Content")), properties=account, **common)]
        if msg_type != "event":
            return [records.interaction("track", name=f"WeChat {msg_type or 'Unknown'} Message", properties=account | {"msg_type": msg_type}, **common)]
        if event == "subscribe":
            scene = raw.get("EventKey", "").removeprefix("qrscene_") or None
            return [records.interaction("social_interaction", payload=_social("follow", raw, None), properties=account | {"scene": scene}, **common)]
        if event not in _TRACKED:
            raise ContractError("Event", f"{event!r:.40} is not a WeChat event this connector maps", "unknown_type")
        details = {"key": raw.get("EventKey") or None, "status": raw.get("Status") or None, "msg_id": raw.get("MsgID") or None}
        return [records.interaction("track", name=_TRACKED[event], properties=account | {k: v for k, v in details.items() if v}, **common)]


def _social(interaction: str, raw: dict, text: str | None) -> dict[str, Any]:
    return {"platform": "wechat", "interaction": interaction, "post_id": raw.get("MsgId"), "handle": None,
            "text": text, "sentiment": None}
