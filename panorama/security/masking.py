"""What a role sees of a profile: personal fields masked unless the key may see them.

Personal in a profile: the identities (e-mail, phone, user and device ids, external ids)
and the traits (names, addresses, birthdays, anything a source sent about the person).
Counters, money, dates, consent and the customer id (a keyed hash) are not personal on
their own and stay visible, which is what segment work needs.
"""

from __future__ import annotations

from typing import Any

from panorama.security.keys import ApiKey

MASK = "***"
UNMASKED_ROLES = ("admin", "support")  # support looks up the one customer it is helping


def sees_personal_data(key: ApiKey) -> bool:
    return key.role in UNMASKED_ROLES or "pii" in key.grants


def mask_profile(profile: dict[str, Any]) -> dict[str, Any]:
    return profile | {
        "identities": {kind: [MASK] * len(values) for kind, values in profile.get("identities", {}).items()},
        "traits": dict.fromkeys(profile.get("traits", {}), MASK),
    }


def mask_explanation(explanation: dict[str, Any]) -> dict[str, Any]:
    """``cdp identity explain``'s document with each ``kind:value`` label cut to ``kind:***``;
    the history names nodes (keyed hashes), never values, and is kept."""
    return explanation | {
        "identities": sorted(_masked_label(label) for label in explanation.get("identities", [])),
        "labels": {node: _masked_label(label) for node, label in explanation.get("labels", {}).items()},
    }


def _masked_label(label: str) -> str:
    kind = label.rsplit(":", 1)[0] if label.startswith("external:") else label.split(":", 1)[0]
    return f"{kind}:{MASK}"
