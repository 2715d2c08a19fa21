"""The operator docs stay true: the config reference is regenerated from the model, links resolve,
and the commands and metrics the docs name exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from enricher import config as cfg
from enricher import config_doc
from enricher.cli import build_parser
from tests.test_deploy import emitted_metrics

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md"))


def readme_container_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Container\n", 1)[1].split("\n## ", 1)[0]


def pages() -> list[tuple[Path, str]]:
    found = [(p, p.read_text(encoding="utf-8")) for p in DOCS]
    return [*found, (REPO / "README.md", readme_container_section())]


class TestConfigurationReference:
    def test_is_up_to_date(self) -> None:
        """Run `make docs` when this fails: docs/configuration.md is generated from enricher/config/."""
        committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
        assert committed == config_doc.render()

    def test_every_note_names_a_field(self) -> None:
        models = {
            name: klass
            for name, klass in vars(cfg).items()
            if isinstance(klass, type) and issubclass(klass, cfg.Strict)
        }
        stale = []
        for key in config_doc.NOTES:
            klass, _, field = key.partition(".")
            if klass not in models or field not in models[klass].model_fields:
                stale.append(key)
        assert stale == []

    def test_lists_every_option(self) -> None:
        text = config_doc.render()
        for klass in (cfg.Config, cfg.TenantConfig, cfg.SlackSinkConfig, cfg.HealthConfig):
            for name, field in klass.model_fields.items():
                assert f"| `{field.alias or name}` |" in text

    def test_renders_types_defaults_and_constraints(self) -> None:
        text = config_doc.render()
        assert "| `group_wait` | duration | `30s` |" in text
        assert "| `history_top` | integer (≥ 1, ≤ 60) | `10` |" in text
        assert "| `tenant_id` | string | **required** |" in text
        assert (
            "| `continue` | boolean | `false` | Keep looking at later routes after this one matched. |"
            in text
        )
        assert '<a id="cfg-slacksinkconfig"></a>' in text


@pytest.mark.parametrize(("page", "text"), pages(), ids=[p.name for p, _ in pages()])
def test_links_resolve(page: Path, text: str) -> None:
    anchors = {
        p.name: set(re.findall(r'<a id="([^"]+)"></a>', t))
        | {slug(h) for h in re.findall(r"^#+ (.+)$", t, re.M)}
        for p, t in pages()
        if p.parent.name == "docs"
    }
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), target
        if anchor and resolved.name in anchors:
            assert anchor in anchors[resolved.name], target


def slug(heading: str) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize(("page", "text"), pages(), ids=[p.name for p, _ in pages()])
def test_named_metrics_exist(page: Path, text: str) -> None:
    named = set(re.findall(r"\baadsts_enricher_[a-z_]+", text))
    assert named <= emitted_metrics()


@pytest.mark.parametrize(("page", "text"), pages(), ids=[p.name for p, _ in pages()])
def test_named_commands_exist(page: Path, text: str) -> None:
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    code = " ".join(re.findall(r"```.*?```|`[^`\n]+`", text, re.S))
    named = {
        m for m in re.findall(r"(?<![\w/.-])aadsts-enricher ([a-z][a-z-]*)", code) if m != "aadsts-enricher"
    }
    assert named <= commands
