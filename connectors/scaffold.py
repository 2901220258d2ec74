"""`cdp connectors new NAME`: write a working connector module and its test.

The skeleton maps a simple JSON payload to a ``track`` event and its test passes as
generated; the author then replaces the mapping (see connectors/README.md).
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from panorama.errors import ConnectorError

_NAME = re.compile(r"[a-z][a-z0-9_]{1,40}")

MODULE = '''"""{title} connector: {{describe the provider and link the payload documentation}}.

Body shape (replace with the provider's)::

    {{"id": "evt-1", "email": "ana@example.com", "event": "Signed Up", "occurred_at": "2024-06-10T08:00:00Z"}}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError


class {cls}Config(BaseModel):
    """The connector's settings; validated before any I/O. Mark secrets as SecretStr."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    channel: str = "{name}"


class {cls}Connector(Connector):
    name = "{name}"
    channel = "{name}"
    description = "{title} events"
    Config = {cls}Config

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise ContractError("id", "is required (it makes re-delivery idempotent)", "malformed")
        event = records.text(raw.get("event"))
        if event is None:
            raise ContractError("event", "is required", "missing_name")
        return [records.interaction(
            "track",
            event_id=records.batch_event_id(self.name, raw["id"]),
            occurred_at=records.timestamp(raw.get("occurred_at"), "occurred_at"),
            received_at=received_at,
            connector=self.name,
            channel=self.config.channel,
            identities={{"email": records.email(raw.get("email"), "email")}},
            name=event,
            properties={{k: v for k, v in raw.items() if k not in ("id", "email", "event", "occurred_at")}},
        )]
'''

TEST = '''import pytest

from panorama.errors import ContractError
from schemas.validation import validate
from {module} import {cls}Connector

RECEIVED_AT = 1_718_000_000_000_000
PAYLOAD = {{"id": "evt-1", "email": " Ana@Example.com", "event": "Signed Up", "occurred_at": "2024-06-10T08:00:00Z", "plan": "pro"}}


def test_maps_a_documented_payload_to_valid_events():
    [event] = {cls}Connector().to_events(PAYLOAD, RECEIVED_AT)
    validate(event)
    assert event["name"] == "Signed Up"
    assert event["identities"]["email"] == "ana@example.com"


def test_redelivery_gives_the_same_event_id():
    connector = {cls}Connector()
    assert connector.to_events(PAYLOAD, RECEIVED_AT)[0]["event_id"] == connector.to_events(PAYLOAD, RECEIVED_AT + 1)[0]["event_id"]


def test_refuses_input_without_id():
    with pytest.raises(ContractError) as raised:
        {cls}Connector().to_events({{"event": "x"}}, RECEIVED_AT)
    assert raised.value.field == "id"


def test_config_is_checked_without_raising():
    assert {cls}Connector.check({{}}).ok
    assert not {cls}Connector.check({{"unknown": 1}}).ok
'''


def scaffold(name: str, package_dir: Path, tests_dir: Path) -> tuple[Path, Path, str]:
    """Write ``<package_dir>/<name>.py`` and ``<tests_dir>/test_<name>.py``; return both
    paths and the entry-point line to add to pyproject.toml."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ConnectorError(f"{name!r}: a connector name is lower-case letters, digits and _, starting with a letter")
    module_path, test_path = package_dir / f"{name}.py", tests_dir / f"test_{name}.py"
    for path in (module_path, test_path):
        if path.exists():
            raise ConnectorError(f"{path} already exists; pick another name or remove it")
    if package_dir.is_absolute():
        raise ConnectorError(f"give the package folder relative to the project root (its import path), not {package_dir}")
    module = ".".join(package_dir.parts + (name,))
    cls = "".join(part.capitalize() for part in name.split("_"))
    title = name.replace("_", " ").title()
    package_dir.mkdir(parents=True, exist_ok=True)
    tests_dir.mkdir(parents=True, exist_ok=True)
    module_path.write_text(MODULE.format(name=name, cls=cls, title=title), "utf-8")
    test_path.write_text(TEST.format(module=module, cls=cls), "utf-8")
    entry_point = f'{name} = "{module}:{cls}Connector"'
    return module_path, test_path, entry_point
