"""Certificates: a throwaway CA, the server certificate, and client certificates for apps.

The CA and server keys are EC P-256 (fast to generate at every start). Client certificates are
RSA 2048 because MSAL signs client assertions with RS256/PS256. The server certificate names
``localhost`` and ``127.0.0.1`` (and the bound host), so clients may use either.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class ClientCertificate:
    """A certificate registered on an app; the thumbprints are what MSAL puts in x5t/x5t#S256."""

    certificate: x509.Certificate
    sha1: bytes
    sha256: bytes

    @classmethod
    def from_pem(cls, pem: bytes) -> ClientCertificate:
        cert = x509.load_pem_x509_certificate(pem)
        # SHA-1 only because that is what the x5t header carries.
        return cls(cert, cert.fingerprint(hashes.SHA1()), cert.fingerprint(hashes.SHA256()))

    @property
    def x5t(self) -> str:
        return base64.urlsafe_b64encode(self.sha1).rstrip(b"=").decode()

    @property
    def x5t_s256(self) -> str:
        return base64.urlsafe_b64encode(self.sha256).rstrip(b"=").decode()

    @property
    def thumbprint_hex(self) -> str:
        return self.sha1.hex().upper()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class CertificateAuthority:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("aadsts-enricher simulator CA"))
            .issuer_name(_name("aadsts-enricher simulator CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def _issue(
        self, subject: str, public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey
    ) -> x509.CertificateBuilder:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )

    def server_pem(self, hosts: list[str]) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) for a TLS server answering on ``hosts``."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        cert = (
            self._issue("localhost", key.public_key())
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def client_pem(self, subject: str) -> tuple[bytes, ClientCertificate]:
        """(PEM with key and certificate, the registered certificate) for an app."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (
            self._issue(subject, key.public_key())
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        return _pem_key(key) + cert_pem, ClientCertificate.from_pem(cert_pem)


def write_private(path: Path, data: bytes) -> Path:
    """Write a file readable only by its owner (it may hold a private key)."""
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(data)
    return path
