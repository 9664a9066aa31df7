"""Every Kafka client gets the same security from the settings, and each principal its own credentials."""

import ssl
from pathlib import Path

import pytest
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram512
from pydantic import SecretStr

from bakeplan.local_tls import prepare
from infra.messaging.kafka_client import (
    KafkaSecurityConfigError,
    broker_security,
    client_kwargs,
    credentials,
    librdkafka_config,
)
from infra.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("secure")
    prepare(directory, ["admin", "orchestrator", "operator"])
    return directory


def secure_settings(material: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "kafka_bootstrap": "127.0.0.1:9094",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_ca_file": str(material / "tls" / "ca.pem"),
        "kafka_password_dir": str(material / "passwords"),
        **overrides,
    }
    return Settings.model_validate(values)


def test_plaintext_clients_carry_no_credentials() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:9092")
    assert client_kwargs(settings, "orchestrator") == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert broker_security(settings, "orchestrator") is None
    assert librdkafka_config(settings, "admin")["security.protocol"] == "PLAINTEXT"
    assert "sasl.password" not in librdkafka_config(settings, "admin")


def test_each_principal_gets_its_own_user_and_password_from_the_directory(material: Path) -> None:
    settings = secure_settings(material)
    orchestrator = client_kwargs(settings, "orchestrator")
    operator = client_kwargs(settings, "operator")
    assert orchestrator["sasl_plain_username"] == "bakeplan-orchestrator"
    assert operator["sasl_plain_username"] == "bakeplan-operator"
    assert orchestrator["sasl_plain_password"] == (material / "passwords" / "orchestrator").read_text()
    assert orchestrator["sasl_plain_password"] != operator["sasl_plain_password"]
    assert orchestrator["sasl_mechanism"] == "SCRAM-SHA-512"
    assert orchestrator["security_protocol"] == "SASL_SSL"


def test_tls_checks_the_broker_certificate_and_its_host_name(material: Path) -> None:
    context = client_kwargs(secure_settings(material), "orchestrator")["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert any(
        cert["subject"] == ((("organizationName", "bakeplan local"),), (("commonName", "bakeplan local CA"),))
        for cert in context.get_ca_certs()
    )


def test_an_explicit_user_and_password_win_over_the_directory(material: Path) -> None:
    settings = secure_settings(material, kafka_username="svc-orch", kafka_password=SecretStr("s3cret"))
    assert credentials(settings, "orchestrator") == ("svc-orch", "s3cret")


def test_the_user_prefix_names_the_principals_of_an_installation(material: Path) -> None:
    settings = secure_settings(material, kafka_user_prefix="eu1-")
    assert credentials(settings, "operator")[0] == "eu1-operator"


def test_a_missing_password_names_the_principal_and_the_fix(material: Path) -> None:
    settings = secure_settings(material)
    with pytest.raises(KafkaSecurityConfigError, match=r"principal 'production'.*BAKEPLAN_KAFKA_PASSWORD"):
        client_kwargs(settings, "production")
    no_dir = secure_settings(material, kafka_password_dir="")
    with pytest.raises(KafkaSecurityConfigError, match="BAKEPLAN_KAFKA_PASSWORD_DIR"):
        client_kwargs(no_dir, "orchestrator")


def test_an_unreadable_ca_file_is_a_configuration_error(material: Path) -> None:
    settings = secure_settings(material, kafka_ca_file=str(material / "nope.pem"))
    with pytest.raises(KafkaSecurityConfigError, match="BAKEPLAN_KAFKA_CA_FILE"):
        client_kwargs(settings, "orchestrator")


def test_the_faststream_broker_gets_the_same_connection_as_the_aiokafka_clients(material: Path) -> None:
    settings = secure_settings(material)
    security = broker_security(settings, "orchestrator")
    assert isinstance(security, SASLScram512)
    from_broker = parse_security(security)
    direct = client_kwargs(settings, "orchestrator")
    for key in ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
        assert from_broker[key] == direct[key], key
    assert from_broker["ssl_context"].get_ca_certs() == direct["ssl_context"].get_ca_certs()


def test_ssl_without_sasl_is_tls_only(material: Path) -> None:
    settings = secure_settings(material, kafka_security_protocol="SSL")
    kwargs = client_kwargs(settings, "orchestrator")
    assert kwargs["security_protocol"] == "SSL"
    assert "sasl_plain_username" not in kwargs
    security = broker_security(settings, "orchestrator")
    assert type(security) is BaseSecurity
    assert parse_security(security)["security_protocol"] == "SSL"


def test_a_client_certificate_is_presented_when_configured(material: Path) -> None:
    broker_pem = material / "tls" / "broker.pem"  # any certificate with its key will do
    settings = secure_settings(material, kafka_cert_file=str(broker_pem), kafka_key_file=str(broker_pem))
    assert isinstance(client_kwargs(settings, "orchestrator")["ssl_context"], ssl.SSLContext)
    config = librdkafka_config(settings, "admin")
    assert config["ssl.certificate.location"] == str(broker_pem)
    assert config["ssl.ca.location"] == settings.kafka_ca_file
    assert config["sasl.username"] == "bakeplan-admin"
