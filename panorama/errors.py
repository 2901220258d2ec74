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
