"""``enrich`` fed hostile input through the installed command: one bad line is one error line.

Every output line must be strict JSON (no ``NaN``) in strict UTF-8 (no lone surrogates, no raw
invalid bytes passed through), the good lines around a bad one are enriched, and the locale
(``LC_ALL=C``) changes nothing. Memory is measured by ``bench/enrich_memory.py``, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("aadsts-enricher")
GOOD = b'{"id": "good", "text": "AADSTS50126: Error validating credentials"}\n'
HOSTILE = [
    (b"[" * 10_000 + b"]" * 10_000 + b"\n", "JSON nested too deeply"),
    (b'{"id": ' + b"[" * 10_000 + b"]" * 10_000 + b', "text": "AADSTS50126"}\n', "JSON nested too deeply"),
    (b'{"id": NaN, "text": "AADSTS50126"}\n', "NaN is not JSON"),
    (b'{"id": -Infinity, "text": "AADSTS50126"}\n', "-Infinity is not JSON"),
    (b'{"text": "AADSTS50126 \xff\xfe broken"}\n', "not UTF-8 (byte 0xff at character 23)"),
    (b'{"text": "AADSTS50126", "id": "\xc3"}\n', "not UTF-8 (byte 0xc3"),
]


def enrich(*args: str, stdin: bytes = b"", locale: str = "C") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": locale, "PYTHONIOENCODING": ""}
    return subprocess.run(
        [str(SCRIPT), "enrich", *args], input=stdin, capture_output=True, env=env, timeout=120, check=False
    )


def strict_lines(out: bytes) -> list[dict[str, object]]:
    """Each line decoded as strict UTF-8 and parsed as strict JSON."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the output")

    return [json.loads(line.decode("utf-8"), parse_constant=refuse) for line in out.splitlines()]


class TestBadLines:
    @pytest.mark.parametrize(("line", "error"), HOSTILE, ids=["deep", "deep-id", "nan", "inf", "ff", "cut"])
    @pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
    def test_one_error_line_and_the_batch_goes_on(self, line: bytes, error: str, locale: str) -> None:
        done = enrich("--jsonl", "-", stdin=GOOD + line + GOOD, locale=locale)
        assert done.returncode == 0 and done.stderr == b""
        first, bad, last = strict_lines(done.stdout)
        assert first["id"] == last["id"] == "good" and first["codes"] == ["50126"]
        assert bad["line"] == 2 and str(bad["error"]).startswith(error)

    def test_a_lone_surrogate_id_comes_back_as_a_replacement_character(self) -> None:
        """``"\\ud800"`` parses in Python but cannot be written as UTF-8: it is written as U+FFFD."""
        lone = b'{"id": "a\\ud800b", "text": "AADSTS50126", "context": "x\\udfff"}\n'
        pair = b'{"id": "\\ud83d\\ude00", "text": "AADSTS50126"}\n'
        done = enrich("--jsonl", "-", stdin=lone + pair)
        assert done.returncode == 0
        first, second = strict_lines(done.stdout)
        assert first["id"] == "a\ufffdb" and first["codes"] == ["50126"]
        assert second["id"] == "\U0001f600"  # a proper pair is a character, kept

    def test_a_file_and_stdin_and_two_workers_agree(self, tmp_path: Path) -> None:
        data = GOOD + b"".join(line for line, _ in HOSTILE) + GOOD
        source = tmp_path / "in.jsonl"
        source.write_bytes(data)
        outs = [
            enrich("--jsonl", "-", stdin=data).stdout,
            enrich("--jsonl", str(source)).stdout,
            enrich("--jsonl", str(source), "--workers", "2").stdout,
        ]
        assert outs[0] == outs[1] == outs[2] and len(strict_lines(outs[0])) == len(HOSTILE) + 2


class TestUnreadableInput:
    @pytest.mark.parametrize("path", ["/nonexistent/in.jsonl", "/"])
    def test_a_file_that_cannot_be_opened_is_one_line_and_exit_2(self, path: str) -> None:
        done = enrich("--jsonl", path)
        assert done.returncode == 2 and done.stdout == b""
        assert done.stderr.decode().count("\n") == 1 and path in done.stderr.decode()
        assert b"Traceback" not in done.stderr

    def test_a_message_that_is_not_utf8_is_still_enriched(self) -> None:
        """A single message from stdin (not --jsonl): bad bytes become U+FFFD, the code is found."""
        done = enrich("--json", "-", stdin=b"\xff\xfe AADSTS50126: bad \xc3 password")
        assert done.returncode == 0
        assert strict_lines(done.stdout.replace(b"\n", b" ") + b"\n")[0]["codes"] == ["50126"]
