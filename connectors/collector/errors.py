"""The collector's 4xx answers: one exception carrying the status and a JSON body that
names the problem (and, for a batch, the items)."""

from __future__ import annotations

from typing import Any

from panorama.errors import ConnectorError


class BadRequest(ConnectorError):
    """Refuse the request with ``status`` and ``{"success": false, "error": {...}}``."""

    def __init__(self, code: str, field: str, problem: str, status: int = 400,
                 headers: dict[str, str] | None = None, items: list[dict[str, Any]] | None = None):
        self.code, self.field, self.problem, self.status = code, field, problem, status
        self.headers = headers or {}
        self.items = items
        super().__init__(f"{field}: {problem}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "field": self.field, "problem": self.problem}
        if self.items is not None:
            error["items"] = self.items
        return {"success": False, "error": error}
