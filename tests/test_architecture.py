"""Dependencies flow one way: entry -> wiring -> edges and the pure core -> vocabulary.

This test reads the import statements of every module (no importing) and fails on an arrow that
points the wrong way, so the layering in the README stays true as the code grows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The pure core never does I/O and never reads the clock: it receives `now`. Everything under
# enricher.core is core, except the knowledge base's loader, which reads its YAML files once at start.
CORE_LOADERS = {"enricher.core.knowledge"}
CORE_EXTRA = {"enricher.models", "enricher.notification", "connectors.records"}
IO_MODULES = {
    "socket",
    "ssl",
    "http",
    "urllib",
    "requests",
    "sqlite3",
    "subprocess",
    "smtplib",
    "azure",
    "opentelemetry",
    "apscheduler",
    "threading",
    "asyncio",
    "time",
    "os",
    "shutil",
    "signal",
    "logging",
}
# Edges may use the vocabulary but not each other.
EDGES = {
    "connectors": {"enricher"},
    "connectors.simulator": {
        "enricher",
        "connectors.http",
        "connectors.auth",
        "connectors.powerbi",
        "connectors.fabric",
        "connectors.adf",
        "connectors.synapse",
        "connectors.graph",
    },
    "enricher.sinks": {
        "connectors",
        "enricher.store",
        "enricher.wiring",
        "enricher.cli",
    },
    "enricher.store": {
        "connectors.http",
        "connectors.simulator",
        "enricher.sinks",
        "enricher.wiring",
        "enricher.cli",
    },
}


def modules() -> dict[str, Path]:
    found = {}
    for package in ("enricher", "connectors"):
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    result = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            result.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            result.add(prefix)
            result.update(f"{prefix}.{alias.name}" for alias in node.names)
    return result


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


ALL = modules()
CORE = {n for n in ALL if under(n, "enricher.core") and n not in CORE_LOADERS} | CORE_EXTRA


@pytest.mark.parametrize("name", sorted(n for n in ALL if n in CORE))
def test_core_does_no_io(name: str) -> None:
    bad = {i for i in imports_of(name, ALL[name]) if any(under(i, m) for m in IO_MODULES)}
    bad |= {
        i
        for i in imports_of(name, ALL[name])
        if under(i, "connectors") and not under(i, "connectors.records")
    }
    assert bad == set()


CLOCK_READS = {
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "date.today",
    "time.time",
    "time.monotonic",
    "time.perf_counter",
    "time.time_ns",
}


@pytest.mark.parametrize("name", sorted(n for n in ALL if n in CORE))
def test_core_does_not_read_the_clock(name: str) -> None:
    tree = ast.parse(ALL[name].read_text(encoding="utf-8"))
    calls = [
        ast.unparse(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (ast.unparse(node.func) in CLOCK_READS or ast.unparse(node.func).endswith((".now", ".utcnow")))
    ]
    assert calls == []


@pytest.mark.parametrize("name", sorted(n for n in ALL if any(under(n, edge) for edge in EDGES)))
def test_edges_do_not_import_each_other(name: str) -> None:
    rules = [(edge, banned) for edge, banned in EDGES.items() if under(name, edge)]
    edge, banned = max(rules, key=lambda r: len(r[0]))  # the most specific rule applies
    bad = {i for i in imports_of(name, ALL[name]) if any(under(i, b) for b in banned) and not under(i, edge)}
    assert bad == set()


def test_the_checker_sees_imports() -> None:
    """Guard against a checker that passes because it reads nothing."""
    assert "enricher.models" in imports_of("enricher.core.detect", ALL["enricher.core.detect"])
    assert "connectors.records" in imports_of("enricher.models", ALL["enricher.models"])


SHELL = ("enricher.wiring", "enricher.cli", "enricher.sinks", "enricher.store", "enricher.dashboard")
SHELL += ("enricher.ingest", "enricher.health", "enricher.listener", "enricher.metrics", "enricher.logs")


@pytest.mark.parametrize("name", sorted(n for n in ALL if under(n, "enricher.core")))
def test_core_imports_no_shell_and_no_edge(name: str) -> None:
    bad = {i for i in imports_of(name, ALL[name]) if any(under(i, s) for s in SHELL)}
    assert bad == set()


def test_enricher_top_level_stays_small() -> None:
    """The vocabulary and the service's own surface; the rest lives in subpackages."""
    top = [p for p in (REPO / "enricher").glob("*.py")]
    assert len(top) <= 15, sorted(p.name for p in top)
