"""Structured logging with secrets scrubbed from every line.

JSON lines when stderr is not a terminal (containers, systemd), readable text when it is. A
``Redactor`` filter sits on the handler, so whatever any library logs passes through it: the
configured secret values, bearer tokens, ``client_secret=`` / ``sig=`` parameters and passwords in
URLs are replaced by ``***`` before the line is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(
        r"(?i)((?:client_secret|client_assertion|access_token|refresh_token|password|sig)=)[^&\s\"']+"
    ),
    re.compile(r"(?i)(https?://[^/\s:@]+:)[^@\s/]+(@)"),
    re.compile(r"(?i)(\"(?:client_secret|access_token|refresh_token|password|routing_key)\"\s*:\s*\")[^\"]+"),
)
#: Something every pattern above needs: a text without any of these holds nothing they replace,
#: and skipping their four substitutions is most of what scrubbing a dashboard page costs.
_CANDIDATE = re.compile(r"(?i)bearer|[=\"]|://")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


def may_hold_credentials(text: str) -> bool:
    """False when no credential pattern can match ``text`` (configured secrets aside)."""
    return _CANDIDATE.search(text) is not None


class Redactor(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        if _CANDIDATE.search(text) is None:
            return text
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + "***" + (m.group(2) if m.lastindex == 2 else ""), text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")
        )
        line = f"{datetime.fromtimestamp(record.created).strftime('%H:%M:%S')} {record.levelname:<7} {record.getMessage()}"
        line += f"  {extras}" if extras else ""
        return line + (f"\n{record.exc_text}" if record.exc_text else "")


def setup(
    level: str = "info", fmt: str = "auto", secrets: Iterable[str] = (), stream: object = None
) -> Redactor:
    """Configure the root logger once; returns the redactor so callers can add secrets later."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not getattr(out, "isatty", lambda: False)())
    handler = logging.StreamHandler(out)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    redactor = Redactor(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("azure", "urllib3", "apscheduler", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
