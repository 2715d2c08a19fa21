"""``type: jsonl``: append each notification as one JSON line to a file, durably.

The file is opened for each line (so log rotation by rename just works), the line is written in one
``write`` call and ``fsync``-ed before ``send`` reports success: a delivered notification is on
disk. The line is ``n.to_dict()`` (which carries ``status``), or a template's JSON object.
A relative ``path`` is taken from the config file's directory; missing directories are created.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from enricher.config import JsonlSinkConfig
from enricher.notification import Notification
from enricher.sinks.base import DeliveryResult
from enricher.sinks.templates import RenderError, load_template, require_object


class JsonlSink:
    def __init__(self, config: JsonlSinkConfig, config_dir: Path = Path(".")) -> None:
        self.name = config.name
        self.rate = 1000.0
        self.send_resolved = config.send_resolved
        path = Path(config.path).expanduser()
        self.path = path if path.is_absolute() else config_dir / path
        self.template = load_template(
            config.template, config_dir, sink=config.name, output="json", check=require_object()
        )
        self._lock = threading.Lock()

    def line(self, n: Notification) -> str:
        data = self.template.render_json(n) if self.template is not None else n.to_dict()  # has "status"
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            line = self.line(notification).encode("utf-8")
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    view = memoryview(line)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            # A full disk or a missing mount can heal; a permission problem usually will not, but
            # the dead letter after max_age reports both, so retrying is the safer default.
            return DeliveryResult.retry(f"cannot append to {self.path}: {exc.strerror or exc}")
        return DeliveryResult.success(f"appended to {self.path}")

    def close(self) -> None:
        """Nothing stays open between lines."""
