"""One root exception for the platform, one family per layer.

Callers catch :class:`PanoramaError` to handle anything the platform raises on purpose;
every message says what went wrong and, where it can, what to do next.
"""


class PanoramaError(Exception):
    """Root of every error Panorama raises on purpose."""


class ConfigError(PanoramaError):
    """Settings are missing or invalid; the message names the variable."""


class StackError(PanoramaError):
    """A part of the local stack could not be started, reached or stopped."""


class ContractError(PanoramaError):
    """An event does not satisfy the event contract.

    ``field`` is the dotted path of the offending field (``identities.email``),
    ``problem`` says what is wrong with it, ``code`` is a stable machine-readable reason
    (it becomes the DLQ reason code).
    """

    def __init__(self, field: str, problem: str, code: str = "invalid_field"):
        self.field = field
        self.problem = problem
        self.code = code
        super().__init__(f"{field}: {problem}")


class UnknownSchemaError(ContractError):
    """Bytes carry a schema fingerprint this build does not know."""

    def __init__(self, problem: str):
        super().__init__("<header>", problem, code="unknown_schema")


class ProducerError(PanoramaError):
    """An event could not be delivered to Kafka."""


class BackpressureTimeout(ProducerError):
    """The producer's bounded queue stayed full past the block timeout (broker slow or down)."""


class ConnectorError(PanoramaError):
    """A connector cannot be found, configured or run."""


class UnknownConnectorError(ConnectorError):
    """No connector of that name is built in or registered under the entry-point group."""


class ConnectorConfigError(ConnectorError):
    """A connector's configuration breaks its declared spec; ``field`` names the setting."""

    def __init__(self, connector: str, field: str, problem: str):
        self.connector = connector
        self.field = field
        self.problem = problem
        super().__init__(f"connector {connector!r}, setting {field!r}: {problem}")


class ProjectionError(PanoramaError):
    """The analytics store (ClickHouse / chDB) could not be opened, migrated, written or queried."""


class StoreUnavailable(ProjectionError):
    """ClickHouse did not answer or refused a write; the caller may retry the same batch."""


class QueryError(ProjectionError):
    """ClickHouse refused a statement (syntax, unknown table, types); the message is the engine's."""


class ReadOnlyQueryError(QueryError):
    """`cdp sql` was given a statement that is not a read (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)."""


class StreamError(PanoramaError):
    """The stream workers (identity resolution, profile building) could not go on."""


class FencedError(StreamError):
    """Another worker moved a partition's stored position: this one no longer owns it (or
    never had the position it assumed) and must reload before writing again."""

    def __init__(self, topic: str, partition: int, expected: int, stored: int):
        self.topic, self.partition, self.expected, self.stored = topic, partition, expected, stored
        super().__init__(f"{topic}[{partition}]: expected stored offset {expected}, found {stored}; another worker wrote it")


class ProfileNotFound(StreamError):
    """No customer has the identity asked for."""
