"""What the local secure broker (`bakeplan stack up --secure`) needs before it starts: a private CA, a
broker certificate for 127.0.0.1 and localhost signed by it, and one random password per principal.

Made once per state directory and kept (the broker's SCRAM users are created from the passwords when
its storage is formatted, so new passwords need a new broker state or a rotation, docs/security.md).
Files holding keys or passwords are readable by their owner only.
"""

import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365


@dataclass(frozen=True)
class SecureMaterial:
    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "tls" / "ca.pem"

    @property
    def broker_pem(self) -> Path:
        """The broker's PEM key store: its private key (PKCS#8), its certificate and the CA's."""
        return self.directory / "tls" / "broker.pem"

    @property
    def password_dir(self) -> Path:
        return self.directory / "passwords"


def _private(path: Path, data: bytes) -> None:
    """Write `data` to a new file only its owner may read."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bakeplan local"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str, key: rsa.RSAPrivateKey, issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None, now: dt.datetime
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0] if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
    )
    if issuer is None:  # the CA
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def prepare(directory: Path, principals: Iterable[str]) -> SecureMaterial:
    """Make what is missing under `directory`: the CA and broker certificate, and a password file
    per principal. Existing files are kept."""
    material = SecureMaterial(directory)
    if not material.ca_file.exists() or not material.broker_pem.exists():
        now = dt.datetime.now(dt.UTC)
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca = _certificate("bakeplan local CA", ca_key, None, now)
        broker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        broker = _certificate("localhost", broker_key, (ca.subject, ca_key), now)
        key_pem = broker_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _private(material.broker_pem, key_pem + _pem(broker) + _pem(ca))
        _private(material.ca_file, _pem(ca))
        material.ca_file.chmod(0o644)  # public: every client needs it
    for principal in principals:
        path = material.password_dir / principal
        if not path.exists():
            _private(path, secrets.token_urlsafe(24).encode())
    return material
