"""The local sinks: console (text and the --json contract) and JSON lines on disk."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from enricher.notification import Notification
from enricher.sinks.console import ConsoleSink
from enricher.sinks.jsonl import JsonlSink
from tests.sinks.conftest import assert_golden, firing, hostile, resolved, sink_config


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def console(stream: io.StringIO, **extra: object) -> ConsoleSink:
    return ConsoleSink(sink_config("console", "", **extra), stream=stream)


class TestConsoleText:
    def test_block_has_every_piece(self) -> None:
        out = io.StringIO()
        assert console(out, color="never").send(firing()).ok
        text = out.getvalue()
        assert text.startswith("FIRING CRITICAL AADSTS53003: Access blocked by Conditional Access - Sales\n")
        for part in (
            "  Item      Sales (dataset) in Finance · powerbi",
            "  Seen      first seen 2025-04-02 04:10 UTC · 3 failures",
            "Power BI disables the schedule after 1 more.",
            "  Cause     The service principal",
            "    1. Open the sign-in log entry",
            "       $ az rest --method get",
            "  Link      AADSTS53003 explained: https://login.microsoftonline.com/error?code=53003",
            "  IDs       Correlation ID 0f1e2d3c-4b5a-4697-8877-665544332211",
        ):
            assert part in text, part
        assert "\x1b" not in text

    def test_resolved_says_how_long(self) -> None:
        out = io.StringIO()
        console(out, color="never").send(resolved())
        assert "lasted 2 h 5 min" in out.getvalue() and "Fix" not in out.getvalue()

    @pytest.mark.parametrize(
        ("setting", "stream", "env", "coloured"),
        [
            ("always", io.StringIO(), {}, True),
            ("never", Tty(), {}, False),
            ("auto", Tty(), {}, True),
            ("auto", io.StringIO(), {}, False),
            ("auto", Tty(), {"NO_COLOR": "1"}, False),
        ],
    )
    def test_colour(
        self,
        monkeypatch: pytest.MonkeyPatch,
        setting: str,
        stream: io.StringIO,
        env: dict[str, str],
        coloured: bool,
    ) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        console(stream, color=setting).send(firing())
        assert ("\x1b[" in stream.getvalue()) is coloured

    def test_terminal_escapes_from_outside_are_stripped(self) -> None:
        out = io.StringIO()
        console(out, color="never").send(hostile())
        assert "\x1b" not in out.getvalue()


class TestConsoleJson:
    def test_contract(self) -> None:
        """One JSON line per notification with the demo's --json keys."""
        out = io.StringIO()
        sink = console(out, format="json")
        sink.send(firing())
        sink.send(resolved())
        first, second = (json.loads(line) for line in out.getvalue().splitlines())
        required = {
            "incident",
            "status",
            "kind",
            "severity",
            "code",
            "source",
            "item",
            "workspace",
            "title",
            "count",
            "id",
        }
        assert required <= set(first)
        assert_golden("console_json_firing", first)
        assert (first["status"], second["status"], second["kind"]) == ("firing", "resolved", "resolved")
        assert (first["item"], first["workspace"], first["code"]) == ("Sales", "Finance", "53003")


class TestJsonl:
    def test_appends_durable_lines(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Relative paths are taken from the working directory; missing folders are created."""
        monkeypatch.chdir(tmp_path)
        sink = JsonlSink(sink_config("jsonl", "", path="out/deep/alerts.jsonl"), tmp_path / "config")
        results = [sink.send(n) for n in (firing(), resolved())]
        sink.close()
        assert all(r.ok for r in results)
        lines = (tmp_path / "out/deep/alerts.jsonl").read_text(encoding="utf-8").splitlines()
        first, second = (json.loads(line) for line in lines)
        assert first == json.loads(json.dumps({**firing().to_dict(), "status": "firing"}))
        assert second["status"] == "resolved"
        assert Notification.from_dict(first) == firing()

    def test_a_resend_after_a_crash_is_not_written_twice(self, tmp_path: Path) -> None:
        """A notification already in the file (sent just before a kill -9) is acknowledged, not repeated."""
        path = str(tmp_path / "alerts.jsonl")
        assert JsonlSink(sink_config("jsonl", "", path=path)).send(firing()).ok
        again = JsonlSink(sink_config("jsonl", "", path=path))  # a restarted daemon
        assert again.send(firing()).ok and again.send(resolved()).ok
        assert len(Path(path).read_text(encoding="utf-8").splitlines()) == 2

    def test_unwritable_path_is_retryable(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_text("x")
        sink = JsonlSink(sink_config("jsonl", "", path=str(tmp_path / "file" / "alerts.jsonl")))
        result = sink.send(firing())
        assert result.retryable and "cannot append" in result.detail
