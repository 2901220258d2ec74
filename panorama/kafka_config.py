"""The connection part of every confluent-kafka client's configuration.

Every Producer, Consumer and AdminClient merges :func:`client_config` into its own
settings (``client_config(settings) | {...}``), so the bootstrap address and the transport
security (TLS, SASL) are configured once, from settings, for every client alike.
Redis takes TLS through a ``rediss://`` URL and ClickHouse through an ``https://`` URL;
neither needs anything here.
"""

from __future__ import annotations

from typing import Any

from panorama.errors import ConfigError
from panorama.settings import Settings

TLS = ("SSL", "SASL_SSL")
SASL = ("SASL_PLAINTEXT", "SASL_SSL")


def client_config(settings: Settings) -> dict[str, Any]:
    """``bootstrap.servers`` plus the security options librdkafka needs; only what is set
    appears, so the local stack stays PLAINTEXT. Raises :class:`ConfigError` naming the
    variable when the settings do not add up (e.g. SASL without a password)."""
    protocol = settings.kafka_security_protocol
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_address, "security.protocol": protocol}
    if protocol in SASL:
        missing = [name for name, value in (("CDP_KAFKA_SASL_MECHANISM", settings.kafka_sasl_mechanism),
                                            ("CDP_KAFKA_SASL_USERNAME", settings.kafka_sasl_username),
                                            ("CDP_KAFKA_SASL_PASSWORD", settings.kafka_sasl_password)) if not value]
        if missing:
            raise ConfigError(f"{', '.join(missing)}: needed with CDP_KAFKA_SECURITY_PROTOCOL={protocol}")
        config |= {"sasl.mechanism": settings.kafka_sasl_mechanism, "sasl.username": settings.kafka_sasl_username,
                   "sasl.password": settings.kafka_sasl_password.get_secret_value()}
    elif settings.kafka_sasl_mechanism or settings.kafka_sasl_username or settings.kafka_sasl_password:
        raise ConfigError(f"CDP_KAFKA_SASL_*: set, but CDP_KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL")
    tls_files = {"ssl.ca.location": settings.kafka_ssl_ca_location,
                 "ssl.certificate.location": settings.kafka_ssl_certificate_location,
                 "ssl.key.location": settings.kafka_ssl_key_location}
    if protocol not in TLS:
        if any(tls_files.values()):
            raise ConfigError(f"CDP_KAFKA_SSL_*: set, but CDP_KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS")
        return config
    if bool(settings.kafka_ssl_certificate_location) != bool(settings.kafka_ssl_key_location):
        raise ConfigError("CDP_KAFKA_SSL_CERTIFICATE_LOCATION, CDP_KAFKA_SSL_KEY_LOCATION: mutual TLS needs both")
    for option, path in tls_files.items():
        if path is not None:
            if not path.is_file():
                raise ConfigError(f"CDP_KAFKA_{option.upper().replace('.', '_')}: {path} is not a file")
            config[option] = str(path)
    if settings.kafka_ssl_key_password:
        config["ssl.key.password"] = settings.kafka_ssl_key_password.get_secret_value()
    return config
