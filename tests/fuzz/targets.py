"""What ``make fuzz`` feeds, and what each input must not do (raise, hang, write invalid JSON).

Each target is a hypothesis strategy and a check. The strategies mix the real vocabulary of the
input (AADSTS fragments, API field names, YAML and config syntax) with arbitrary values, so most
inputs get past the first ``if`` of the code they are aimed at. A check returns quietly for any
input the code must accept or refuse in its documented way; anything else is a finding.
"""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from connectors.base import Identity
from connectors.http import parse_retry_after
from connectors.pipeline_runs import Target as Factory
from connectors.pipeline_runs import run_record
from connectors.powerbi_catalog import Dataset
from connectors.powerbi_records import dataset_record, error_code, refresh_key
from connectors.powerbi_sources import origin_of
from connectors.records import Source
from connectors.signin_records import signin_of
from connectors.timefmt import parse_time
from enricher.cli.enrich_batch import Batch
from enricher.config_load import load_config
from enricher.core.detect import detect
from enricher.core.knowledge import load_knowledge
from enricher.errors import ConfigError
from enricher.health import HealthServer
from enricher.ingest.formats import FORMATS, BadPayloadError
from enricher.ingest.records import Places, record_of
from enricher.listener import Limits
from enricher.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
KB = load_knowledge()
NOW = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)
IDENTITY = Identity("contoso", "4a7c2e10-5b3d-4f6e-9a81-2c3d4e5f6a70", "c1")


@dataclass
class Target:
    name: str
    what: str  # one line: what the inputs are
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]
    close: Callable[[], None] = lambda: None


# -- building blocks ---------------------------------------------------------------------------

FRAGMENTS = [
    "AADSTS", "aadsts", "50126", "7000215", "53003", "700016", "AADSTS50126:", "AADSTS7000222 ",
    '"error_codes":[', "]", "[", "{", "}", '"', "\\", "\\n", "\\\\n", "\r\n", "\n", ":", ",",
    "Trace ID: ", "Correlation ID: ", "Timestamp: ", "2025-04-02 06:10:44Z", "0f1e2d3c-4b5a-4697-8877-665544332211",
    "https://login.microsoftonline.com/error?code=50126", "error_uri", "invalid_client", "&quot;", "%22",
    "İ", "Σ", "ß", "\ufffd", "\ud800", "\udfff", "\x00", "\u202e", "0" * 40, "9" * 12, "AADSTS" * 30,
]  # fmt: skip
TEXT = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=30), max_size=40).map("".join)

FIELDS = [
    "id", "name", "status", "serviceExceptionJson", "refreshAttempts", "startTime", "endTime", "requestId",
    "refreshType", "runId", "runStart", "runEnd", "pipelineName", "message", "invokedBy", "error", "errorCode",
    "value", "continuationUri", "@odata.nextLink", "gatewayId", "datasourceId", "connectionDetails",
    "alerts", "labels", "annotations", "startsAt", "endsAt", "data", "essentials", "alertContext", "schemaId",
    "monitorCondition", "firedDateTime", "condition", "allOf", "dimensions", "SearchResults", "tables",
    "columns", "rows", "createdDateTime", "appId", "userPrincipalName", "conditionalAccessStatus",
    "appliedConditionalAccessPolicies", "failureReason", "additionalDetails", "Dimensions", "state",
]  # fmt: skip
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
)
JSON = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=8)
    ),
    max_leaves=40,
)
RECORD = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=12)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- detect and enrich ---------------------------------------------------------------------------


def check_detect(text: str) -> None:
    found = detect(text, KB.signatures)
    for f in found.findings:
        assert 0 <= f.span[0] <= f.span[1] <= len(text), (f.span, len(text))
        assert f.code.isdigit(), f.code
    assert found.primary is None or found.primary.isdigit()


_BATCH = Batch(KB)


def check_enrich_line(line: str) -> None:
    out = _BATCH.text(1, line)
    out.encode("utf-8")  # strict: no lone surrogate

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} written")

    json.loads(out, parse_constant=refuse)


LINES = (
    st.builds(lambda item: json.dumps(item, ensure_ascii=False, allow_nan=True), RECORD | st.fixed_dictionaries({"text": TEXT, "id": JSON}))
    | TEXT
    | st.integers(min_value=1, max_value=20_000).map(lambda n: '{"text": "x", "id": ' + deep(n) + "}")
    | st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape"))
)  # fmt: skip

# -- config load -------------------------------------------------------------------------------

EXAMPLE = yaml.safe_load((REPO / "config" / "example.yaml").read_text(encoding="utf-8"))
HOSTILE_VALUES = st.sampled_from(
    [-5, 0, 1e300, float("inf"), "-1s", "0s", ".inf", "1e300s", "${X}", "${X:-}", "${file:/dev/zero}",
     "${file:/nonexistent}", "not-an-address", "127.0.0.1:99999", "", None, [], {}, "a" * 5000, "\u0000"]
)  # fmt: skip
YAML_FRAGMENTS = [
    "a: &a [1, 2]\n", "b: [*a, *a, *a]\n", "<<: *a\n", "- ", ": ", "{", "}", "[", "]", "!!python/object:os.system ",
    "!!binary ", "? ", "|\n  ", "%YAML 1.1\n", "---\n", "...\n", "tenants:\n", "sinks:\n", "  - type: webhook\n",
    "    url: http://127.0.0.1:1\n", "interval: ", "\t", "\ufeff", "\x00", "'", '"',
]  # fmt: skip


def _mutate(data: Any, path: list[int], value: Any) -> Any:
    """``data`` with the element that ``path`` walks to (indexes into keys or items) set to ``value``."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = keys[path[0] % len(keys)]
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[key] = _mutate(copy[key], path[1:], value)  # type: ignore[index]
    return copy


CONFIGS = st.builds(
    lambda path, value: yaml.safe_dump(_mutate(EXAMPLE, path, value)),
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
    HOSTILE_VALUES | JSON,
) | st.lists(st.sampled_from(YAML_FRAGMENTS) | st.text(max_size=20), max_size=30).map("".join)

_CONFIG_DIR = Path(tempfile.mkdtemp(prefix="fuzz-config-"))


def check_config(text: str) -> None:
    path = _CONFIG_DIR / "config.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path, environ={"X": "1"})
    except ConfigError as exc:
        assert "\n" not in str(exc).strip() or len(str(exc)) < 5000, "a config error is one line"


# -- ingest formats ------------------------------------------------------------------------------

PLACES = Places("contoso", frozenset({"contoso"}), {}, {})
PAYLOADS = [
    json.loads(p.read_text(encoding="utf-8"))
    for p in sorted((REPO / "connectors" / "simulator" / "pushed").glob("*.json"))
]
INGEST = st.tuples(
    st.sampled_from(sorted(FORMATS)),
    JSON
    | RECORD
    | st.builds(
        _mutate, st.sampled_from(PAYLOADS), st.lists(st.integers(0, 30), min_size=1, max_size=6), JSON
    ),
)


def check_ingest(case: tuple[str, Any]) -> None:
    fmt, doc = case
    try:
        alerts = FORMATS[fmt](doc)
    except BadPayloadError:
        return
    for alert in alerts:
        record_of(alert, PLACES, NOW)


# -- connector parsers ------------------------------------------------------------------------

ADF_TARGET = Factory("sub/rg/adf-sales", "adf-sales", "https://x/runs", lambda run: "https://x/activities")


def check_connector(case: tuple[dict[str, Any], list[Any], Any]) -> None:
    record, items, value = case
    dataset_record(IDENTITY, Dataset("d1", "Sales", "w1", "Finance"), record, value)
    run_record(Source.ADF, IDENTITY, ADF_TARGET, record, [i for i in items if isinstance(i, dict)])
    refresh_key(record)
    error_code(value if isinstance(value, str) else json.dumps(value, allow_nan=True))
    parse_time(value)
    parse_retry_after(value if isinstance(value, str) else None, 1_700_000_000.0)
    origin_of(items)
    for kind in ("interactiveUser", "servicePrincipal"):
        signin_of(record, kind)


CONNECTOR = st.tuples(RECORD, st.lists(RECORD | JSON, max_size=5), JSON)

# -- the HTTP server -----------------------------------------------------------------------------

_METHODS = ["GET", "HEAD", "POST", "PUT", "BREW", "", "G\x00T", "GET" * 100]
_PATHS = [
    "/healthz",
    "/metrics",
    "/readyz",
    "/-/reload",
    "/",
    "//",
    "/%00",
    "/../../etc/passwd",
    "*",
    "/x?" + "a=" * 500,
]
REQUESTS = st.builds(
    lambda m, p, v, headers, body: (f"{m} {p} {v}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode(
        "utf-8", "surrogateescape"
    ) + body,
    st.sampled_from(_METHODS),
    st.sampled_from(_PATHS) | st.text(max_size=40),
    st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/9", "", "FTP/1.0"]),
    st.lists(
        st.tuples(
            st.sampled_from(["Content-Length", "Authorization", "Host", "Transfer-Encoding", "X"]) | st.text(max_size=10),
            st.sampled_from(["-1", "0", "99999999999", "Bearer x", "bearer", "chunked", "abc"]) | st.text(max_size=20),
        ),
        max_size=6,
    ),
    st.binary(max_size=64),
) | st.binary(max_size=300)  # fmt: skip


class Served:
    """One health server for the whole run (short deadlines, so a half-sent request ends fast)."""

    def __init__(self) -> None:
        self.limits = Limits(workers=2, head_deadline=1.0, idle=1.0, body_deadline=1.0)
        self.server = HealthServer(
            "127.0.0.1:0", Metrics(), lambda: NOW, lambda: NOW, timedelta(minutes=5), limits=self.limits
        )
        self.server.actions["/-/reload"] = lambda q: (200, "application/json", b"{}")
        self.server.start()

    def check(self, raw: bytes) -> None:
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            try:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
                answer = b"".join(iter(lambda: s.recv(65536), b""))
            except ConnectionResetError:
                answer = b""
        assert answer == b"" or answer.startswith(b"HTTP/1."), (raw[:120], answer[:80])
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            assert b"".join(iter(lambda: s.recv(65536), b"")).startswith(b"HTTP/1.0 200 ")

    def close(self) -> None:
        self.server.stop()


def targets() -> list[Target]:
    served = Served()
    return [
        Target("detect", "message text: AADSTS fragments, escapes, İ, surrogates, NULs", TEXT, check_detect),
        Target(
            "enrich-line", "enrich --jsonl lines: records, deep ids, NaN, bad UTF-8", LINES, check_enrich_line
        ),
        Target("config", "example.yaml with one value replaced, YAML fragments", CONFIGS, check_config),
        Target("ingest", "each push format: mutated reference payloads, any JSON", INGEST, check_ingest),
        Target(
            "connectors", "refresh, pipeline run, sign-in and datasource records", CONNECTOR, check_connector
        ),
        Target("http", "raw requests to the health server", REQUESTS, served.check, served.close),
    ]
