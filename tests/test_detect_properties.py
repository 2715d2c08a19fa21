"""Properties detection must keep for any input at all (hypothesis)."""

from __future__ import annotations

import html
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from enricher.core.detect import Signatures, detect

FRAGMENTS = st.sampled_from(
    [
        "AADSTS",
        "AADSTS50076",
        "aadsts7000215:",
        "error_codes",
        '"error_codes":[',
        "]",
        "error?code=",
        "server_error_code: ",
        "errorCode: ",
        "failureReason",
        "Trace ID: ",
        "Correlation ID: ",
        "Timestamp: 2025-04-02 06:00:41Z",
        "3f2a9c41-0d8e-4a57-b1c6-2e9d7f1a6b33",
        "\\",
        '\\"',
        '\\\\\\"',
        "&quot;",
        "\\u0027",
        "\r\n",
        "\\r\\n",
        "12345",
        "1234567",
        "12345678",
        "'",
        '"',
        ":",
        ",",
        " ",
        "x-ms-clitelem: 1,",
    ]
)
MESSY = st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join)
SIGS = Signatures.build(
    [("700082", "refresh token has expired due to inactivity"), ("53003", "blocked by * access")]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), MESSY))
def test_never_raises_and_findings_are_sound(text: str) -> None:
    """Any string: no exception; codes are 5-7 digits, unique, and visible at their span."""
    result = detect(text, SIGS)
    seen = set()
    for f in result.findings:
        assert f.code.isdigit() and 5 <= len(f.code) <= 7
        assert f.code not in seen
        seen.add(f.code)
        start, end = f.span
        assert 0 <= start < end <= len(text)
        assert f.code in text[start:end]
    for inf in result.inferred:
        assert inf.code not in seen
    assert (
        result.primary is None
        or result.primary in seen
        or any(i.code == result.primary for i in result.inferred)
    )


@settings(max_examples=200, deadline=None)
@given(
    code=st.integers(min_value=10000, max_value=9999999).map(str),
    levels=st.integers(min_value=0, max_value=4),
    prefix=st.text(alphabet="abc XYZ.:;", max_size=20),
    html_escape=st.booleans(),
)
def test_escaping_keeps_code_and_ids(code: str, levels: int, prefix: str, html_escape: bool) -> None:
    """Wrapping a message in JSON strings (any depth) or HTML never changes what is found."""
    message = json.dumps(
        {
            "error": "invalid_grant",
            "error_description": f"{prefix}AADSTS{code}: text.\r\nTrace ID: 7c1d7a1e-2f44-4b1f-9d0e-5a0c2f3b8e00"
            "\r\nCorrelation ID: 3f2a9c41-0d8e-4a57-b1c6-2e9d7f1a6b33\r\nTimestamp: 2025-04-02 06:00:41Z",
            "error_codes": [int(code)],
        }
    )
    for _ in range(levels):
        message = json.dumps(message)
    if html_escape:
        message = html.escape(message)
    f = detect(message).findings
    assert [x.code for x in f] == [code]
    assert (f[0].error, f[0].correlation_id, f[0].trace_id) == (
        "invalid_grant",
        "3f2a9c41-0d8e-4a57-b1c6-2e9d7f1a6b33",
        "7c1d7a1e-2f44-4b1f-9d0e-5a0c2f3b8e00",
    )
