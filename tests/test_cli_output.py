"""What a person reads: explain's layout and width, examples in every --help, counts in words."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from enricher.cli import build_parser, main
from enricher.cli.examples import EXAMPLES
from enricher.core.knowledge import load_knowledge
from enricher.core.wording import counted

REPO = Path(__file__).resolve().parents[1]


def explain(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["--no-color", "explain", *args]) == 0
    return capsys.readouterr().out


class TestExplain:
    @pytest.mark.parametrize("columns", [50, 72, 100])
    def test_wraps_to_the_terminal(
        self, columns: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Prose fits the terminal; only commands (copied whole) and single long tokens may not."""
        monkeypatch.setenv("COLUMNS", str(columns))
        out = explain(capsys, "53003")
        long = [
            line
            for line in out.splitlines()
            if len(line) >= columns and not line.lstrip().startswith("$ ") and len(line.split()) > 1
        ]
        assert long == []
        assert (
            max(len(line) for line in out.splitlines() if not line.lstrip().startswith("$ ")) > columns - 15
        )

    def test_steps_come_first(self, capsys: pytest.CaptureFixture[str]) -> None:
        out = explain(capsys, "53003")
        order = [
            out.index(h) for h in ("How to fix", "What it means", "Likely causes", "In Power BI", "Docs:")
        ]
        assert order == sorted(order)
        assert out.index("  1. ") < out.index("What it means")

    def test_context_shows_that_product_after_the_steps(self, capsys: pytest.CaptureFixture[str]) -> None:
        out = explain(capsys, "53003", "--context", "adf")
        sections = [line for line in out.splitlines() if line.startswith("In ")]
        assert sections == ["In Azure Data Factory"]
        assert out.index("How to fix") < out.index("In Azure Data Factory") < out.index("What it means")

    def test_context_without_a_note_says_so(self, capsys: pytest.CaptureFixture[str]) -> None:
        entry = next(e for e in load_knowledge() if "databricks" not in e.contexts)
        out = explain(capsys, entry.code, "--context", "databricks")
        assert "In Azure Databricks\n  The knowledge base has nothing specific to Azure Databricks" in out


def parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    def walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{path} {name}".strip())

    return walk(build_parser(), "")


PARSERS = list(parsers())


@pytest.mark.parametrize(("path", "parser"), PARSERS, ids=[p or "(program)" for p, _ in PARSERS])
def test_every_help_has_an_example(path: str, parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert re.search(r"^examples?:\n  \$ aadsts-enricher ", text, re.M), text[-300:]
    for line in EXAMPLES[path]:
        assert f"  $ {line}" in text  # printed as written, not re-wrapped


@pytest.mark.parametrize(
    "line", [line for lines in EXAMPLES.values() for line in lines], ids=lambda line: line[:50]
)
def test_examples_parse(line: str) -> None:
    """Each example is accepted by the real parser (pipes and redirections cut off)."""
    words = shlex.split(line)
    words = words[words.index("aadsts-enricher") + 1 :]
    words = words[: words.index(">")] if ">" in words else words
    args = build_parser().parse_args(words)
    assert getattr(args, "func", None) or words[0] in ("kb", "silence")


class TestCounts:
    @pytest.mark.parametrize(
        ("n", "words", "expected"),
        [
            (0, ("notification",), "0 notifications"),
            (1, ("notification",), "1 notification"),
            (2, ("run",), "2 runs"),
            (1, ("entry", "entries"), "1 entry"),
            (3, ("entry", "entries"), "3 entries"),
        ],
    )
    def test_counted(self, n: int, words: tuple[str, ...], expected: str) -> None:
        assert counted(n, *words) == expected

    def test_no_count_is_pluralised_by_hand(self) -> None:
        """User-facing counts go through counted(): '{n} runs' would print '1 runs'."""
        nouns = "runs|notifications|entries|items|sources|failures|factories|workspaces|problems|codes"
        pattern = re.compile(r"\{[^{}]*\} (?:[\w-]+ )?(?:" + nouns + r")\b")
        found = [
            f"{path.relative_to(REPO)}: {m.group(0)}"
            for path in (REPO / "enricher").rglob("*.py")
            for m in pattern.finditer(path.read_text(encoding="utf-8"))
        ]
        assert found == []

    def test_version_line(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            main(["--version"])
        assert re.search(r"knowledge base \S+ \(\d+ entries\)", capsys.readouterr().out)


def test_readme_says_where_make_puts_the_command() -> None:
    """`make demo` installs into .venv/bin (the Makefile), and the README tells how to reach it."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^VENV := \.venv$", makefile, re.M) and re.search(
        r"^BIN := \$\(VENV\)/bin$", makefile, re.M
    )
    assert re.search(r"^demo: .*\n\t\$\(BIN\)/aadsts-enricher demo", makefile, re.M)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/aadsts-enricher explain 53003" in readme and "source .venv/bin/activate" in readme
    bin_dir = Path(sys.executable).parent  # the environment running these tests, set up the same way
    assert (bin_dir / "aadsts-enricher").exists() and (bin_dir / "activate").exists()
