"""Config values that would spin a core, overflow, never wait, or leave an endpoint open: each is
exit 2 from ``check-config`` with one line that names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from enricher.cli import main
from tests.test_config_checks import BASE

HEALTH = "health: {listen: '127.0.0.1:0'}\n"
SLACK = "  - {name: chat, type: slack, webhook_url: 'https://hooks.slack.com/x', rate_per_second: RATE}\n"
MAIL = (
    "  - {name: mail, type: email, host: smtp.example.com, port: PORT, sender: a@b.c, recipients: [d@e.f]}\n"
)


def source(setting: str) -> str:
    return BASE.replace("{type: powerbi}", f"{{type: powerbi, {setting}}}")


BAD = [
    (source("interval: -5"), "tenants[0].sources[0].interval: -5 is out of range"),
    (source("interval: 0"), "tenants[0].sources[0].interval: must be more than 0"),
    (source("interval: 0s"), "tenants[0].sources[0].interval: must be more than 0"),
    (source("interval: 1.0e+300"), "tenants[0].sources[0].interval: 1e+300 is out of range"),
    (source("interval: .inf"), "tenants[0].sources[0].interval: inf is out of range"),
    (source("interval: .nan"), "tenants[0].sources[0].interval: nan is out of range"),
    (source("interval: 400d"), "tenants[0].sources[0].interval: '400d' is out of range"),
    (source("interval: true"), "tenants[0].sources[0].interval: True is not a duration"),
    (source("discovery_interval: 0"), "tenants[0].sources[0].discovery_interval: must be more than 0"),
    (BASE + "delivery: {max_age: -1}\n", "delivery.max_age: -1 is out of range"),
    (BASE + "delivery: {max_age: 0}\n", "delivery.max_age: must be more than 0"),
    (BASE + "delivery: {interval: 0}\n", "delivery.interval: must be more than 0"),
    (BASE + "delivery: {base_delay: -2}\n", "delivery.base_delay: -2 is out of range"),
    (BASE + "incidents: {group_wait: -30}\n", "incidents.group_wait: -30 is out of range"),
    (BASE + "incidents: {flapping: {window: 0}}\n", "incidents.flapping.window: must be more than 0"),
    (BASE + "health: {ready_after: -1}\n", "health.ready_after: -1 is out of range"),
    (BASE + "health: {ready_after: 0}\n", "health.ready_after: must be more than 0"),
    (BASE + SLACK.replace("RATE", "0"), "sinks[2].rate_per_second: Input should be greater than 0"),
    (BASE + SLACK.replace("RATE", "-1"), "sinks[2].rate_per_second: Input should be greater than 0"),
    (BASE + SLACK.replace("RATE", ".inf"), "sinks[2].rate_per_second: Input should be a finite number"),
    (BASE + MAIL.replace("PORT", "-1"), "sinks[2].port: Input should be greater than or equal to 1"),
    (BASE + MAIL.replace("PORT", "99999"), "sinks[2].port: Input should be less than or equal to 65535"),
    (
        BASE.replace("type: console}", "type: console, timeout: 0}", 1),
        "sinks[0].timeout: must be more than 0",
    ),
    (BASE + "health: {listen: '127.0.0.1:-1'}\n", "health.listen: '127.0.0.1:-1' is not HOST:PORT"),
    (BASE + "health: {listen: '127.0.0.1:99999'}\n", "health.listen: '127.0.0.1:99999' is not HOST:PORT"),
    (BASE + "health: {listen: not-an-address}\n", "health.listen: 'not-an-address' is not HOST:PORT"),
    (BASE + "health: {bearer_token: ''}\n", "health.bearer_token: is empty"),
    (BASE + "health: {bearer_token: '${H22_UNSET_TOKEN:-}'}\n", "health.bearer_token: is empty"),
    (BASE + "health: {basic_user: ops}\n", "health: basic_user and basic_password go together"),
    (BASE + "health: {basic_user: ops, basic_password: ''}\n", "health.basic_password: is empty"),
    (BASE + "health: {basic_user: '', basic_password: pw}\n", "health.basic_user: is empty"),
]


def ids(case: tuple[str, str]) -> str:
    return case[1].split(" is ")[0].split(": ")[0] + ":" + case[1].split(": ", 1)[1][:24]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[ids(c) for c in BAD])
def test_out_of_bounds_setting_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["check-config", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("aadsts-enricher: ") and captured.err.count("\n") == 1
    assert message in captured.err


GOOD = [
    source("interval: 0.05"),
    BASE + "incidents: {group_wait: 0s, group_interval: 0s}\n",
    BASE + "delivery: {base_delay: 0}\n",
    BASE + SLACK.replace("RATE", "0.5"),
    BASE + "health: {bearer_token: s3cret, listen: '127.0.0.1:0'}\n",
]


@pytest.mark.parametrize("text", GOOD)
def test_edges_that_make_sense_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["check-config", "--config", str(path)]) == 0, capsys.readouterr().err


class TestFileBounds:
    """A config file, what its aliases expand to and each ``${file:}`` secret are capped."""

    def check(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        assert main(["check-config", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err

    def test_yaml_alias_bomb(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The classic 'billion laughs': nine levels of nine aliases, a few hundred bytes."""
        lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        for i in range(1, 10):
            lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
        bomb = "\n".join(lines) + "\n"
        assert len(bomb) < 600
        self.check(tmp_path, capsys, BASE + bomb, "expands to more than 100,000 values")

    def test_config_larger_than_a_megabyte(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.check(tmp_path, capsys, BASE + "# " + "x" * 1_100_000 + "\n", "larger than 1,048,576 bytes")

    def test_deeply_nested(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.check(tmp_path, capsys, BASE + "x: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested too deeply")

    def test_secret_file_dev_zero(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        text = BASE.replace("client_secret: s3cr3t-value", "client_secret: '${file:/dev/zero}'")
        self.check(
            tmp_path, capsys, text, "tenants[0].credential.client_secret: secret file /dev/zero: larger than"
        )

    def test_secret_file_not_text(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        (tmp_path / "secret").write_bytes(b"\xff\xfe\x00binary")
        text = BASE.replace(
            "client_secret: s3cr3t-value", f"client_secret: '${{file:{tmp_path / 'secret'}}}'"
        )
        self.check(tmp_path, capsys, text, "not UTF-8 text")

    def test_config_not_utf8(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "config.yaml"
        path.write_bytes(BASE.encode() + b"# \xff\xfe\n")
        assert main(["check-config", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not UTF-8 text" in err
