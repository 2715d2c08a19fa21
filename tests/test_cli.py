"""The CLI contract other tools rely on: commands, JSON shapes and exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from enricher.cli import main
from enricher.core.knowledge import load_knowledge

MSAL = (
    "MsalServiceException: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
    "request is the client secret value, not the client secret ID, for a secret added to app "
    "'11111111-2222-3333-4444-555555555555'.\r\nTrace ID: a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c00\r\nCorrelation ID: "
    "0f1e2d3c-4b5a-4697-8877-665544332211\r\nTimestamp: 2025-04-02 06:10:44Z"
)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(
            io.BytesIO(stdin.encode()), encoding="utf-8"
        )  # with a .buffer, as a real one
    try:
        code = main(list(args))
    finally:
        sys.stdin = sys.__stdin__
    return code, capsys.readouterr().out


class TestExplain:
    def test_human(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A complete entry: identifier, meaning, causes, numbered fixes, product notes, docs."""
        code, out = run_cli(capsys, "explain", "AADSTS53003")
        assert code == 0
        for part in (
            "AADSTS53003  BlockedByConditionalAccess",
            "What it means",
            "Likely causes",
            "How to fix",
            "  1. ",
            "  5. ",
            "In Power BI",
            "In Azure Data Factory",
            "error?code=53003",
        ):
            assert part in out, part

    def test_context_and_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "explain", "53003", "--json")
        data = json.loads(out)
        assert code == 0 and data["code"] == "53003" and data["known"] is True and data["rich"] is True
        _, out = run_cli(capsys, "explain", "53003", "--context", "gateway")
        assert "In On-premises data gateway" in out and "In Azure Data Factory" not in out

    def test_all_json_is_one_array(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "explain", "--all", "--json")
        data = json.loads(out)
        assert code == 0 and isinstance(data, list) and len(data) >= 345
        assert {"code", "name", "title", "summary", "severity", "category", "fixes", "docs"} <= set(data[0])

    def test_unknown_and_invalid(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "explain", "9999997", "--json")
        assert code == 0 and json.loads(out)["known"] is False
        assert run_cli(capsys, "explain", "hello")[0] == 2


class TestEnrich:
    def test_json_contract(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "enrich", "--json", "-", stdin=MSAL)
        data = json.loads(out)
        assert code == 0
        assert data["codes"] == ["7000215"] and data["primary"] == "7000215"
        assert data["correlation_id"] == "0f1e2d3c-4b5a-4697-8877-665544332211"
        assert data["trace_id"] == "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c00"
        assert data["timestamp"] == "2025-04-02T06:10:44Z"
        assert data["entries"][0] == {
            "code": "7000215",
            "name": data["entries"][0]["name"],
            "title": data["entries"][0]["title"],
            "severity": data["entries"][0]["severity"],
            "category": "credentials_secret_cert",
            "known": True,
        }
        assert data["inferred"] == []

    def test_text_argument_and_exit_code_when_nothing_found(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "enrich", "nothing to see here")
        assert code == 1 and "No AADSTS code found" in out

    def test_human_output(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "enrich", MSAL, "--context", "adf")
        assert code == 0
        assert (
            "AADSTS7000215 (primary)" in out
            and "correlation id 0f1e2d3c" in out
            and "In Azure Data Factory" in out
        )

    def test_inferred_is_separate(self, capsys: pytest.CaptureFixture[str]) -> None:
        text = "Failed to refresh OAuth token: The refresh token has expired due to inactivity."
        data = json.loads(run_cli(capsys, "enrich", "--json", text)[1])
        assert data["codes"] == [] and data["inferred"][0]["code"] == "700082"
        assert data["primary"] == "700082"

    def test_jsonl_keeps_going_after_bad_lines(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        lines = [
            json.dumps({"id": 1, "text": MSAL, "context": "adf"}),
            "{not json",
            json.dumps({"text": 42}),
            "",
            json.dumps({"text": "AADSTS53003 blocked", "context": "azure-cli"}),
            json.dumps({"text": "AADSTS53003 blocked"}),
        ]
        path = tmp_path / "in.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        code, out = run_cli(capsys, "enrich", "--jsonl", str(path))
        rows = [json.loads(line) for line in out.splitlines()]
        assert code == 0 and len(rows) == 5
        assert rows[0]["id"] == 1 and rows[0]["codes"] == ["7000215"] and rows[0]["warnings"] == []
        assert [r.get("line") for r in rows[1:3]] == [2, 3] and all("error" in r for r in rows[1:3])
        # a context we do not know is a hint, not an error: the line is enriched and says so
        assert rows[3]["codes"] == ["53003"] and rows[3]["advice"]["fixes"] and rows[3]["context"] is None
        assert rows[3]["warnings"] == [
            "unknown context 'azure-cli' ignored (known: powerbi, gateway, fabric, adf, synapse, databricks)"
        ]
        assert rows[4]["codes"] == ["53003"] and rows[4]["warnings"] == []

    def test_jsonl_from_stdin(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "enrich", "--jsonl", "-", stdin=json.dumps({"text": MSAL}) + "\n")
        assert code == 0 and json.loads(out)["codes"] == ["7000215"]


class TestKbAndVersion:
    def test_stats(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "kb", "stats", "--json")
        data = json.loads(out)
        assert code == 0 and data["coverage_percent"] == 100.0 and data["rich"] >= 40
        assert data["official"] == 345 and data["observed"] > 0
        kb = load_knowledge()
        assert data["with_product_notes"] == sum(bool(e.contexts) for e in kb) > data["rich"]
        assert data["with_faq"] == sum(bool(e.faq) for e in kb) >= 10

    def test_stats_human(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = run_cli(capsys, "kb", "stats")
        assert code == 0 and "345/345 (100.0%)" in out and "conditional_access" in out
        assert "with product notes" in out and "with a FAQ" in out

    def test_kb_dir_override(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        (tmp_path / "ours.yaml").write_text("code: '53003'\ntitle: Blocked by our CA policy (ticket IAM-7)\n")
        _, out = run_cli(capsys, "--kb-dir", str(tmp_path), "explain", "53003")
        assert "Blocked by our CA policy (ticket IAM-7)" in out


def test_console_script_and_module(tmp_path: Path) -> None:
    """The installed script and ``python -m enricher`` both work from any directory."""
    script = Path(sys.executable).with_name("aadsts-enricher")
    version = subprocess.run(
        [str(script), "--version"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("aadsts-enricher ") and "knowledge base" in version.stdout
    piped = subprocess.run(
        [sys.executable, "-m", "enricher", "enrich", "-"],
        input=MSAL,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 0 and "AADSTS7000215" in piped.stdout
    bad = subprocess.run([str(script), "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("nope", "--scenario: unknown scenario 'nope': bundled ones are admin_only, demo, scale"),
        ("{tmp}/bad.yaml", "--scenario: invalid scenario {tmp}/bad.yaml: seed: Field required;"),
    ],
)
def test_simulate_with_a_bad_scenario_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: str, message: str
) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\n", encoding="utf-8")
    code = main(["simulate", "--scenario", scenario.format(tmp=tmp_path), "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message.format(tmp=tmp_path) in err
