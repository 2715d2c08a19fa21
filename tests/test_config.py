"""Config files: the shipped example validates, bad ones fail with one line naming the setting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from enricher.cli import main
from enricher.config import Config
from enricher.config_load import load_config
from enricher.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
BASE = """
tenants:
  - name: contoso
    tenant_id: 72f988bf-0000-0000-0000-000000000000
    credential: {type: client_secret, client_id: c1, client_secret: "${SECRET:-s3cr3t-value}"}
    sources: [{type: powerbi}]
sinks:
  - {name: screen, type: console}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_and_complete() -> None:
    """config/example.yaml validates and mentions every option of the config model."""
    config = load_config(REPO / "config" / "example.yaml", {})
    assert config.tenants[0].credential.client_secret is not None
    text = (REPO / "config" / "example.yaml").read_text(encoding="utf-8")
    missing = sorted(name for name in option_names(Config) if not re.search(rf"\b{name}:", text))
    assert missing == []


def option_names(model: type, seen: set[type] | None = None) -> set[str]:
    """Every field name reachable from a pydantic model (through unions and tuples)."""
    import typing

    from pydantic import BaseModel

    seen = seen if seen is not None else set()
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        names.add(info.alias or name)
        stack = [info.annotation]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                names |= option_names(t, seen)
            stack.extend(typing.get_args(t))
    return names


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("type: console", "type: consol"), "sinks[0]: unknown type 'consol'"),
        (lambda t: t + "  - {name: chat, type: slack}\n", "sinks[1].webhook_url: Field required"),
        (
            lambda t: t.replace('"${SECRET:-s3cr3t-value}"', '"${NOPE}"'),
            "tenants[0].credential.client_secret: environment variable NOPE is not set",
        ),
        (
            lambda t: t.replace("sources: [{type: powerbi}]", "sources: [{type: powerbi, interval: soon}]"),
            "tenants[0].sources[0].interval: 'soon' is not a duration",
        ),
        (
            lambda t: t + "routes: [{match: {severity: high}, sinks: [pager]}]\n",
            "routes[0].sinks: no sink named 'pager' (known: screen)",
        ),
        (lambda t: t + "incident: {}\n", "incident: unknown setting (did you mean 'incidents'?)"),
        (lambda t: t + "maintenance: [{name: w, start: '25:00', end: '02:00'}]\n", "maintenance[0].start"),
        (
            lambda t: t.replace("client_secret, client_id: c1,", "client_secret,"),
            "tenants[0].credential: type client_secret needs client_id",
        ),
        (
            lambda t: t.replace(
                "sources: [{type: powerbi}]", "sources: [{type: powerbi}, {type: powerbi, mode: workspace}]"
            ),
            "tenants[0].sources[1].name: duplicate source name 'powerbi' (sources[0] has it)",
        ),
        (
            lambda t: t.replace("sources: [{type: powerbi}]", "sources: [{type: powerbi, name: 'a b'}]"),
            "tenants[0].sources[0].name: String should match pattern",
        ),
        (
            lambda t: t + "state: {url: 'mysql://db/state'}\n",
            "state.url: must start with postgresql://",
        ),
        (
            lambda t: t + "state: {url: 'postgresql://db:port/state'}\n",
            "state.url: not a URL: Port could not be cast",
        ),
        (lambda t: t + "state: {url: 'postgresql://db:5432'}\n", "state.url: names no database"),
        (lambda t: "tenants: [\n", "is not valid YAML"),
        (lambda t: "- just\n- a list\n", "the top level must be a mapping"),
    ],
)
def test_bad_configs_fail_with_one_line(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, edit(BASE)), {})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_file_secrets_and_defaults(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    config = load_config(
        write(tmp_path, BASE.replace('"${SECRET:-s3cr3t-value}"', f'"${{file:{secret}}}"')), {}
    )
    assert config.tenants[0].credential.client_secret.get_secret_value() == "from-a-file"  # type: ignore[union-attr]
    assert "from-a-file" not in repr(config)


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, BASE)
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "source powerbi" in out and "s3cr3t-value" not in out
    bad = write(tmp_path, BASE.replace("type: console", "type: consol"))
    assert main(["check-config", "--config", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("aadsts-enricher: sinks[0]: unknown type")
    twice = write(
        tmp_path, BASE.replace("sources: [{type: powerbi}]", "sources: [{type: powerbi}, {type: powerbi}]")
    )
    assert main(["check-config", "--config", str(twice)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aadsts-enricher: tenants[0].sources[1].name: duplicate") and err.count("\n") == 1
    named = BASE.replace(
        "sources: [{type: powerbi}]", "sources: [{type: powerbi}, {type: powerbi, name: pbi-ws}]"
    )
    assert main(["check-config", "--config", str(write(tmp_path, named))]) == 0


def test_silence_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, BASE)
    assert (
        main(
            [
                "silence",
                "add",
                "--config",
                str(path),
                "--match",
                "code=53003",
                "--match",
                "workspace=Sand*",
                "--duration",
                "2h",
                "--comment",
                "known CA change",
            ]
        )
        == 0
    )
    silence_id = capsys.readouterr().out.split()[1]
    assert main(["silence", "list", "--config", str(path)]) == 0
    assert "known CA change" in capsys.readouterr().out
    assert main(["silence", "expire", "--config", str(path), silence_id]) == 0
    main(["silence", "list", "--config", str(path)])
    assert "no silences" in capsys.readouterr().out
    assert main(["silence", "add", "--config", str(path), "--match", "colour=red"]) == 2


def test_health_without_a_daemon_is_exit_1() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "enricher", "health", "--url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "unreachable" in result.stderr


def test_a_postgres_url_is_checked_and_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config names the server, not the credentials; a URL libpq cannot read fails in one line."""
    from enricher.wiring.build import secrets_of

    text = (
        BASE
        + "state: {url: 'postgresql://watcher:${PGPASSWORD}@db.example.com:6432/enricher?sslmode=require'}\n"
    )
    path = write(tmp_path, text)
    encoded = load_config(path, {"PGPASSWORD": "p%40ss"})  # the URL holds it percent-encoded
    assert secrets_of(encoded)[1:] == [
        "postgresql://watcher:p%40ss@db.example.com:6432/enricher?sslmode=require",
        "p@ss",  # and the logs scrub it as a driver would print it
    ]
    done = subprocess.run(
        [sys.executable, "-m", "enricher", "check-config", "--config", str(path)],
        env={"PGPASSWORD": "pw-3xample", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "state in PostgreSQL db.example.com:6432/enricher" in done.stdout
    assert "pw-3xample" not in done.stdout and "watcher" not in done.stdout
    odd = write(tmp_path, BASE + "state: {url: 'postgresql://u:pw-3xample@db/enricher?frobnicate=1'}\n")
    assert main(["check-config", "--config", str(odd)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aadsts-enricher: state.url: not a usable PostgreSQL URL: invalid URI query")
    assert err.count("\n") == 1 and "pw-3xample" not in err


def test_a_password_apart_from_the_url_needs_no_encoding(tmp_path: Path) -> None:
    """``state.password`` reaches libpq as typed, slashes and at-signs included."""
    from psycopg.conninfo import conninfo_to_dict

    from enricher.wiring.build import postgres_conninfo

    text = BASE + "state: {url: 'postgresql://watcher@db.example.com/enricher', password: '${PGPASSWORD}'}\n"
    config = load_config(write(tmp_path, text), {"PGPASSWORD": "a/b@c:d"})
    parts = conninfo_to_dict(postgres_conninfo(config.state))
    assert (parts["password"], parts["user"], parts["host"]) == ("a/b@c:d", "watcher", "db.example.com")
