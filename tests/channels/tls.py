"""A throwaway certificate authority and a server certificate for 127.0.0.1 (trustme)."""

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class LocalTls:
    server_context: ssl.SSLContext
    ca_file: Path
    """The CA bundle a client must trust: the SMTP channel's BAKEPLAN_SMTP_CA_FILE."""


def local_tls(directory: Path) -> LocalTls:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_file = directory / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return LocalTls(context, ca_file)
