"""A config the daemon accepts is a config that runs: the checks that need files, done up front.

The config model (``enricher.config``) checks everything that is in the file itself: types, names,
time zones, regular expressions, times. What depends on other files is checked here, by doing what
the daemon does at start without starting it: each sink is built (templates load and render the
sample notification, CA bundles exist) and the knowledge-base overrides load. ``check-config``,
``run``, ``once``, ``silence`` and a reload all load their config through :func:`load_checked`,
so none of them accepts a file that another would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from enricher.config import Config
from enricher.config_load import load_config
from enricher.errors import ConfigError, KnowledgeError
from enricher.knowledge import load_knowledge
from enricher.sinks.registry import check_sinks


def load_checked(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """The validated config at ``path``, or a one-line ConfigError naming the setting."""
    config = load_config(path, environ)
    check_files(config, Path(path).resolve().parent)
    return config


def check_files(config: Config, config_dir: Path) -> None:
    check_sinks(config, config_dir)
    if config.knowledge_dir:
        try:
            load_knowledge([Path(config_dir, config.knowledge_dir)])
        except KnowledgeError as exc:
            raise ConfigError(f"knowledge_dir: {' '.join(str(exc).split())}") from exc
