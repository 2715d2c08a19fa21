"""``enrich --jsonl`` writes byte for byte what the plain path writes, with one worker or several.

The batch path (``enricher.cli.enrich_batch``) builds results from cached per-code parts and a
prebuilt encoder; the plain path (``enrich_cmd.process_lines`` + ``json.dumps``) is the reference.
The corpus: every string literal of the detection tests (each as a line, alone and with contexts
and ids), texts glued from the property test's fragments, the benchmark's generated messages,
and malformed lines.
"""

from __future__ import annotations

import ast
import io
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.detect import refresh_history, short_message
from enricher.cli import enrich_batch
from enricher.cli.enrich_cmd import process_lines
from enricher.core.knowledge import load_knowledge

TESTS = Path(__file__).parent


def literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def corpus() -> list[str]:
    rng = random.Random(5)
    texts = literals(TESTS / "test_detect.py") + literals(TESTS / "test_enrich.py")
    fragments = literals(TESTS / "test_detect_properties.py")
    texts += ["".join(rng.choices(fragments, k=rng.randrange(1, 12))) for _ in range(300)]
    texts += [short_message() for _ in range(300)] + [refresh_history() for _ in range(20)]
    phrases = [p.phrase for ps in load_knowledge().signatures.by_anchor.values() for p in ps]
    texts += [f"Refresh failed: {p.replace('*', 'contoso')}." for p in phrases[:40]]
    lines = []
    for n, text in enumerate(texts):
        item: dict[str, object] = {"text": text}
        if n % 3 == 0:
            item["id"] = n if n % 2 else f"id-{n}"
        if n % 5 == 0:
            item["context"] = ("adf", "powerbi", "msal", "gateway", None)[n % 4]
        lines.append(json.dumps(item, ensure_ascii=n % 2 == 0) + "\n")
    lines[10:10] = ["not json\n", "\n", "[1, 2]\n", '{"text": 5}\n', '{"id": 1}\n', "   \n"]
    return lines


LINES = corpus()


def plain(lines: list[str]) -> str:
    kb = load_knowledge()
    return "".join(json.dumps(out, ensure_ascii=False) + "\n" for out in process_lines(lines, kb))


def test_corpus_is_broad() -> None:
    """The comparison covers many codes, inferred codes, advice, errors and warnings."""
    text = plain(LINES)
    results = [json.loads(line) for line in text.splitlines()]
    assert len(results) > 900
    assert len({c for r in results for c in r.get("codes", ())}) > 20
    assert sum(bool(r.get("inferred")) for r in results) > 5
    assert sum("error" in r and "line" in r for r in results) == 4
    assert any(r.get("warnings") for r in results) and any(r.get("advice") for r in results)


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_writes_what_the_plain_path_writes(workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same bytes, in input order (chunks of 37 lines, so two workers interleave many chunks)."""
    monkeypatch.setattr(enrich_batch, "CHUNK", 37)
    out = io.StringIO()
    enrich_batch.write_lines(LINES, load_knowledge(), out, workers)
    assert out.getvalue() == plain(LINES)


def test_cli_workers_keep_order(tmp_path: Path) -> None:
    """Through the installed command, where each worker writes its chunks to standard output
    itself (once the chunk before is written): 2 and 3 workers write what the plain path writes."""
    lines = [json.dumps({"text": short_message(), "id": n}) + "\n" for n in range(5000)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(lines), encoding="utf-8")
    script = Path(sys.executable).with_name("aadsts-enricher")
    one, two, three = (
        subprocess.run(
            [str(script), "enrich", "--jsonl", str(source), "--workers", n],
            capture_output=True,
            check=True,
            timeout=300,
        ).stdout
        for n in ("1", "2", "3")
    )
    assert one == two == three == plain(lines).encode("utf-8")
    assert [json.loads(x)["id"] for x in three.splitlines()] == list(range(5000))


def test_bad_worker_count_is_a_usage_error() -> None:
    script = Path(sys.executable).with_name("aadsts-enricher")
    done = subprocess.run(
        [str(script), "enrich", "--jsonl", "-", "--workers", "0"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--workers" in done.stderr and "Traceback" not in done.stderr


class _Recorder(io.RawIOBase):
    """A raw stream that keeps each write it is given, to see when output leaves."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes.append(bytes(data))
        return len(data)


def test_a_terminal_gets_each_result_as_it_is_made() -> None:
    """A line-buffered output (a terminal) is written line by line; any other in groups."""
    lines = [json.dumps({"text": short_message()}) + "\n" for _ in range(20)]
    raw = _Recorder()
    out = io.TextIOWrapper(raw, encoding="utf-8", line_buffering=True)
    enrich_batch.write_lines(lines, load_knowledge(), out)
    assert len(raw.writes) == 20 and all(w.count(b"\n") == 1 for w in raw.writes)
    grouped = io.StringIO()
    enrich_batch.write_lines(lines, load_knowledge(), grouped)
    assert b"".join(raw.writes).decode() == grouped.getvalue() == plain(lines)


def test_lines_enriched_before_an_interruption_are_written() -> None:
    def interrupted() -> Iterator[str]:
        yield from LINES[:30]
        raise KeyboardInterrupt

    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        enrich_batch.write_lines(interrupted(), load_knowledge(), out)
    assert out.getvalue() == plain(LINES[:30]) != ""
