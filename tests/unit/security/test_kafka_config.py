"""Transport settings become librdkafka options, and settings that do not add up are
refused naming the variable."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from panorama.errors import ConfigError
from panorama.kafka_config import client_config
from panorama.settings import Settings


def test_the_local_stack_stays_plaintext():
    assert client_config(Settings(kafka_port=19092)) == {"bootstrap.servers": "127.0.0.1:19092", "security.protocol": "PLAINTEXT"}


def test_sasl_ssl_with_a_ca_and_mutual_tls(tmp_path):
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    settings = Settings(kafka_bootstrap="broker:9094", kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_sasl_username="cdp", kafka_sasl_password="s3cret", kafka_ssl_ca_location=tmp_path / "ca.pem",
                        kafka_ssl_certificate_location=tmp_path / "client.pem", kafka_ssl_key_location=tmp_path / "client.key")
    config = client_config(settings)
    assert config == {"bootstrap.servers": "broker:9094", "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                      "sasl.username": "cdp", "sasl.password": "s3cret", "ssl.ca.location": str(tmp_path / "ca.pem"),
                      "ssl.certificate.location": str(tmp_path / "client.pem"), "ssl.key.location": str(tmp_path / "client.key")}
    assert "s3cret" not in repr(settings)


def test_librdkafka_accepts_every_option_it_is_given():
    settings = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="PLAIN",
                        kafka_sasl_username="cdp", kafka_sasl_password="pw")
    Producer(client_config(settings))  # raises KafkaException on an unknown or invalid option


@pytest.mark.parametrize(("overrides", "named"), [
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN"}, "CDP_KAFKA_SASL_USERNAME"),
    ({"kafka_sasl_username": "cdp"}, "CDP_KAFKA_SASL_"),
    ({"kafka_ssl_ca_location": "/etc/ca.pem"}, "CDP_KAFKA_SSL_"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_certificate_location": "/etc/c.pem"}, "CDP_KAFKA_SSL_KEY_LOCATION"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_ca_location": "/nowhere/ca.pem"}, "CDP_KAFKA_SSL_CA_LOCATION"),
])
def test_settings_that_do_not_add_up_name_the_variable(overrides, named):
    with pytest.raises(ConfigError, match=named):
        client_config(Settings(**overrides))


def test_unknown_protocol_is_refused_at_load():
    from panorama.settings import load_settings

    with pytest.raises(ConfigError, match="CDP_KAFKA_SECURITY_PROTOCOL"):
        load_settings(kafka_security_protocol="TLS")
