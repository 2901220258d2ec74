"""The one settings object, read once at start and passed down.

Values come from ``CDP_*`` environment variables and, optionally, an env-style file
(``--config FILE`` on the command line or ``CDP_CONFIG``). Nothing below reads the
environment again: code receives a :class:`Settings` instance.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from panorama.errors import ConfigError

DEV_ROUTING_SECRET = "panorama-dev-routing-secret-change-me"
DEV_MASTER_KEY = "cGFub3JhbWEtZGV2LW1hc3Rlci1rZXktY2hhbmdlISE="  # base64 of 32 bytes; development only


class Topics:
    """Topic names derived from one prefix, so tests can run in isolation side by side."""

    def __init__(self, prefix: str):
        self.interactions = f"{prefix}.interactions"
        self.dlq = f"{prefix}.interactions.dlq"
        self.signals = f"{prefix}.signals"  # lifecycle / churn-risk changes, keyed by customer id
        self.identity = f"{prefix}.identity"  # merges and unmerges of customers
        self.audit = f"{prefix}.audit"
        self.profiles = f"{prefix}.profiles"  # pseudonymous profile changes (streams/segments), keyed by customer id
        self.segments = f"{prefix}.segments"  # segment enter/leave records, keyed by customer id


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDP_", frozen=True, extra="ignore")

    data_dir: Path = Field(Path(".data"), description="where the local stack keeps its data, logs and pids")
    cache_dir: Path = Field(Path(".cache"), description="downloaded Kafka jars")

    kafka_bootstrap: str | None = Field(None, description="existing Kafka; unset = start the local broker")
    redis_url: str | None = Field(None, description="existing Redis; unset = start local redis-server")
    clickhouse_url: str | None = Field(None, description="ClickHouse server; unset = embedded chDB")

    kafka_version: str = "4.1.1"
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = "1g"
    redis_port: int = Field(6379, ge=1, le=65535)
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)

    # Transport security of every Kafka client (merged by panorama.kafka_config.client_config).
    kafka_security_protocol: str = Field("PLAINTEXT", pattern=r"^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$",
                                         description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    kafka_sasl_mechanism: str | None = Field(None, pattern=r"^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512)$",
                                             description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*)")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: Path | None = Field(None, description="CA bundle (PEM) that signed the brokers' certificates")
    kafka_ssl_certificate_location: Path | None = Field(None, description="client certificate (PEM), for mutual TLS")
    kafka_ssl_key_location: Path | None = Field(None, description="client private key (PEM), for mutual TLS")
    kafka_ssl_key_password: SecretStr | None = None

    topic_prefix: str = Field("cdp", pattern=r"^[A-Za-z0-9._-]+$")
    interactions_partitions: int = Field(6, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1)
    dlq_retention_days: int = Field(30, ge=1)

    producer_queue_max_messages: int = Field(200_000, ge=1000)
    producer_queue_max_kbytes: int = Field(262_144, ge=1024)
    producer_linger_ms: int = Field(10, ge=0)
    producer_compression: str = Field("lz4", pattern=r"^(none|gzip|snappy|lz4|zstd)$")
    producer_block_timeout_s: float = Field(30.0, gt=0, description="how long a full queue may block a send")
    producer_delivery_timeout_ms: int = Field(300_000, ge=1000, description="how long librdkafka retries a message")

    routing_key_secret: SecretStr = Field(
        SecretStr(DEV_ROUTING_SECRET),
        description="keys the hash that turns identities into Kafka message keys; set it in production",
    )
    master_key: SecretStr = Field(
        SecretStr(DEV_MASTER_KEY),
        description="base64 of 32 bytes: wraps the per-customer data keys of personal fields; set it in production",
    )
    privacy_refresh_s: float = Field(1.0, gt=0, description="how often running processes see a forget or a consent grant")
    privacy_redis_timeout_s: float = Field(2.0, gt=0, description="socket timeout of the key store's Redis calls (sealing, opening)")
    retention_file: Path | None = Field(None, description="retention per event type (TOML or JSON): type or '*' -> days or \"keep\"; unset = keep all")

    # identity resolution and signals (streams/README.md, "Rules"): every worker, `cdp replay`
    # and `cdp identity unmerge` must run with the same values
    identity_limits: dict[str, int | None] = Field(
        default_factory=dict, description='caps per identity kind in one customer, JSON ({"email": 3}); null lifts one; '
                                          'unlisted kinds keep the defaults (user_id 1, email 5, phone 5, device_id 10)')
    identity_linking_kinds: list[str] | None = Field(
        None, description='the identity kinds that may link customers, JSON (["user_id", "email"]; "external" for every '
                          'external id); unset = every kind')
    worker_batch_size: int = Field(5000, ge=1, le=100_000,
                                   description="most messages a profile worker folds per Redis transaction")
    signal_rules: dict[str, int] = Field(
        default_factory=dict, description='lifecycle and churn-risk thresholds over the defaults, JSON '
                                          '({"churned_days": 120}); the names are in streams/signals/rules.py')

    @field_validator("kafka_bootstrap", "redis_url", "clickhouse_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("master_key")
    @classmethod
    def _master_key_size(cls, value):
        try:
            size = len(base64.b64decode(value.get_secret_value(), validate=True))
        except binascii.Error:
            raise ValueError("must be base64 (e.g. `openssl rand -base64 32`)") from None
        if size != 32:
            raise ValueError(f"must be base64 of 32 bytes, got {size} bytes")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value):
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _clickhouse_scheme(cls, value):
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL of a ClickHouse server")
        return value

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def kafka_address(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def redis_address(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def chdb_path(self) -> Path:
        return self.data_dir.resolve() / "clickhouse"

    @property
    def run_dir(self) -> Path:
        return self.data_dir.resolve() / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir.resolve() / "logs"


def load_settings(config_file: Path | None = None, **overrides) -> Settings:
    """Build the settings, turning validation failures into a :class:`ConfigError` that
    names each bad variable and the problem."""
    config_file = config_file or (Path(os.environ["CDP_CONFIG"]) if os.environ.get("CDP_CONFIG") else None)
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist (from --config or CDP_CONFIG)")
    try:
        return Settings(_env_file=config_file, **overrides)
    except SettingsError as e:  # a map or list variable that is not JSON
        field = re.search(r'field "(\w+)"', str(e))
        name = f"CDP_{field.group(1).upper()}" if field else "a variable"
        raise ConfigError(f"invalid settings: {name}: not valid JSON ({e.__cause__}); maps and lists are "
                          """written as JSON, e.g. CDP_SIGNAL_RULES='{"churned_days": 120}'""") from e
    except ValidationError as e:
        problems = "; ".join(
            f"CDP_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from e
