"""Detection, as a table of messages shaped like the ones admins really receive."""

from __future__ import annotations

import json

import pytest

from enricher.core.detect import Signatures, detect
from enricher.models import How

TOKEN_ERROR = {
    "error": "invalid_client",
    "error_description": (
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
        "client secret value, not the client secret ID, for a secret added to app "
        "'11111111-2222-3333-4444-555555555555'.\r\nTrace ID: a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c00\r\n"
        "Correlation ID: 0f1e2d3c-4b5a-4697-8877-665544332211\r\nTimestamp: 2025-04-02 06:10:44Z"
    ),
    "error_codes": [7000215],
    "timestamp": "2025-04-02 06:10:44Z",
    "trace_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c00",
    "correlation_id": "0f1e2d3c-4b5a-4697-8877-665544332211",
    "error_uri": "https://login.microsoftonline.com/error?code=7000215",
}

SERVICE_EXCEPTION = json.dumps(
    {
        "errorCode": "DMTS_OAuthTokenRefreshFailedError",
        "errorDescription": "Failed to refresh OAuth token. AADSTS700082: The refresh token has expired due to "
        "inactivity. The token was issued on 2024-12-30T06:00:12.4471839Z and was inactive for 90.00:00:00."
        "\r\nTrace ID: 7c1d7a1e-2f44-4b1f-9d0e-5a0c2f3b8e00\r\nCorrelation ID: "
        "3f2a9c41-0d8e-4a57-b1c6-2e9d7f1a6b33\r\nTimestamp: 2025-04-02 06:00:41Z",
    }
)

ADF_MESSAGE = (
    "Operation on target Copy_SalesOrders failed: Failure happened on 'Source' side. "
    "ErrorCode=SqlFailedToConnect,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,"
    "Message=Cannot connect to SQL Database.,Source=Microsoft.DataTransfer.Connectors.MSSQL,"
    "''Type=Microsoft.Identity.Client.MsalServiceException,Message=AADSTS7000222: The provided client secret "
    "keys for app '11111111-2222-3333-4444-555555555555' are expired.\r\nTrace ID: "
    "0b1c2d3e-4f50-4617-8293-a4b5c6d7e800\r\nCorrelation ID: 9e8d7c6b-5a49-4837-a261-504f3e2d1c0b\r\n"
    "Timestamp: 2025-04-02 02:01:17Z,Source=Microsoft.Identity.Client,'"
)

SIGNIN_RECORDS = json.dumps(
    {
        "value": [
            {
                "createdDateTime": "2025-04-02T05:30:17.4419021Z",
                "userPrincipalName": "svc-bi@contoso.com",
                "appId": "871c010f-5e61-4fb1-83ac-98610a7e9110",
                "correlationId": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
                "status": {
                    "errorCode": 53003,
                    "failureReason": "Access has been blocked by Conditional Access policies.",
                },
            },
            {
                "createdDateTime": "2025-04-02T04:02:51.0038712Z",
                "correlationId": "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e",
                "status": {"errorCode": 50126, "failureReason": "Invalid username or password."},
            },
        ]
    }
)


def codes(text: str) -> list[str]:
    return list(detect(text).codes)


class TestWhereCodesHide:
    @pytest.mark.parametrize(
        ("text", "expected", "how"),
        [
            ("AADSTS53003: Access has been blocked by Conditional Access policies.", ["53003"], How.LITERAL),
            ("Failed to refresh OAuth token. aadsts50173: grant revoked", ["50173"], How.LITERAL),
            ('{"error":"invalid_grant","error_codes":[65001]}', ["65001"], How.ERROR_CODES),
            ('{"error_uri":"https://login.microsoftonline.com/error?code=50173"}', ["50173"], How.ERROR_URI),
            (
                "see https://login.microsoftonline.us/error%3Fcode%3D700016 for more",
                ["700016"],
                How.ERROR_URI,
            ),
            ("broker: server_error_code: 50076, sub_error: basic_action", ["50076"], How.BROKER),
            ('{"server_error_code":"7000218","error":"invalid_client"}', ["7000218"], How.BROKER),
            ("x-ms-clitelem: 1,50173,0,604687.0128,", ["50173"], How.TELEMETRY),
            ("ErrorCode     : 53003\nFailureReason : Access has been blocked", ["53003"], How.SIGNIN),
            ("Sign-in error code: 50158", ["50158"], How.SIGNIN),
            ("error_description=AADSTS50076%3a+Due+to+a+configuration+change", ["50076"], How.LITERAL),
        ],
    )
    def test_each_form_is_read(self, text: str, expected: list[str], how: How) -> None:
        """Each place a code hides yields it, marked with how it was found."""
        result = detect(text)
        assert list(result.codes) == expected
        assert result.findings[0].how is how

    def test_token_endpoint_body(self) -> None:
        """A token-endpoint error yields one code with every identifier next to it."""
        result = detect(json.dumps(TOKEN_ERROR))
        assert result.codes == ("7000215",)
        f = result.findings[0]
        assert (f.how, f.error, f.client_id) == (
            How.LITERAL,
            "invalid_client",
            "11111111-2222-3333-4444-555555555555",
        )
        assert f.trace_id == "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c00"
        assert f.correlation_id == "0f1e2d3c-4b5a-4697-8877-665544332211"
        assert f.timestamp == "2025-04-02T06:10:44Z"

    def test_refresh_history_double_encoded(self) -> None:
        """serviceExceptionJson is a JSON string inside JSON: the code and IDs survive the escaping."""
        history = json.dumps({"value": [{"status": "Failed", "serviceExceptionJson": SERVICE_EXCEPTION}]})
        f = detect(history).findings[0]
        assert (f.code, f.correlation_id, f.timestamp) == (
            "700082",
            "3f2a9c41-0d8e-4a57-b1c6-2e9d7f1a6b33",
            "2025-04-02T06:00:41Z",
        )
        assert f.excerpt.startswith("AADSTS700082: The refresh token has expired due to inactivity.")

    def test_powerbi_deep_nesting(self) -> None:
        """The pbi.error details path is found without knowing it."""
        text = json.dumps(
            {
                "error": {
                    "code": "DMTS_OAuthTokenRefreshFailedError",
                    "pbi.error": {
                        "details": [
                            {
                                "code": "DM_ErrorDetailNameCode_UnderlyingErrorMessage",
                                "detail": {
                                    "type": 1,
                                    "value": "AADSTS50076: Due to a configuration change...",
                                },
                            }
                        ]
                    },
                }
            }
        )
        assert codes(text) == ["50076"]

    def test_adf_message_ignores_adf_codes(self) -> None:
        """ADF's own errorCode 2200 and error names are not AADSTS codes."""
        activity = json.dumps(
            {"error": {"errorCode": "2200", "message": ADF_MESSAGE, "failureType": "UserError"}}
        )
        result = detect(activity)
        assert result.codes == ("7000222",)
        assert result.findings[0].client_id == "11111111-2222-3333-4444-555555555555"
        assert result.findings[0].correlation_id == "9e8d7c6b-5a49-4837-a261-504f3e2d1c0b"

    def test_synapse_embedded_token_json(self) -> None:
        """A token-endpoint body escaped inside a pipeline message: one code, found literally first."""
        body = json.dumps(
            {
                "error": "unauthorized_client",
                "error_description": "AADSTS700016: Application with identifier "
                "'22222222-3333-4444-5555-666666666666' was not found in the directory 'contoso.onmicrosoft.com'."
                "\r\nTrace ID: 5f4e3d2c-1b0a-4998-8877-665544332211\r\nCorrelation ID: "
                "11223344-5566-4778-899a-abbccddeeff0\r\nTimestamp: 2025-04-02 03:10:07Z",
                "error_codes": [700016],
            }
        )
        message = json.dumps({"message": "Operation on target Get_AAD_Token failed: " + body})
        f = detect(message).findings
        assert [x.code for x in f] == ["700016"]
        assert (f[0].error, f[0].client_id) == ("unauthorized_client", "22222222-3333-4444-5555-666666666666")

    def test_signin_records(self) -> None:
        """Sign-in records carry bare numbers; both records are reported in order."""
        result = detect(SIGNIN_RECORDS)
        assert result.codes == ("53003", "50126")
        assert {f.how for f in result.findings} == {How.SIGNIN}
        assert result.findings[0].correlation_id == "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
        assert result.findings[1].correlation_id == "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e"

    def test_msal_python_dict_repr(self) -> None:
        """MSAL's Python dict printed with single quotes still gives the error class."""
        text = str({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."})
        f = detect(text).findings[0]
        assert (f.code, f.error) == ("7000215", "invalid_client")

    def test_dotnet_unicode_quotes(self) -> None:
        """.NET escapes quotes as \\u0027; the app id next to the code is still read."""
        text = "Message=AADSTS7000222: The provided client secret keys for app \\u002711111111-2222-3333-4444-555555555555\\u0027 are expired."
        f = detect(text).findings[0]
        assert f.client_id == "11111111-2222-3333-4444-555555555555"
        assert "app '11111111-2222-3333-4444-555555555555' are expired" in f.excerpt


class TestExcerpt:
    def test_the_reason_at_the_end_of_a_long_message_is_kept(self) -> None:
        """Entra's 700016 text runs past 300 characters and ends with the likely reason."""
        text = (
            "AADSTS700016: Application with identifier '11111111-2222-3333-4444-555555555555' was not found in "
            "the directory 'Contoso'. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You may have sent your "
            "authentication request to the wrong tenant."
        )
        assert detect(text).findings[0].excerpt == text

    def test_a_runaway_sentence_ends_on_a_word_with_a_mark(self) -> None:
        words = "lorem ipsum dolor " * 200
        excerpt = detect("AADSTS50000: " + words).findings[0].excerpt
        assert len(excerpt) <= 1000 and excerpt.endswith("…")
        assert ("AADSTS50000: " + words).startswith(excerpt[:-1]) and excerpt[-2] != " "
        assert excerpt[:-1].split()[-1] in {"lorem", "ipsum", "dolor"}


class TestNeverInventsCodes:
    @pytest.mark.parametrize(
        "text",
        [
            "",
            "AADSTS",
            "AADSTS1234: too short",
            "AADSTS12345678 too long",
            '{"errorCode": "2200", "message": "Failure happened on Sink side"}',
            '{"errorCode": 20000, "message": "ADF internal"}',
            "ErrorCode=UserErrorFailedToConnectToSqlServer,'Type=System.Data.SqlClient.SqlException'",
            "Error code: 50076 in a build log",
            "order 53003 shipped; invoice code=ABC",
            "Column 'OrderDate' in Table 'Sales' contains blank values",
        ],
    )
    def test_no_code(self, text: str) -> None:
        """Digits that are not an AADSTS code under a known key are never reported."""
        assert codes(text) == []


class TestOrderAndPrimary:
    def test_order_of_appearance_and_dedup(self) -> None:
        """Codes keep their first position; a repeat does not add a finding."""
        text = "AADSTS50076 first, then AADSTS53003, again AADSTS50076 and error_codes:[53003]"
        assert codes(text) == ["50076", "53003"]

    def test_generic_wrapper_is_not_primary(self) -> None:
        """50000 gives way to the code that names the cause."""
        result = detect(
            "AADSTS50000: There was an error issuing a token. Inner: AADSTS70043: sign-in frequency"
        )
        assert result.codes == ("50000", "70043")
        assert result.primary == "70043"

    def test_generic_alone_is_primary(self) -> None:
        assert detect("AADSTS50000: There was an error issuing a token.").primary == "50000"

    def test_ids_belong_to_their_own_code(self) -> None:
        """Each finding takes the identifiers printed after it, not its neighbour's."""
        a = "AADSTS50076: MFA.\r\nTrace ID: 11111111-1111-1111-1111-111111111111\r\nCorrelation ID: 21111111-1111-1111-1111-111111111111"
        b = "AADSTS53003: CA.\r\nTrace ID: 12222222-2222-2222-2222-222222222222\r\nCorrelation ID: 22222222-2222-2222-2222-222222222222"
        first, second = detect(a + " then " + b).findings
        assert first.correlation_id == "21111111-1111-1111-1111-111111111111"
        assert second.correlation_id == "22222222-2222-2222-2222-222222222222"


class TestSurvivesMangling:
    @pytest.mark.parametrize("levels", [1, 2, 3, 4])
    def test_json_escaping_many_levels(self, levels: int) -> None:
        """Escaping a message 1-4 times changes neither the codes nor the IDs."""
        base = detect(json.dumps(TOKEN_ERROR)).findings[0]
        text = json.dumps(TOKEN_ERROR)
        for _ in range(levels):
            text = json.dumps(text)
        f = detect(text).findings[0]
        assert (f.code, f.trace_id, f.correlation_id, f.error, f.client_id) == (
            base.code,
            base.trace_id,
            base.correlation_id,
            base.error,
            base.client_id,
        )

    def test_html_escaped(self) -> None:
        """An HTML-escaped token body (as in an email or a web page) is read the same."""
        text = json.dumps(TOKEN_ERROR).replace("&", "&amp;").replace('"', "&quot;").replace("'", "&#39;")
        f = detect(text).findings[0]
        assert (f.code, f.error, f.correlation_id) == (
            "7000215",
            "invalid_client",
            "0f1e2d3c-4b5a-4697-8877-665544332211",
        )

    def test_guid_broken_by_line_wrap(self) -> None:
        """A correlation id wrapped across lines (real or escaped breaks) is put back together."""
        for brk in ("\n", "\r\n  ", "\\r\\n", "\\\\n"):
            text = f"AADSTS53003: blocked.\nCorrelation ID: 3f2a9c41-0d8e-4a57-b1c6-2e9d7f1a{brk}6b33\nTimestamp: x"
            assert detect(text).findings[0].correlation_id == "3f2a9c41-0d8e-4a57-b1c6-2e9d7f1a6b33", brk

    def test_characters_whose_lower_case_is_longer_keep_the_spans(self) -> None:
        """A capital dotted I (two characters in lower case) before a code: the span still points at it."""
        text = "İstanbul " * 3 + "AADSTS50126: Invalid username or password"
        f = detect(text).findings[0]
        assert f.code == "50126" and text[f.span[0] : f.span[1]].startswith("AADSTS50126")

    def test_the_list_of_longer_lower_cases_is_complete(self) -> None:
        """detect keeps these as they are; a Python whose Unicode tables add one must add it there."""
        from enricher.core import detect as module

        longer = {chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and len(chr(c).lower()) != 1}
        assert longer == set(module.LONGER_LOWER)

    def test_non_ascii_megabytes_lowered_in_pieces(self) -> None:
        """Over a piece's length of non-ASCII text, codes and spans are found as in one piece."""
        text = (
            "Fehler é Σ İ " * 100_000
        ) + "AADSTS70011: scope. Trace ID: 0f1e2d3c-4b5a-4697-8877-665544332211"
        assert len(text) > 1 << 20
        f = detect(text).findings[0]
        assert f.code == "70011" and text[f.span[0] : f.span[1]].startswith("AADSTS70011")
        assert f.trace_id == "0f1e2d3c-4b5a-4697-8877-665544332211"

    def test_ten_megabytes(self) -> None:
        """A 10 MB log with codes at both ends is scanned completely (its speed is in bench/detect.py)."""
        filler = "INFO pipeline step ok 12345 error code none\n" * 240_000
        text = "AADSTS50173: revoked\n" + filler + "AADSTS90002: tenant not found"
        assert len(text) > 10_000_000
        assert codes(text) == ["50173", "90002"]


class TestSignatures:
    SIGS = Signatures.build(
        [
            ("700082", "refresh token has expired due to inactivity"),
            ("7000222", "provided client secret keys for app * are expired"),
        ]
    )

    def test_inferred_when_code_is_missing(self) -> None:
        """A wrapper that kept only the sentence still yields the code, as inferred."""
        result = detect(
            "Failed to refresh OAuth token: The refresh token has expired due to inactivity.", self.SIGS
        )
        assert result.codes == ()
        assert [(i.code, i.phrase) for i in result.inferred] == [
            ("700082", "refresh token has expired due to inactivity")
        ]
        assert result.primary == "700082"

    def test_gap_in_phrase(self) -> None:
        text = "The provided client secret keys for app '11111111-2222-3333-4444-555555555555' are expired."
        assert [i.code for i in detect(text, self.SIGS).inferred] == ["7000222"]

    def test_inferred_never_hides_literal(self) -> None:
        """When the code is also printed, it is literal only; other codes stay primary."""
        text = "AADSTS53003 blocked. Earlier: the refresh token has expired due to inactivity. AADSTS700082"
        result = detect(text, self.SIGS)
        assert result.codes == ("53003", "700082")
        assert result.inferred == ()
        assert result.primary == "53003"

    def test_words_across_escaped_breaks(self) -> None:
        text = "refresh token has expired\\r\\ndue to inactivity"
        assert [i.code for i in detect(text, self.SIGS).inferred] == ["700082"]

    @pytest.mark.parametrize(
        "text",
        [
            "The token has expired.",
            "refresh token was renewed due to inactivity settings",
            "secret keys rotated",
        ],
    )
    def test_no_false_signature(self, text: str) -> None:
        assert detect(text, self.SIGS).inferred == ()
