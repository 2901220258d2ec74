"""The column-mapping file of `cdp import --mapping FILE` (TOML or JSON)::

    # which column of the file holds each field the connector reads
    [columns]
    customer_id = "Kundennummer"
    email = "E-Mail"
    phone = "Telefon"

    # the connector's settings (see `cdp connectors list`): how to read ambiguous values
    [settings]
    timezone = "Europe/Berlin"
    default_phone_region = "DE"
    date_format = "%d.%m.%Y %H:%M"

Columns the mapping does not name keep their own name.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panorama.errors import ConnectorError


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)  # connector field -> file column
    settings: dict[str, Any] = field(default_factory=dict)

    def renamer(self):
        """A function turning a file row into the connector's row (fields renamed)."""
        if not self.columns:
            return lambda row: row
        moves = [(source, target) for target, source in self.columns.items()]

        def rename(row: dict[str, Any]) -> dict[str, Any]:
            renamed = dict(row)
            for source, target in moves:
                renamed[target] = renamed.pop(source, None)
            return renamed

        return rename


def load_mapping(path: Path | None) -> Mapping:
    if path is None:
        return Mapping()
    try:
        text = path.read_text("utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError) as e:
        raise ConnectorError(f"cannot read the mapping file {path}: {e}") from e
    unknown = set(data) - {"columns", "settings"}
    if unknown:
        raise ConnectorError(f"mapping file {path}: unknown sections {sorted(unknown)}; expected [columns] and [settings]")
    columns, settings = data.get("columns", {}), data.get("settings", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
        raise ConnectorError(f"mapping file {path}: [columns] maps field names to column names (strings)")
    if not isinstance(settings, dict):
        raise ConnectorError(f"mapping file {path}: [settings] must be a table")
    return Mapping(columns, settings)
