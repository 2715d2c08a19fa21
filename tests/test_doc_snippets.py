"""Every YAML, JSON and shell snippet in README.md and docs/*.md works as written.

YAML is parsed and, when it is a config (a whole file or the section it shows), validated by the
real loader with every ``${VAR}`` set; JSON is parsed; shell is checked by ``bash -n``, each
``aadsts-enricher`` command (also inside ``docker run IMAGE ...`` and ``docker exec NAME ...``) is
parsed by the real argument parser, and each ``make`` target exists in the Makefile.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from enricher.cli import build_parser
from enricher.config_load import load_config

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SINK_TYPES = {"console", "jsonl", "slack", "teams", "pagerduty", "webhook", "email", "otel", "alertmanager"}
TENANT = {
    "name": "contoso",
    "tenant_id": "72f988bf-0000-0000-0000-000000000000",
    "credential": {"type": "default"},
    "sources": [{"type": "powerbi"}],
}


def snippets(*languages: str) -> list[Any]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if m.group(1) in languages:
                line = text[: m.start()].count("\n") + 1
                found.append(pytest.param(m.group(2), id=f"{page.name}:{line}"))
    return found


def test_the_collector_finds_the_snippets() -> None:
    """Guard against a test that passes because it reads nothing."""
    assert len(snippets("yaml")) >= 8 and len(snippets("sh", "bash", "shell")) >= 6


# -- YAML ----------------------------------------------------------------------------------------


def as_config(data: Any) -> dict[str, Any]:
    """A whole config, or the section a snippet shows completed into one (named sinks exist)."""
    if isinstance(data, dict) and "tenants" in data:
        return data
    if (
        isinstance(data, list)
        and data
        and all(isinstance(d, dict) and d.get("type") in SINK_TYPES for d in data)
    ):
        return {"tenants": [TENANT], "sinks": data}
    if isinstance(data, dict) and data.keys() <= {
        "routes",
        "default_sinks",
        "silences",
        "maintenance",
        "inhibit_rules",
        "incidents",
        "ingest",
        "health",
        "sinks",
        "state",
    }:
        named = {s for r in data.get("routes", []) for s in r.get("sinks", [])} | set(
            data.get("default_sinks", [])
        )
        sinks = [{"name": name, "type": "console"} for name in sorted(named) or ["screen"]]
        return {"tenants": [TENANT], "sinks": sinks, **data}  # the snippet's own sinks win
    raise AssertionError(f"a YAML snippet this test cannot place in a config: {data!r:.200}")


@pytest.mark.parametrize("text", snippets("yaml", "yml"))
def test_yaml_snippets_load_as_config(text: str, tmp_path: Path) -> None:
    config = as_config(yaml.safe_load(text))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    names = set(re.findall(r"\$\{(?!file:)([A-Za-z_][A-Za-z0-9_]*)", text))
    load_config(path, {name: f"https://example.invalid/{name}" for name in names})


def test_a_placeholder_inside_braces_needs_quotes() -> None:
    """What docs/configuration.md says about ``${VAR}`` in a flow mapping."""
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load("credential: {client_secret: ${SECRET}}")
    assert yaml.safe_load('credential: {client_secret: "${SECRET}"}') == {
        "credential": {"client_secret": "${SECRET}"}
    }


@pytest.mark.parametrize("text", snippets("json"))
def test_json_snippets_parse(text: str) -> None:
    json.loads(text)


# -- shell ---------------------------------------------------------------------------------------

DOCKER_VALUE_FLAGS = {"-p", "-v", "-e", "-t", "-w", "-u", "--name", "--tmpfs", "--env-file", "--build-arg"}
DOCKER_VALUE_FLAGS |= {"--format", "--network", "--user", "--entrypoint", "--mount"}
OPERATORS = {"|", "||", "&", "&&", ";", ";;", "(", ")"}


def commands(text: str) -> list[list[str]]:
    """Simple commands of a snippet: ``$ `` prompts dropped, continuations joined, comments cut."""
    body = "\n".join(line.removeprefix("$ ") for line in text.splitlines()).replace("\\\n", " ")
    found: list[list[str]] = []
    for line in body.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for token in lexer:
            if token in OPERATORS or token.startswith(">"):
                found.append(current)
                current = []
            else:
                current.append(token)
        found.append(current)
    return [c for c in found if c]


def cli_args(command: list[str]) -> list[str] | None:
    """The arguments our CLI receives from one command, or None when it does not run our CLI."""
    if command[0].endswith("aadsts-enricher"):
        return command[1:]
    if command[0] in ("docker", "podman") and len(command) > 1 and command[1] in ("run", "exec"):
        rest = command[2:]
        while rest and rest[0].startswith("-"):
            flag = rest.pop(0)
            if flag in DOCKER_VALUE_FLAGS and "=" not in flag and rest:
                rest.pop(0)
        if command[1] == "exec" and rest:
            rest = rest[1:]  # the container's name; the command follows
        if rest and rest[0].endswith("aadsts-enricher"):
            return rest[1:]
    return None


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, re.M))


@pytest.mark.parametrize("text", snippets("sh", "bash", "shell"))
def test_shell_snippets(text: str, tmp_path: Path) -> None:
    script = tmp_path / "snippet.sh"
    script.write_text("\n".join(line.removeprefix("$ ") for line in text.splitlines()), encoding="utf-8")
    check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    parser = build_parser()
    for command in commands(text):
        args = cli_args(command)
        if args is not None:
            try:
                parser.parse_args(args)
            except SystemExit as exc:
                assert exc.code == 0, f"aadsts-enricher {shlex.join(args)}: rejected by the argument parser"
        if command[0] == "make":
            targets = [a for a in command[1:] if "=" not in a and not a.startswith("-")]
            assert set(targets) <= make_targets(), command


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("aadsts-enricher once --config c.yaml", ["once", "--config", "c.yaml"]),
        ("docker run --rm -p 1:2 aadsts-enricher demo --listen 0.0.0.0:9", ["demo", "--listen", "0.0.0.0:9"]),
        ("docker exec aadsts-enricher aadsts-enricher health", ["health"]),
        ("docker build -t aadsts-enricher .", None),
        ("echo x | aadsts-enricher enrich -  # comment", ["enrich", "-"]),
    ],
)
def test_commands_are_found(line: str, expected: list[str] | None) -> None:
    assert cli_args(commands(line)[-1]) == expected


def test_a_wrong_flag_is_caught() -> None:
    """The check above can fail: an option our parser does not know is refused."""
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(cli_args(commands("aadsts-enricher check-config --file x.yaml")[0]))
    assert exc.value.code == 2
