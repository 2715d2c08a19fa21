"""AADSTS codes the simulator emits: OAuth ``error`` class, who signs in, and the text.

Texts follow the shapes of the real messages (several are verbatim from the reference
samples). Placeholders: ``{app}`` client id, ``{name}`` app name, ``{tenant}`` tenant as the
client wrote it, ``{domain}`` tenant domain, ``{resource}`` resource id, ``{issuer}``,
``{subject}``, ``{reason}``, ``{param}``, ``{scope}``, ``{grant}``, ``{issued}``.

``principal`` says whose sign-in fails: ``user`` codes come from stored data-source credentials
(delegated OAuth tokens), ``app`` codes from service-principal credentials. The Graph sign-in log
puts the two in different event types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.simulator.timefmt import entra


@dataclass(frozen=True, slots=True)
class Code:
    error: str  # the OAuth error class
    principal: str  # "user" or "app"
    text: str


_MFA_TEXT = (
    "Due to a configuration change made by your administrator, or because you moved to a new "
    "location, you must use multi-factor authentication to access '{resource}'."
)

CODES: dict[int, Code] = {
    50000: Code(
        "temporarily_unavailable",
        "user",
        "There was an error issuing a token or an issue with our sign-in service. Retry the request later.",
    ),
    50076: Code("interaction_required", "user", _MFA_TEXT),
    50079: Code(
        "interaction_required",
        "user",
        "Due to a configuration change made by your administrator, or because you moved to a new "
        "location, you must enroll in multi-factor authentication to access '{resource}'.",
    ),
    50126: Code("invalid_grant", "user", "Error validating credentials due to invalid username or password."),
    50173: Code(
        "invalid_grant",
        "user",
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
        "The user might have changed or reset their password.",
    ),
    53003: Code(
        "invalid_grant",
        "user",
        "Access has been blocked by Conditional Access policies. "
        "The access policy does not allow token issuance.",
    ),
    70008: Code(
        "invalid_grant",
        "user",
        "The provided authorization code or refresh token has expired due to inactivity. "
        "Send a new interactive authorization request for this user and resource.",
    ),
    70043: Code(
        "invalid_grant",
        "user",
        "The refresh token has expired or is invalid due to sign-in frequency checks by "
        "conditional access. The token was issued on {issued} and the maximum allowed lifetime "
        "for this request is 3600.",
    ),
    700082: Code(
        "invalid_grant",
        "user",
        "The refresh token has expired due to inactivity. The token was issued on {issued} "
        "and was inactive for 90.00:00:00.",
    ),
    50196: Code(
        "temporarily_unavailable",
        "app",
        "The server terminated an operation because it encountered a client request loop.",
    ),
    90055: Code(
        "temporarily_unavailable",
        "app",
        "The tenant is throttled because of too many requests. Retry after a delay.",
    ),
    90002: Code(
        "invalid_tenant",
        "app",
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may "
        "happen if there are no active subscriptions for the tenant.",
    ),
    700016: Code(
        "unauthorized_client",
        "app",
        "Application with identifier '{app}' was not found in the directory '{domain}'. This can "
        "happen if the application has not been installed by the administrator of the tenant or "
        "consented to by any user in the tenant. You may have sent your authentication request "
        "to the wrong tenant.",
    ),
    7000112: Code("unauthorized_client", "app", "Application '{app}'({name}) is disabled."),
    7000215: Code(
        "invalid_client",
        "app",
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        "client secret value, not the client secret ID, for a secret added to app '{app}'.",
    ),
    7000222: Code(
        "invalid_client",
        "app",
        "The provided client secret keys for app '{app}' are expired. Visit the Azure portal to "
        "create new keys for your app: https://aka.ms/NewClientSecret, or consider using "
        "certificate credentials for added security: https://aka.ms/certCreds.",
    ),
    700027: Code("invalid_client", "app", "{reason}"),
    50027: Code("invalid_request", "app", "JWT token is invalid or malformed."),
    7000218: Code(
        "invalid_client",
        "app",
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
    700024: Code("invalid_client", "app", "Client assertion is not within its valid time range."),
    700211: Code(
        "invalid_client",
        "app",
        "No matching federated identity record found for presented assertion issuer '{issuer}'. "
        "Please note that the matching is done using a case-sensitive comparison. Check your "
        "federated identity credential Subject, Audience and Issuer against the presented "
        "assertion.",
    ),
    700213: Code(
        "invalid_client",
        "app",
        "No matching federated identity record found for presented assertion subject "
        "'{subject}'. Check your federated identity credential Subject, Audience and Issuer "
        "against the presented assertion.",
    ),
    500011: Code(
        "invalid_resource",
        "app",
        "The resource principal named {resource} was not found in the tenant named {domain}. "
        "This can happen if the application has not been installed by the administrator of the "
        "tenant or consented to by any user in the tenant. You might have sent your "
        "authentication request to the wrong tenant.",
    ),
    900144: Code(
        "invalid_request", "app", "The request body must contain the following parameter: '{param}'."
    ),
    70003: Code("unsupported_grant_type", "app", "The app requested an unsupported grant type '{grant}'."),
    1002012: Code(
        "invalid_scope",
        "app",
        "The provided value for scope {scope} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier (application ID URI).",
    ),
}

_FALLBACK = Code("invalid_request", "user", "The sign-in failed (simulated AADSTS{code}).")


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def lookup(code: int) -> Code:
    return CODES.get(code, _FALLBACK)


def reason(code: int, **values: str) -> str:
    """The text without the ``AADSTS<code>:`` prefix (Graph's ``status.failureReason``)."""
    return lookup(code).text.format_map(_Blank(code=str(code), **values))


def describe(code: int, **values: str) -> str:
    """``AADSTS<code>: <text>`` with the placeholders filled (unknown ones shown as <name>)."""
    return f"AADSTS{code}: {reason(code, **values)}"


def with_trailer(description: str, trace_id: str, correlation_id: str, when: datetime) -> str:
    """The ``\\r\\nTrace ID: ..\\r\\nCorrelation ID: ..\\r\\nTimestamp: ..`` tail ESTS appends."""
    return (
        f"{description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"
        f"\r\nTimestamp: {entra(when)}"
    )


def error_body(
    code: int, trace_id: str, correlation_id: str, when: datetime, **values: str
) -> dict[str, object]:
    """The token endpoint's error JSON, key for key like the recorded samples."""
    return {
        "error": lookup(code).error,
        "error_description": with_trailer(describe(code, **values), trace_id, correlation_id, when),
        "error_codes": [code],
        "timestamp": entra(when),
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def http_status(code: int) -> int:
    """401 for ``invalid_client`` (as observed), 400 for every other OAuth error."""
    return 401 if lookup(code).error == "invalid_client" else 400
