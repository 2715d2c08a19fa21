"""The clearly marked test notification: what ``test-sink`` sends and what templates are checked with.

Every field a template may use is filled in (items, fixes with commands, links, IDs), so a template
that renders this notification at build time will not stumble over an empty field at send time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from enricher.models import FixStep, Link
from enricher.notification import ItemRef, Notification

TEST_TITLE = "[TEST] aadsts-enricher: test notification, no action needed"


def make_test_notification(now: datetime) -> Notification:
    """A ``kind="test"`` notification stamped ``now``; its id is unique per second."""
    stamp = now.strftime("%Y%m%dT%H%M%S")
    return Notification(
        id=f"test-{stamp}",
        incident_id=f"test-{stamp}",
        kind="test",
        severity="info",
        code="50000",
        title=TEST_TITLE,
        short="Test notification",
        summary="This is a test sent by 'aadsts-enricher test-sink' to check that this destination works.",
        cause="Someone ran 'aadsts-enricher test-sink'. Nothing failed.",
        fixes=(
            FixStep("Nothing to fix: check that this message looks right in this destination."),
            FixStep("Send another test at any time", "aadsts-enricher test-sink NAME --config FILE"),
        ),
        source="powerbi",
        tenant="test",
        items=(
            ItemRef(
                source="powerbi",
                container_name="Test workspace",
                item_name="Test dataset",
                item_type="dataset",
                item_id="00000000-0000-0000-0000-000000000001",
                container_id="00000000-0000-0000-0000-000000000002",
            ),
        ),
        first_seen=now - timedelta(minutes=5),
        last_seen=now,
        count=1,
        created_at=now,
        category="test",
        name="Test",
        links=(Link("AADSTS error lookup", "https://login.microsoftonline.com/error?code=50000"),),
        correlation_id="00000000-0000-0000-0000-0000000000c0",
        trace_id="00000000-0000-0000-0000-0000000000f0",
        error_timestamp=now.strftime("%Y-%m-%d %H:%M:%SZ"),
        excerpt="[TEST] No real error: this line stands where the raw error message would be.",
        labels={"workspace": "Test workspace", "item": "Test dataset", "category": "test"},
    )
