"""Tokens, only through azure-identity: one credential factory and a small token provider.

The provider adds the two things the HTTP client needs on top of azure-identity's own cache: a
forced refresh after an API says the token is no longer good (sent as a claims challenge, which is
how azure-identity and MSAL skip their caches; a server-sent CAE challenge is passed through as
is), and translation of azure-identity's exceptions into :class:`AuthError` carrying Entra's text,
so a failing sign-in of the daemon itself becomes data (a run record of source ``self``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    CredentialUnavailableError,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from connectors.errors import AuthError, Stopped

CredentialKind = Literal["client_secret", "certificate", "managed_identity", "workload_identity", "default"]
_MICROSOFT_AUTHORITIES = {
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.microsoft.com",
}


@dataclass(frozen=True)
class CredentialSpec:
    """What azure-identity needs to sign in as the daemon. Secrets are plain strings here: the
    daemon unwraps them from its config at the last moment and never logs this object."""

    kind: CredentialKind
    tenant_id: str
    client_id: str | None = None
    client_secret: str | None = None
    certificate_path: str | None = None
    certificate_password: str | None = None
    token_file: str | None = None
    authority: str = "https://login.microsoftonline.com"
    #: CA bundle to trust (the simulator's CA, a corporate proxy's); None = the system default.
    verify: str | None = None

    def __repr__(self) -> str:  # never show secrets, even in tracebacks
        return (
            f"CredentialSpec(kind={self.kind!r}, tenant_id={self.tenant_id!r}, client_id={self.client_id!r})"
        )


class StoppableTransport(RequestsTransport):
    """azure-identity's HTTP transport with a sleep that ends on shutdown and never lasts long.

    azure-core's retry policy sleeps out a token endpoint's ``Retry-After`` with ``time.sleep``: a
    ``429 Retry-After: 3600`` kept a poll thread (and so the process, after SIGTERM) asleep for an
    hour. Here a wait longer than ``max_wait`` is not taken at all (the sign-in fails now and is
    tried again next cycle), a shorter one waits on the ``stop`` event, and a stop raises
    :class:`Stopped`. Connect and read timeouts are ours too (azure-core's default is 300 s each).
    """

    def __init__(self, stop: threading.Event, max_wait: float, **kwargs: Any) -> None:
        kwargs.setdefault("connection_timeout", 10)
        kwargs.setdefault("read_timeout", 30)
        super().__init__(**kwargs)
        self._stop = stop
        self._max_wait = max_wait

    def sleep(self, duration: float) -> None:
        if self._stop.is_set():
            raise Stopped("stopping")
        if duration > self._max_wait:
            raise ClientAuthenticationError(
                message=f"the token endpoint asked to wait {duration:.0f} s before trying again "
                "(HTTP 429 Retry-After); the sign-in is tried again next cycle"
            )
        if self._stop.wait(duration):
            raise Stopped("stopping")


def make_credential(
    spec: CredentialSpec, *, stop: threading.Event | None = None, max_wait: float = 60.0
) -> TokenCredential:
    """The one place credentials are built. ``stop`` ends any wait of azure-identity's own retries."""
    common: dict[str, Any] = {"authority": spec.authority}
    if urlparse(spec.authority).hostname not in _MICROSOFT_AUTHORITIES:
        common["disable_instance_discovery"] = True  # a simulator or private authority has no discovery
    verify: dict[str, Any] = {"connection_verify": spec.verify} if spec.verify else {}
    common["transport"] = StoppableTransport(stop or threading.Event(), max_wait, **verify)
    common.update(verify)
    if spec.kind == "client_secret":
        return ClientSecretCredential(
            spec.tenant_id, _need(spec.client_id), _need(spec.client_secret), **common
        )
    if spec.kind == "certificate":
        return CertificateCredential(
            spec.tenant_id,
            _need(spec.client_id),
            certificate_path=_need(spec.certificate_path),
            password=spec.certificate_password,
            **common,
        )
    if spec.kind == "workload_identity":
        return WorkloadIdentityCredential(
            tenant_id=spec.tenant_id,
            client_id=_need(spec.client_id),
            token_file_path=_need(spec.token_file),
            **common,
        )
    if spec.kind == "managed_identity":
        return ManagedIdentityCredential(client_id=spec.client_id, transport=common["transport"], **verify)
    return DefaultAzureCredential(
        authority=spec.authority,
        managed_identity_client_id=spec.client_id,
        exclude_interactive_browser_credential=True,
        transport=common["transport"],
    )


def _need(value: str | None) -> str:
    if not value:
        raise ValueError("credential setting missing")
    return value


class TokenProvider:
    """Bearer tokens per scope from one credential, with a forced refresh when an API rejects one."""

    def __init__(self, credential: TokenCredential, clock: Callable[[], float] = time.time) -> None:
        self._credential = credential
        self._clock = clock
        self._lock = threading.Lock()
        self.acquired = 0

    def token(self, scope: str, *, fresh: bool = False, claims: str | None = None) -> str:
        """A token for ``scope``; ``fresh`` or ``claims`` bypass every cache."""
        if fresh and not claims:
            claims = json.dumps(
                {"access_token": {"nbf": {"essential": True, "value": str(int(self._clock()))}}}
            )
        try:
            with self._lock:
                self.acquired += 1
            if claims:
                try:
                    return self._credential.get_token(scope, claims=claims).token
                except (
                    TypeError,
                    ValueError,
                ):  # credentials that take no claims (e.g. some managed identities)
                    return self._credential.get_token(scope).token
            return self._credential.get_token(scope).token
        except (ClientAuthenticationError, CredentialUnavailableError) as exc:
            if _stopped(exc):  # azure-identity wraps what our transport raised on stop
                raise Stopped("stopping") from None
            raise AuthError(scope, _entra_text(exc)) from exc
        except ValueError as exc:  # azure-identity's own validation (e.g. a malformed tenant id)
            raise AuthError(scope, str(exc)) from exc


def _stopped(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, Stopped):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _entra_text(exc: Exception) -> str:
    """Entra's error text from an azure-identity exception (the part with the AADSTS code)."""
    message = getattr(exc, "message", None) or str(exc)
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = response.text()
        except Exception:
            body = ""
        if body and body not in message:
            message = f"{message}\n{body}"
    return message
