"""``docs/configuration.md``, generated from the config model (``enricher/config/``).

Every section, option, type, default and constraint comes from the pydantic models, so the
reference cannot drift from the code: ``make docs`` rewrites the file and ``tests/test_docs.py``
fails when the committed copy differs from what ``render()`` returns. A description is taken from
the field's ``description``, else from the ``#:`` comment above the field in ``enricher/config/``, else
from ``NOTES`` (``enricher/config_doc_text.py``, with the intro); class docstrings introduce their
section.

    python -m enricher.config_doc docs/configuration.md     # write the file
    python -m enricher.config_doc                           # print it
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import types
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from enricher import config as cfg
from enricher.config_doc_text import INTRO, NOTES


def render() -> str:
    out = [INTRO]
    for model, paths in _sections():
        out.append(_section(model, paths))
    return "\n".join(out).rstrip() + "\n"


# -- walking the model ---------------------------------------------------------------------------


def _sections() -> list[tuple[type[BaseModel], list[str]]]:
    """Every model reachable from Config, in depth-first order, with the paths where it appears."""
    seen: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], path: str) -> None:
        first = model not in seen
        seen.setdefault(model, []).append(path)
        if not first:
            return
        for name, field in model.model_fields.items():
            key = f"{path}.{field.alias or name}".lstrip(".") + ("[]" if _is_list(field.annotation) else "")
            subs = list(_models_in(field.annotation))
            for sub in subs:
                kind = _kind(sub)
                visit(
                    sub, f"{key[:-1]}type={kind}]" if kind and len(subs) > 1 and key.endswith("[]") else key
                )

    visit(cfg.Config, "")
    return [(model, list(dict.fromkeys(paths))) for model, paths in seen.items()]


def _kind(model: type[BaseModel]) -> str | None:
    """The value of a ``type: Literal["x"]`` discriminator, if the model has one."""
    field = model.model_fields.get("type")
    if field is None or get_origin(field.annotation) is not Literal or len(get_args(field.annotation)) != 1:
        return None
    return str(get_args(field.annotation)[0])


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        if arg is not Ellipsis:
            yield from _models_in(arg)


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is tuple


# -- rendering -----------------------------------------------------------------------------------


def _section(model: type[BaseModel], paths: list[str]) -> str:
    title = "Top level" if model is cfg.Config else f"`{paths[0]}`"
    lines = [f'<a id="{_anchor(model)}"></a>', f"## {title}", ""]
    if len(paths) > 1:
        lines += ["Also at " + ", ".join(f"`{p}`" for p in paths[1:]) + ".", ""]
    doc = model.__dict__.get("__doc__")
    if doc:
        lines += [re.sub(r"(?<!`)``(?!`)", "`", inspect.cleandoc(doc)), ""]  # a ``` fence stays
    lines += ["| option | type | default | description |", "|---|---|---|---|"]
    comments = _field_comments(model)
    for name, field in model.model_fields.items():
        desc = field.description or comments.get(name) or _note(model, name) or ""
        cells = (f"`{field.alias or name}`", _type(field), _default(field), desc)
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _anchor(model: type[BaseModel]) -> str:
    return "cfg-" + model.__name__.lower()


def _note(model: type[BaseModel], name: str) -> str | None:
    for klass in model.__mro__:
        note = NOTES.get(f"{klass.__name__}.{name}")
        if note:
            return note
    return None


def _type(field: FieldInfo) -> str:
    text = _type_of(field.annotation)
    limits = []
    for meta in field.metadata:
        for attr, shown in (
            ("ge", "≥ {}"),
            ("le", "≤ {}"),
            ("min_length", "at least {}"),
            ("pattern", "`{}`"),
        ):
            value = getattr(meta, attr, None)
            if value is not None:
                limits.append(shown.format(value))
    return text + (f" ({', '.join(limits)})" if limits else "")


def _type_of(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_of(args[0])
    if origin is Literal:
        return f"`{args[0]}`" if len(args) == 1 else "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is tuple:
        return "list of " + _type_of(args[0])
    if origin is dict:
        return f"map of {_type_of(args[0])} to {_type_of(args[1])}"
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        kinds = [_kind(a) if isinstance(a, type) and issubclass(a, BaseModel) else None for a in members]
        if len(members) > 1 and all(kinds):
            links = ", ".join(f"[`{k}`](#{_anchor(a)})" for k, a in zip(kinds, members, strict=True))
            return f"one of (by `type`): {links}"
        text = " or ".join(_type_of(a) for a in members)
        return text + (", optional" if len(members) < len(args) else "")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    simple = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        timedelta: "duration",
        datetime: "time (ISO 8601 with a zone)",
    }
    if annotation in simple:
        return simple[annotation]
    if annotation is SecretStr:
        return "secret string"
    return str(getattr(annotation, "__name__", annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    return _value(value)


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, timedelta):
        return f"`{_duration(value)}`"
    if isinstance(value, BaseModel):
        return "see section" if value.model_dump(exclude_defaults=True) == {} else f"`{value!r}`"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" else f"`{value}`"
    return f"`{value}`"


def _duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """``#:`` comments written above fields in the class body (Sphinx style), per field name."""
    found: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        ours = klass.__module__ == cfg.__name__ or klass.__module__.startswith(cfg.__name__ + ".")
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or not ours:
            continue
        source = inspect.getsource(klass)
        lines = source.splitlines()
        for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                above: list[str] = []
                row = node.lineno - 2
                while row >= 0 and lines[row].strip().startswith("#:"):
                    above.insert(0, lines[row].strip()[2:].strip())
                    row -= 1
                if above:
                    found[node.target.id] = " ".join(above)
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
