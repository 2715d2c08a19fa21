"""JWTs: the access tokens the simulator issues, and the client assertions it verifies.

Access tokens are HS256 with a key generated per simulator: only the simulator reads them, and
they only need to carry ``aud``, ``tid``, ``appid``, ``iat`` and ``exp`` like Entra's do.
Their lifetime is REAL time, because azure-identity caches tokens by real time.

Client assertions are verified for real: RS256 (PKCS#1 v1.5) or PS256 (what MSAL >= 1.29 sends
with ``x5t#S256``), against the public key of a certificate registered on the app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.simulator.tls import ClientCertificate

Problem = Literal["missing", "invalid", "expired"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Jwt:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_jwt(text: str) -> Jwt | None:
    """Split and decode a compact JWT without checking anything (None if it is not one)."""
    parts = text.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return Jwt(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def signature_valid(jwt: Jwt, certificate: ClientCertificate) -> bool:
    key = certificate.certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    alg = jwt.header.get("alg")
    if alg == "RS256":
        pad: padding.AsymmetricPadding = padding.PKCS1v15()
    elif alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    else:
        return False
    try:
        key.verify(jwt.signature, jwt.signing_input, pad, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class TokenIssuer:
    """Mints and checks access tokens; ``revoke`` makes earlier tokens of an app expire."""

    def __init__(self, lifetime: int) -> None:
        self._key = secrets.token_bytes(32)
        self.lifetime = lifetime
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _sign(self, data: bytes) -> str:
        return b64url(hmac.new(self._key, data, hashlib.sha256).digest())

    def mint(self, *, tenant_id: str, client_id: str, object_id: str, audience: str, issuer: str) -> str:
        real_now = time.time()
        now = int(real_now)
        claims = {
            "aud": audience,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "appid": client_id,
            "azp": client_id,
            "idtyp": "app",
            "oid": object_id,
            "sub": object_id,
            "tid": tenant_id,
            "ver": "1.0",
            "jti": secrets.token_hex(8),
            "xms_sim_iat": real_now,  # sub-second issue time, so revoke() is exact
        }
        head = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        body = b64url(json.dumps(claims, separators=(",", ":")).encode())
        return f"{head}.{body}.{self._sign(f'{head}.{body}'.encode())}"

    def revoke(self, client_id: str | None = None) -> None:
        with self._lock:
            self._revoked[(client_id or "*").lower()] = time.time()

    def check(self, token: str | None) -> dict[str, Any] | Problem:
        """The claims of a valid token, or what is wrong with it."""
        if not token:
            return "missing"
        jwt = parse_jwt(token)
        if jwt is None or not hmac.compare_digest(self._sign(jwt.signing_input), b64url(jwt.signature)):
            return "invalid"
        claims = jwt.claims
        with self._lock:
            cut = max(self._revoked.get("*", 0.0), self._revoked.get(str(claims.get("appid")), 0.0))
        if float(claims.get("exp", 0)) <= time.time() or float(claims.get("xms_sim_iat", 0)) < cut:
            return "expired"
        return claims
