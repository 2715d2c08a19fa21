"""Every destination limit in one place, so a change at a vendor is one edit (see shared/reference/sinks.md).

Text limits count characters (Unicode code points), as Alertmanager does; only the Teams envelope and
the PagerDuty event are measured in UTF-8 bytes, because that is how those services measure them.
Values sit a little under the documented maximum where the documentation itself is vague.
"""

from __future__ import annotations

#: The visible mark appended to anything we shortened.
MARKER = "… [truncated]"

# Slack incoming webhooks, Block Kit.
SLACK_BLOCKS = 50
SLACK_HEADER = 150
SLACK_SECTION = 3000
SLACK_FIELDS = 10
SLACK_FIELD = 2000
SLACK_CONTEXT_ELEMENTS = 10
SLACK_ACTIONS = 25
SLACK_BUTTON_TEXT = 75
SLACK_BUTTON_URL = 3000
SLACK_TEXT = 4000

# Microsoft Teams Workflows webhook: 28 KB for the whole message, taken as 28,000 bytes.
TEAMS_BYTES = 28_000
TEAMS_ACTIONS = 6

# PagerDuty Events API v2.
PAGERDUTY_SUMMARY = 1024
PAGERDUTY_DEDUP_KEY = 255
PAGERDUTY_FIELD = 255
PAGERDUTY_BYTES = 512 * 1024
PAGERDUTY_LINKS = 20

# Our own webhook: Standard Webhooks recommends small bodies; the excerpt is the only large field.
WEBHOOK_EXCERPT = 8000

# E-mail: a subject longer than this is folded badly by many clients.
EMAIL_SUBJECT = 200

# Text pieces shared by every sink.
EXCERPT = 2000
ITEMS_LISTED = 20
STEP = 1000
