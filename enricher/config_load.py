"""Reading a config file: environment substitution, validation, one-line errors.

``${VAR}`` and ``${VAR:-default}`` take environment variables, ``${file:/path}`` takes a file's
content (Kubernetes/Docker secrets), in any string value after YAML parsing, so a value can never
inject YAML structure. Every problem becomes a ConfigError whose message starts with the path of
the offending value, e.g. ``sinks[2].webhook_url: Field required``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from enricher.config import Config
from enricher.errors import ConfigError

_REF = re.compile(r"\$\{(file:)?([^}:]+?)(?::-([^}]*))?\}")
#: A config file is a few KB; these caps keep a hostile or mistaken one from filling memory: the
#: file itself, the values it expands to (YAML aliases can nest a 300-byte file into billions of
#: values) and each ``${file:}`` secret (``${file:/dev/zero}`` never ends).
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_VALUES = 100_000
MAX_SECRET_FILE_BYTES = 64 * 1024


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        raw = yaml.safe_load(_read_capped(path, MAX_CONFIG_BYTES, str(path)))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings")
    if _count_values(raw, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise ConfigError(
            f"{path}: expands to more than {MAX_CONFIG_VALUES:,} values (nested YAML aliases?); refused"
        )
    data = _substitute(raw, environ if environ is not None else os.environ, ())
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(error_line(exc)) from exc


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
                return _read_capped(
                    Path(name), MAX_SECRET_FILE_BYTES, f"{dotted(where)}: secret file {name}"
                ).strip()
            except OSError as exc:
                raise ConfigError(f"{dotted(where)}: cannot read secret file {name}: {exc.strerror}") from exc
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{dotted(where)}: environment variable {name} is not set")

    return _REF.sub(resolve, value)


def _read_capped(path: Path, limit: int, what: str) -> str:
    """The text of ``path``, refused (not read on) past ``limit`` bytes or when it is not UTF-8."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"{what}: larger than {limit:,} bytes; refused")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what}: not UTF-8 text (byte {exc.start})") from None


def _count_values(value: Any, limit: int) -> int:
    """How many values ``value`` holds once aliases are expanded, counting no further than ``limit``
    (a shared list is counted each time it appears, which is what every later step would walk)."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "config"


def error_line(exc: ValidationError, root: type[BaseModel] = Config) -> str:
    """One line for the first problem: the path, then what is wrong (a hint for a misspelt key)."""
    errors = exc.errors()
    # a misspelt key also makes the real one "missing": the misspelling is the news
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    path = tuple(p for i, p in enumerate(loc) if not _is_tag(root, loc[:i], p))
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        allowed = _keys_at(root, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
        message = f"unknown setting ({hint})"
    elif err["type"] == "union_tag_invalid":
        given, expected = err.get("input", {}).get("type"), err["ctx"]["expected_tags"]
        close = difflib.get_close_matches(str(given), re.findall(r"'([^']+)'", expected), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        message = f"unknown type {given!r}{hint}; expected one of {expected}"
    elif err["type"] == "union_tag_not_found":
        message = (
            f"missing 'type' (one of {err['ctx']['discriminator']})" if "ctx" in err else "missing 'type'"
        )
    if _NAMES_PATH.match(message):  # a model-level check that names its own path, relative to the model
        return f"{dotted(path)}.{message}" if path else message
    return f"{dotted(path)}: {message}"


_NAMES_PATH = re.compile(r"^[a-z_]+(\[\d+\])?(\.[a-z_]+)*: ")


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The config models inside an annotation (through Annotated, unions, Optional and tuples)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models(arg)


def _is_tag(root: type[BaseModel], before: tuple[str | int, ...], part: str | int) -> bool:
    """Whether ``part`` is a discriminator value pydantic put into the location (``sinks.0.slack``)."""
    models = _at(root, before)
    return (
        isinstance(part, str)
        and not any(part in _fields(m) for m in models)
        and any(_type_tag(m) == part for m in models)
    )


def _at(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[type[BaseModel]]:
    """The models that can stand at ``loc`` (a discriminator value narrows a union to one)."""
    models: list[type[BaseModel]] = [root]
    for part in loc:
        if isinstance(part, int):
            continue
        found: list[type[BaseModel]] = []
        for model in models:
            field = _fields(model).get(part)
            if field is not None:
                found += _models(field.annotation)
            elif _type_tag(model) == part:
                found.append(model)
        models = found
    return models


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _type_tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("type")
    args = get_args(field.annotation) if field else ()
    return str(args[0]) if len(args) == 1 else None


def _keys_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    return sorted({key for model in _at(root, loc) for key in _fields(model)})
