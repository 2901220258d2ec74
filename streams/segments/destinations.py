"""Where activation sends the members it may contact: a JSON lines file, or a webhook.

Both take lines one by one (:meth:`send`) and must be closed (:meth:`close`), which
delivers what is buffered. A destination that cannot take a line raises
:class:`~streams.segments.rules.SegmentError` saying what failed; lines already delivered
stay delivered (``delivered`` counts them).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from streams.segments.rules import SegmentError


class JsonLinesFile:
    def __init__(self, path: Path):
        self.path = path
        self._out: TextIO = sys.stdout if str(path) == "-" else path.open("w", encoding="utf-8")
        self.delivered = 0

    @property
    def description(self) -> str:
        return "stdout" if self._out is sys.stdout else "file"

    def send(self, line: dict[str, Any]) -> None:
        self._out.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.delivered += 1

    def close(self) -> None:
        if self._out is not sys.stdout:
            self._out.close()
        else:
            self._out.flush()


class Webhook:
    """POSTs ``{"members": [line, ...]}`` batches of ``batch`` lines as JSON; any answer but
    2xx (or no answer within ``timeout`` s) stops the activation."""

    def __init__(self, url: str, batch: int = 500, timeout: float = 10.0, headers: dict[str, str] | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SegmentError(f"webhook: {url!r} is not an http:// or https:// URL")
        self.url, self.batch, self.timeout = url, batch, timeout
        self.host = parts.hostname  # what the audit log names (a URL may carry a token)
        self.headers = {"Content-Type": "application/json"} | (headers or {})
        self._pending: list[dict[str, Any]] = []
        self.delivered = 0

    @property
    def description(self) -> str:
        return f"webhook:{self.host}"

    def send(self, line: dict[str, Any]) -> None:
        self._pending.append(line)
        if len(self._pending) >= self.batch:
            self._post()

    def close(self) -> None:
        if self._pending:
            self._post()

    def _post(self) -> None:
        body = json.dumps({"members": self._pending}, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url, body, self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                status = answer.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, TimeoutError) as e:
            raise SegmentError(f"webhook {self.host}: no answer ({e}); {self.delivered} members delivered before") from None
        if not 200 <= status < 300:
            raise SegmentError(f"webhook {self.host}: answered {status}; {self.delivered} members delivered before")
        self.delivered += len(self._pending)
        self._pending = []
