"""The stored JSON of an incident decodes to what ``json.dumps(default=str)`` gave before orjson.

``codec.incident_json`` encodes with orjson and falls back to ``json`` for what orjson refuses;
the bodies must read back the same whatever an incident's free-form parts hold (the content,
labels, root cause and sign-in payload come from error texts, the knowledge base and Graph).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from enricher.core.incidents import Incident
from enricher.notification import ItemRef
from enricher.store.codec import incident_data, incident_from, incident_json

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
BASE = Incident(
    id="fp-1",
    fingerprint="fp",
    state="open",
    code="53003",
    severity="high",
    tenant="contoso",
    source="powerbi",
    items=(ItemRef("powerbi", "Finance", "Sales", "dataset", "ds1", "ws1", "r1", "https://x"),),
    item_keys=("contoso/powerbi/ws1/ds1",),
    first_seen=T0,
    last_seen=T0 + timedelta(minutes=5),
    last_failure_at=T0 + timedelta(minutes=5),
    count=2,
    content={"short": "Blocked by Conditional Access"},
    labels={"severity": "high"},
    changes=(T0,),
)
#: any text, lone surrogates included (orjson refuses those; json writes them)
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too (orjson refuses those)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
    | st.datetimes(timezones=st.just(UTC))
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT | st.integers(), inner, max_size=4),
    max_leaves=12,
)


def before(inc: Incident) -> Any:
    """What the store wrote before orjson, decoded."""
    return json.loads(json.dumps(incident_data(inc), ensure_ascii=False, default=str))


class TestIncidentJson:
    @given(
        content=st.dictionaries(TEXT, VALUES, max_size=5),
        signin=st.none() | st.dictionaries(TEXT, VALUES, max_size=5),
        labels=st.dictionaries(TEXT, TEXT, max_size=3),
        item=TEXT,
    )
    def test_decodes_as_json_dumps_did(
        self, content: dict[str, Any], signin: dict[str, Any] | None, labels: dict[str, str], item: str
    ) -> None:
        """Random free-form parts: the same decoded body, and the same incident read back."""
        inc = dataclasses.replace(
            BASE,
            content=content,
            signin=signin,
            labels=labels,
            items=(dataclasses.replace(BASE.items[0], item_name=item),),
        )
        assert json.loads(incident_json(inc)) == before(inc)
        assert incident_from(incident_json(inc)) == incident_from(
            json.dumps(incident_data(inc), ensure_ascii=False, default=str)
        )

    def test_a_datetime_inside_the_content_is_written_as_str_wrote_it(self) -> None:
        """orjson's own datetime format has a 'T'; ``str`` a space: the stored text keeps the space."""
        inc = dataclasses.replace(BASE, content={"at": T0})
        assert json.loads(incident_json(inc))["content"] == {"at": "2026-03-02 06:00:00+00:00"}

    def test_what_orjson_refuses_is_encoded_by_json(self) -> None:
        """A lone surrogate and an integer past 64 bits still make a body."""
        inc = dataclasses.replace(BASE, content={"text": "a\udc80b", "n": 2**70})
        assert json.loads(incident_json(inc))["content"] == {"text": "a\udc80b", "n": 2**70}
