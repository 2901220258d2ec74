"""`python -m connectors.openapi_file`: write the API's OpenAPI spec to docs/openapi.json.

The spec in the repository is what SDK authors and schemathesis read; a unit test fails
when it is not what the app serves, and this command brings it up to date.
"""

from __future__ import annotations

import json
from pathlib import Path

from panorama.api import create_app
from panorama.settings import load_settings

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def current_spec() -> str:
    """The spec the app serves, as the file holds it (sorted keys, stable across runs)."""
    return json.dumps(create_app(load_settings()).openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SPEC_PATH.write_text(current_spec(), "utf-8")
    print(f"wrote {SPEC_PATH}")
