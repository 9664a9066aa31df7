"""Every Kafka client bakeplan makes, from one place: bootstrap servers, encryption and credentials.

A client acts as a *principal* (`bakeplan.acl_table.Principal`: a role, `operator` for the CLI,
`admin` for provisioning); under SASL its user is `Settings.kafka_user(principal)` unless
`BAKEPLAN_KAFKA_USERNAME` names one, and its password is `BAKEPLAN_KAFKA_PASSWORD`, else the file
named after the principal in `BAKEPLAN_KAFKA_PASSWORD_DIR`. The broker's ACLs then decide what it
may do (docs/security.md). Under PLAINTEXT the principal is ignored.

The aiokafka clients, the FastStream broker and the librdkafka admin (`bakeplan acl apply`) are all
configured from the same `Settings` here, so no client can be left unencrypted by accident.
"""

import ssl
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from infra.settings import Settings


class KafkaSecurityConfigError(ValueError):
    """The Kafka security settings are incomplete or unreadable; the message says which and the fix."""


def _sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def _tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def credentials(settings: Settings, principal: str) -> tuple[str, str]:
    """(user, password) of `principal`; raises `KafkaSecurityConfigError` if no password is configured."""
    principal = str(principal)  # a StrEnum member's value, also in messages
    user = settings.kafka_username or settings.kafka_user(principal)
    password = settings.kafka_password.get_secret_value()
    if not password and settings.kafka_password_dir:
        path = Path(settings.kafka_password_dir) / principal
        try:
            password = path.read_text().strip()
        except OSError as exc:
            raise KafkaSecurityConfigError(
                f"cannot read the Kafka password of principal {principal!r} from {path} ({exc.strerror}); "
                "put it there or set BAKEPLAN_KAFKA_PASSWORD"
            ) from exc
    if not password:
        raise KafkaSecurityConfigError(
            f"BAKEPLAN_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs a password for principal "
            f"{principal!r} (user {user!r}): set BAKEPLAN_KAFKA_PASSWORD, or BAKEPLAN_KAFKA_PASSWORD_DIR to a "
            f"directory with a file {principal!r} (`bakeplan stack up --secure` writes one)"
        )
    return user, password


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL (None otherwise): the broker's certificate is checked
    against `kafka_ca_file` (or the system's CAs) and its host name; a client certificate is
    presented when `kafka_cert_file` is set."""
    if not _tls(settings):
        return None
    try:
        context = ssl.create_default_context(cafile=settings.kafka_ca_file or None)
        if settings.kafka_cert_file:
            context.load_cert_chain(settings.kafka_cert_file, settings.kafka_key_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityConfigError(
            f"cannot load the Kafka TLS files (BAKEPLAN_KAFKA_CA_FILE={settings.kafka_ca_file!r}, "
            f"BAKEPLAN_KAFKA_CERT_FILE={settings.kafka_cert_file!r}, BAKEPLAN_KAFKA_KEY_FILE="
            f"{settings.kafka_key_file!r}): {exc}"
        ) from exc
    return context


def client_kwargs(settings: Settings, principal: str) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client acting as `principal`."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if _tls(settings):
        kwargs["ssl_context"] = ssl_context(settings)
    if _sasl(settings):
        user, password = credentials(settings, principal)
        kwargs |= {"sasl_mechanism": settings.kafka_sasl_mechanism, "sasl_plain_username": user}
        kwargs["sasl_plain_password"] = password
    return kwargs


def broker_security(settings: Settings, principal: str) -> BaseSecurity | None:
    """FastStream's `security=` object for a `KafkaBroker` acting as `principal` (None = PLAINTEXT)."""
    context = ssl_context(settings)
    tls = _tls(settings)
    if not _sasl(settings):
        return BaseSecurity(ssl_context=context, use_ssl=True) if tls else None
    user, password = credentials(settings, principal)
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
    return kind[settings.kafka_sasl_mechanism](user, password, ssl_context=context, use_ssl=tls)


def librdkafka_config(settings: Settings, principal: str) -> dict[str, str]:
    """The same connection as librdkafka (confluent-kafka) properties, for the ACL admin."""
    config = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": settings.kafka_security_protocol,
        "client.id": f"bakeplan-{principal}",
        # librdkafka writes its own log to stderr; a failed call raises, and its error says it (syslog 2 = critical)
        "log_level": "2",
    }
    if _tls(settings):
        config |= {
            key: value
            for key, value in (
                ("ssl.ca.location", settings.kafka_ca_file),
                ("ssl.certificate.location", settings.kafka_cert_file),
                ("ssl.key.location", settings.kafka_key_file),
            )
            if value
        }
    if _sasl(settings):
        user, password = credentials(settings, principal)
        config |= {"sasl.mechanism": settings.kafka_sasl_mechanism, "sasl.username": user, "sasl.password": password}
    return config


def new_producer(settings: Settings, principal: str, **options: Any) -> AIOKafkaProducer:
    """An aiokafka producer acting as `principal`; `options` are aiokafka's (acks, linger_ms…)."""
    return AIOKafkaProducer(**client_kwargs(settings, principal), **options)


def new_consumer(settings: Settings, principal: str, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """An aiokafka consumer of `topics` (Kafka names) acting as `principal`."""
    return AIOKafkaConsumer(*topics, **client_kwargs(settings, principal), **options)


def new_admin(settings: Settings, principal: str, **options: Any) -> AIOKafkaAdminClient:
    """An aiokafka admin client acting as `principal`."""
    return AIOKafkaAdminClient(**client_kwargs(settings, principal), **options)


def new_broker(settings: Settings, principal: str, **options: Any) -> KafkaBroker:
    """A FastStream broker acting as `principal` (its subscribers and its own producer). FastStream
    takes a string as one address, so a comma-separated list of brokers is split here."""
    servers = [server.strip() for server in settings.kafka_bootstrap.split(",") if server.strip()]
    return KafkaBroker(servers, security=broker_security(settings, principal), **options)
