"""Reading a config file: environment substitution, validation, one-line errors.

``${VAR}`` and ``${VAR:-default}`` take environment variables, ``${file:/path}`` takes a file's
content (Kubernetes/Docker secrets), in any string value after YAML parsing, so a value can never
inject YAML structure. Every problem becomes a ConfigError whose message starts with the path of
the offending value, e.g. ``sinks[2].webhook_url: Field required``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from enricher.config import Config
from enricher.errors import ConfigError

_REF = re.compile(r"\$\{(file:)?([^}:]+?)(?::-([^}]*))?\}")


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings")
    data = _substitute(raw, environ if environ is not None else os.environ, ())
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from exc


def _substitute(value: Any, environ: Mapping[str, str], where: tuple[str | int, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, environ, (*where, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, (*where, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def resolve(m: re.Match[str]) -> str:
        is_file, name, default = m.group(1), m.group(2), m.group(3)
        if is_file:
            try:
                return Path(name).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{dotted(where)}: cannot read secret file {name}: {exc.strerror}") from exc
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{dotted(where)}: environment variable {name} is not set")

    return _REF.sub(resolve, value)


def dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "config"


_TAGS = {
    "powerbi",
    "fabric",
    "adf",
    "synapse",
    "console",
    "jsonl",
    "slack",
    "teams",
    "pagerduty",
    "webhook",
    "email",
    "otel",
    "function-after",
    "function-before",
}


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = tuple(
        p for p in err["loc"] if not (isinstance(p, str) and (p in _TAGS or p.startswith("function-")))
    )
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "union_tag_invalid":
        message = f"unknown type {err.get('input', {}).get('type')!r}; expected one of {err['ctx']['expected_tags']}"
    elif err["type"] == "union_tag_not_found":
        message = (
            f"missing 'type' (one of {err['ctx']['discriminator']})" if "ctx" in err else "missing 'type'"
        )
    if message.startswith(("routes[", "default_sinks:")):
        return message
    return f"{dotted(loc)}: {message}"
