"""The connector contract.

A connector turns one piece of raw channel input (a webhook body, an XML push, an
imported row) into canonical interaction records, with a pure function:
:meth:`Connector.to_events`. It declares its configuration as a pydantic model
(``Config``); the framework validates the configuration when the connector is built,
before any I/O, and :meth:`Connector.check` reports problems instead of raising.

Raw input that cannot be mapped raises :class:`ContractError` naming the field: the
collector answers it with a 4xx (or dead-letters it, for one item of a batch) and the
importer reports the row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from panorama.errors import ConnectorConfigError

InputFormat = Literal["json", "form", "xml", "row"]


class NoConfig(BaseModel):
    """The spec of a connector that needs no settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class CheckResult:
    """What :meth:`Connector.check` found: ``ok`` and one line per problem."""

    ok: bool
    problems: list[str] = field(default_factory=list)


class Connector(ABC):
    """Base class of every connector; subclasses set the class attributes and implement
    :meth:`to_events`.

    ``input_format`` tells the collector how to parse a webhook body before calling
    :meth:`to_events`: ``json`` (any JSON value), ``form`` (urlencoded → dict of str),
    ``xml`` (a flat XML document → dict of str) or ``row`` (a flat dict from a bulk
    import; such connectors are not mounted as webhooks).
    """

    name: ClassVar[str]
    channel: ClassVar[str]
    description: ClassVar[str] = ""
    input_format: ClassVar[InputFormat] = "json"
    Config: ClassVar[type[BaseModel]] = NoConfig

    def __init__(self, config: Mapping[str, Any] | BaseModel | None = None):
        self.config = self.parse_config(config)

    @classmethod
    def parse_config(cls, config: Mapping[str, Any] | BaseModel | None) -> BaseModel:
        """The validated config; ConnectorConfigError naming the first bad setting."""
        if isinstance(config, cls.Config):
            return config
        try:
            return cls.Config.model_validate(dict(config or {}))
        except ValidationError as e:
            err = e.errors()[0]
            raise ConnectorConfigError(cls.name, ".".join(str(p) for p in err["loc"]) or "<config>", err["msg"]) from e

    @classmethod
    def check(cls, config: Mapping[str, Any] | BaseModel | None = None) -> CheckResult:
        """Validate ``config`` against the spec without raising (and without I/O)."""
        try:
            cls.parse_config(config)
        except ConnectorConfigError as e:
            return CheckResult(False, [str(e)])
        return CheckResult(True)

    def split(self, raw: Any) -> list[Any]:
        """The independent units of one webhook body (a provider that posts an array of
        events returns the array); each is mapped, accepted or dead-lettered on its own."""
        return [raw]

    def verify(self, params: Mapping[str, str], headers: Mapping[str, str], body: bytes, url: str = "") -> None:
        """Check a provider's request signature before the body is trusted (``url`` is the
        full request URL, for providers that sign it); raise
        ContractError(code="bad_signature") when it does not match. Default: nothing to check."""

    def unwrap(self, params: Mapping[str, str], body: bytes) -> bytes:
        """The body as ``input_format`` reads it, called after :meth:`verify`: a provider's
        encrypted envelope is opened here; raise ContractError(code="bad_ciphertext")
        when it does not open. Default: the body as sent."""
        return body

    def handshake(self, params: Mapping[str, str]) -> str | None:
        """The plain-text answer to a provider's GET verification of the webhook URL (after
        :meth:`verify` was called with an empty body), or None if the provider does not do
        one; may raise ContractError for a verification it refuses."""
        return None

    @abstractmethod
    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        """Canonical records (codec dict form) for one raw input; pure: the same input and
        ``received_at`` (epoch micros) give the same records, event ids included."""

