"""``type: jsonl``: append each notification as one JSON line to a file, durably.

The file is opened for each line (so log rotation by rename just works), the line is written in one
``write`` call and ``fsync``-ed before ``send`` reports success: a delivered notification is on
disk. The line is ``n.to_dict()`` (which carries ``status``), or a template's JSON object.
A relative ``path`` is taken from the working directory (like ``state.path``); missing directories
are created.

Idempotent by notification id: the ids already in the file's last few megabytes are read once, so a
line the daemon wrote just before it was killed (and therefore sends again after restart) is not
written twice.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from enricher.config import JsonlSinkConfig
from enricher.notification import Notification
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.templates import RenderError, TemplateSpec, load_template, require_object

TAIL_BYTES = 8 * 1024 * 1024


#: what a ``template:`` for this sink must render (checked by check-config and at start)
TEMPLATE = TemplateSpec("json", require_object())


class JsonlSink:
    def __init__(self, config: JsonlSinkConfig, config_dir: Path = Path(".")) -> None:
        self.name = config.name
        self.rate = 1000.0
        self.send_resolved = config.send_resolved
        self.path = Path(config.path).expanduser()  # runtime files are relative to the working directory
        self.template = load_template(config.template, config_dir, sink=config.name, spec=TEMPLATE)
        self._lock = threading.Lock()
        self._written: set[str] | None = None

    def _ids_in_file(self) -> set[str]:
        ids: set[str] = set()
        try:
            with self.path.open("rb") as handle:
                handle.seek(max(0, self.path.stat().st_size - TAIL_BYTES))
                for raw in handle:
                    try:
                        data = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(data, dict) and isinstance(data.get("id"), str):
                        ids.add(data["id"])
        except FileNotFoundError:
            pass
        return ids

    def line(self, n: Notification) -> str:
        n = bounded(n, BOUNDS["jsonl"])
        data = self.template.render_json(n) if self.template is not None else n.to_dict()  # has "status"
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            line = self.line(notification).encode("utf-8")
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        try:
            with self._lock:
                if self._written is None:
                    self._written = self._ids_in_file()
                if notification.id in self._written:
                    return DeliveryResult.success(f"already in {self.path}")
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    view = memoryview(line)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self._written.add(notification.id)
        except OSError as exc:
            # A full disk or a missing mount can heal; a permission problem usually will not, but
            # the dead letter after max_age reports both, so retrying is the safer default.
            return DeliveryResult.retry(f"cannot append to {self.path}: {exc.strerror or exc}")
        return DeliveryResult.success(f"appended to {self.path}")

    def close(self) -> None:
        """Nothing stays open between lines."""
