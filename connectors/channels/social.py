"""Social-media interactions from Meta's webhooks (Facebook Pages, Messenger, Instagram).

Meta posts JSON ``{"object": "page" | "instagram", "entry": [...]}``; each entry (``id`` =
the page or Instagram account, ``time`` = epoch seconds) holds ``changes`` (``field`` +
``value``) and/or ``messaging`` items. Mapped, each to one ``social_interaction``:

* page ``feed`` with ``item=comment, verb=add`` (``from``, ``post_id``, ``comment_id``,
  ``message``, ``created_time``) → ``comment``; ``item=like, verb=add`` without a
  ``post_id`` (a like of the page itself, ``user_id``) → ``follow``. Other feed items
  (reactions, shares, edits, removals, the page's own posts) yield no event;
* page ``mention`` (``sender_id``, ``sender_name``, ``post_id``) → ``mention``;
* Instagram ``comments`` (``id``, ``from.id``, ``from.username``, ``media.id``, ``text``)
  → ``comment``. Instagram ``mentions`` name only the media, not who mentioned: no event;
* ``messaging`` items (``sender.id``, ``timestamp`` in ms, ``message.mid``,
  ``message.text``) → ``direct_message``; echoes of the account's own messages yield none.

The URL check is a GET with ``hub.mode=subscribe``, ``hub.verify_token`` (the configured
``verify_token``) and ``hub.challenge``, answered with the challenge. With ``app_secret``
set, every POST must carry ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body>``.
Meta retries undelivered notifications unchanged, so the comment id, message id or
(sender, post) pair is the natural key of the event id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError

# object -> (external id key of a user seen in a comment or mention, of a messaging sender)
_ID_KEYS = {"page": ("facebook_user_id", "facebook_psid"), "instagram": ("instagram_user_id", "instagram_igsid")}
_OBJECTS = tuple(_ID_KEYS)  # a tuple: `in` must not hash a JSON list or object


class MetaConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    verify_token: SecretStr  # the token typed into the app's webhook settings
    app_secret: SecretStr | None = None  # when set, X-Hub-Signature-256 is required


class MetaSocialConnector(Connector):
    name = "meta"
    channel = "social"
    description = "Facebook Page / Messenger / Instagram webhooks: comment, mention, direct message, page like"
    Config = MetaConfig

    def verify(self, params: Mapping[str, str], headers: Mapping[str, str], body: bytes, url: str = "") -> None:
        if self.config.app_secret is None or not body:  # the GET check proves itself with verify_token
            return
        digest = hmac.new(self.config.app_secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(f"sha256={digest}", headers.get("x-hub-signature-256", "")):
            raise ContractError("X-Hub-Signature-256", "missing, or not the HMAC-SHA256 of the body with the app secret",
                                "bad_signature")

    def handshake(self, params: Mapping[str, str]) -> str | None:
        token = self.config.verify_token.get_secret_value()
        if params.get("hub.mode") != "subscribe" or not hmac.compare_digest(params.get("hub.verify_token", ""), token):
            raise ContractError("hub.verify_token", "does not match this source's verify_token", "bad_signature")
        return params.get("hub.challenge", "")

    def split(self, raw: Any) -> list[Any]:
        """One unit per change or messaging item, with the entry's object, account and time."""
        if not isinstance(raw, dict) or raw.get("object") not in _OBJECTS or not isinstance(raw.get("entry"), list):
            raise ContractError("object", "a Meta webhook is {object: page|instagram, entry: [...]}", "malformed")
        units = []
        for entry in raw["entry"]:
            if not isinstance(entry, dict):
                raise ContractError("entry", "every entry must be an object", "malformed")
            head = {"object": raw["object"], "account": str(entry.get("id")), "time": entry.get("time")}
            for kind, plural in (("change", "changes"), ("messaging", "messaging")):
                items = entry.get(plural) or []
                if not isinstance(items, list):
                    raise ContractError(f"entry.{plural}", "must be an array", "malformed")
                units += [head | {kind: item} for item in items]
        return units

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict) or raw.get("object") not in _OBJECTS:
            raise ContractError("object", "a unit of a Meta webhook, as split() makes it", "malformed")
        if "messaging" in raw:
            return self._message(raw, raw["messaging"], received_at)
        change = raw.get("change")
        if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
            raise ContractError("changes", "every change needs a field and a value object", "malformed")
        field, value = change.get("field"), change["value"]
        if raw["object"] == "instagram":
            if field != "comments":
                return []
            author = value.get("from") or {}
            return self._social(raw, "comment", author.get("id"), author.get("username"), (value.get("media") or {}).get("id"),
                                value.get("text"), raw.get("time"), value.get("id"), received_at)
        if field == "mention" and value.get("verb", "add") == "add":
            return self._social(raw, "mention", value.get("sender_id"), value.get("sender_name"), value.get("post_id"), None,
                                raw.get("time"), f"{value.get('sender_id')}:{value.get('post_id')}", received_at)
        if field != "feed" or value.get("verb") != "add":
            return []
        author = value.get("from") or {}
        if value.get("item") == "comment":
            return self._social(raw, "comment", author.get("id"), author.get("name"), value.get("post_id"), value.get("message"),
                                value.get("created_time") or raw.get("time"), value.get("comment_id"), received_at)
        if value.get("item") == "like" and not value.get("post_id"):
            user = value.get("user_id") or author.get("id")
            return self._social(raw, "follow", user, author.get("name"), None, None, raw.get("time"), f"like:{user}", received_at)
        return []

    def _message(self, raw: dict, item: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(item, dict) or not isinstance(item.get("message"), dict):
            return []  # deliveries, reads, postbacks: no message from the customer
        message = item["message"]
        if message.get("is_echo"):
            return []
        sender = (item.get("sender") or {}).get("id")
        return self._social(raw, "direct_message", sender, None, None, message.get("text"), item.get("timestamp"),
                            message.get("mid"), received_at, sender_key=1)

    def _social(self, raw: dict, interaction: str, user: Any, handle: Any, post_id: Any, text: Any, when: Any,
                natural_id: Any, received_at: int, sender_key: int = 0) -> list[dict[str, Any]]:
        if not user:
            raise ContractError("from.id", f"a {interaction} needs the id of the person behind it", "malformed")
        if not natural_id or when is None:
            raise ContractError("id", f"a {interaction} needs its id and time", "malformed")
        return [records.interaction(
            "social_interaction",
            event_id=records.batch_event_id(self.name, raw["object"], raw["account"], interaction, natural_id),
            occurred_at=records.timestamp(when, "time"), received_at=received_at,
            connector=self.name, channel=self.channel,
            identities={"external_ids": {_ID_KEYS[raw["object"]][sender_key]: str(user)}},
            payload={"platform": "facebook" if raw["object"] == "page" else "instagram", "interaction": interaction,
                     "post_id": records.text(post_id), "handle": records.text(handle), "text": records.text(text),
                     "sentiment": None},
            properties={"account_id": raw["account"]},
        )]
