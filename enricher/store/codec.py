"""JSON forms of incidents, pending notifications and silences, as the stores keep them."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import orjson

from enricher.config import Match
from enricher.core.incidents import Incident, Pending
from enricher.core.routing import Silence
from enricher.notification import ItemRef

_TIMES = ("first_seen", "last_seen", "last_failure_at", "resolved_at", "last_notified_at")
_FIELDS = tuple(f.name for f in dataclasses.fields(Incident))
#: What ``json.dumps(default=str)`` wrote through ``str`` stays so (orjson has formats of its own).
_AS_JSON_DID = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def incident_json(inc: Incident) -> str:
    """Encoded by orjson (a tenth of ``json.dumps``'s time for these ~4 kB bodies), compact; what
    it decodes to is what ``json.dumps(incident_data(inc), default=str)`` gave: datetimes and
    dataclasses go through ``str`` as there, and what orjson refuses (an integer beyond 64 bits, a
    lone surrogate) is encoded by ``json``. Only a float NaN or infinity, which no incident holds,
    would read back as null."""
    data = incident_data(inc)
    try:
        return orjson.dumps(data, default=str, option=_AS_JSON_DID).decode()
    except orjson.JSONEncodeError:
        return json.dumps(data, ensure_ascii=False, default=str)


def incident_data(inc: Incident) -> dict[str, Any]:
    """Field by field rather than ``dataclasses.asdict``, which deep-copies every value first and
    was most of the cost of saving an incident."""
    data = {name: getattr(inc, name) for name in _FIELDS}
    for key in _TIMES:
        value = data[key]
        data[key] = value.isoformat() if value else None
    data["items"] = [
        {
            "source": i.source,
            "container_name": i.container_name,
            "item_name": i.item_name,
            "item_type": i.item_type,
            "item_id": i.item_id,
            "container_id": i.container_id,
            "run_id": i.run_id,
            "url": i.url,
        }
        for i in inc.items
    ]
    data["item_keys"] = list(inc.item_keys)
    data["changes"] = [c.isoformat() for c in inc.changes]
    return data


def incident_from(text: str) -> Incident:
    data: dict[str, Any] = json.loads(text)
    for key in _TIMES:
        data[key] = datetime.fromisoformat(data[key]) if data.get(key) else None
    data["changes"] = tuple(datetime.fromisoformat(c) for c in data.get("changes") or ())
    data["items"] = tuple(ItemRef(**i) for i in data.get("items") or ())
    data["item_keys"] = tuple(data.get("item_keys") or ())
    data["recovered"] = tuple(tuple(r) for r in data.get("recovered") or ())
    return Incident(**data)


def pending_row(p: Pending) -> tuple[str, str, str, str]:
    return (p.fingerprint, p.kind, p.batch, p.created_at.isoformat())


def pending_from(row: tuple[str, str, str, str]) -> Pending:
    return Pending(row[0], row[1], row[2], datetime.fromisoformat(row[3]))  # type: ignore[arg-type]


def silence_json(s: Silence) -> str:
    return json.dumps(
        {
            "id": s.id,
            "match": s.match.model_dump(exclude_none=True),
            "ends_at": s.ends_at.isoformat(),
            "comment": s.comment,
            "created_by": s.created_by,
        }
    )


def silence_from(text: str) -> Silence:
    data = json.loads(text)
    return Silence(
        data["id"],
        Match.model_validate(data["match"]),
        datetime.fromisoformat(data["ends_at"]),
        data.get("comment", ""),
        data.get("created_by", ""),
    )
