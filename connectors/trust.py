"""Which CA certificates the Azure API calls trust.

``requests`` and azure-identity take one ``verify`` value, a CA file that *replaces* the default
trust. Behind a TLS-inspecting proxy the daemon needs the opposite: the usual public CAs (Azure's
own certificates) *plus* the proxy's CA. So ``ca_bundle`` with ``ca_bundle_mode: add`` (the
default) writes one PEM file holding the default CAs and the extra bundle, and both HTTP stacks
verify against that; ``replace`` trusts the given bundle alone (an air-gapped network where
nothing public must be trusted).

The default CAs are those the process would trust without ``ca_bundle``: ``REQUESTS_CA_BUNDLE``
(or ``CURL_CA_BUNDLE``) when set, certifi's bundle (requests' default) and the system store that
OpenSSL uses (``SSL_CERT_FILE`` or the distribution's file).
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
from pathlib import Path
from typing import Literal

import certifi

Mode = Literal["add", "replace"]


def default_ca_files() -> list[str]:
    """The CA files of the default trust that exist here, without duplicates."""
    candidates = [
        os.environ.get("REQUESTS_CA_BUNDLE"),
        os.environ.get("CURL_CA_BUNDLE"),
        certifi.where(),
        ssl.get_default_verify_paths().cafile,
    ]
    found: list[str] = []
    for path in candidates:
        if path and os.path.isfile(path) and os.path.realpath(path) not in map(os.path.realpath, found):
            found.append(path)
    return found


def verify_for(ca_bundle: str | None, mode: Mode = "add", directory: Path | None = None) -> str | bool:
    """What to pass as ``verify`` / ``connection_verify``: True (the default trust), the bundle as is
    (``replace``), or the path of a file with the default CAs followed by the bundle (``add``).

    Raises OSError when the bundle cannot be read: a config problem the caller reports."""
    if not ca_bundle:
        return True
    extra = Path(ca_bundle).read_bytes()
    if mode == "replace":
        return ca_bundle
    parts = [Path(p).read_bytes() for p in default_ca_files()]
    combined = b"\n".join(part.rstrip() for part in [*parts, extra]) + b"\n"
    where = directory or Path(tempfile.gettempdir()) / "aadsts-enricher-ca"
    where.mkdir(parents=True, exist_ok=True)
    target = where / f"{hashlib.sha256(combined).hexdigest()[:16]}.pem"
    if not target.exists():
        scratch = target.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_bytes(combined)
        scratch.replace(target)  # atomic: a second process never reads half a file
    return str(target)
