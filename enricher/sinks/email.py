"""``type: email``: one SMTP mail per notification, one mail thread per incident.

Transport: ``starttls`` (submission on 587), ``tls`` (implicit TLS on 465) or ``none`` (local relays
and tests; AUTH is refused without TLS). The TLS context is ALWAYS
``ssl.create_default_context(cafile=ca_bundle)``: smtplib without ``context=`` does not verify
certificates (shared/reference/sinks.md section 5).

Mail: ``multipart/alternative``, plain text first, HTML last (escaped; a template may replace it).
Threading: every mail of an incident has the same subject and refers to a stable root id
``<incident-{incident_id}@aadsts-enricher>``; the incident's first firing mail *is* the root, later
mails get their own id (derived from the notification id, so a retry keeps it) with ``In-Reply-To``
and ``References`` set to the root. ``Auto-Submitted``/``X-Auto-Response-Suppress`` stop
out-of-office loops; ``X-Alert-*`` headers let people write mail rules.

SMTP outcomes: 2xx delivered, 4xx retry, 5xx permanent; refused connections and timeouts retry;
TLS and authentication failures are permanent (retrying cannot fix them).
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import socket
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from enricher.config import EmailSinkConfig
from enricher.errors import ConfigError
from enricher.notification import Notification
from enricher.sinks import limits, text
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.http import redact
from enricher.sinks.templates import RenderError, SinkTemplate, TemplateSpec, load_template

DOMAIN = "aadsts-enricher"
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
#: No folding of our (short) headers: some parsers keep the space of a fold right after "Subject:",
#: which would make two mails of one incident differ in subject.
POLICY = policy.SMTP.clone(max_line_length=998)
HTML = """<!DOCTYPE html>
<html><body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#222">
<p style="font-size:18px;font-weight:bold">{{ icon(n) }} {{ title_line(n) }}</p>
<table cellpadding="4" style="border-collapse:collapse">
<tr><td><b>Severity</b></td><td>{{ n.severity | upper }}</td></tr>
{% for line in items_lines(n) %}<tr><td><b>Item</b></td><td>{{ line }}</td></tr>
{% endfor %}<tr><td><b>Seen</b></td><td>{{ seen_line(n) }}</td></tr>
</table>
{% for note in [lasted_line(n), schedule_line(n)] + family_lines(n) if note %}<p><b>{{ note }}</b></p>
{% endfor %}{% if n.cause %}<h3>Cause</h3><p>{{ n.cause | one_line }}</p>{% endif %}
{% if n.summary %}<p>{{ n.summary | one_line }}</p>{% endif %}
{% if n.fixes and n.kind != "resolved" %}<h3>How to fix</h3><ol>
{% for step in fix_steps(n) %}<li>{{ step.text }}{% if step.command %}<br><code>{{ step.command }}</code>{% endif %}</li>
{% endfor %}</ol>{% endif %}
{% if n.excerpt %}<h3>Error message</h3><pre style="white-space:pre-wrap">{{ excerpt(n) }}</pre>{% endif %}
{% if link_pairs(n) %}<h3>Links</h3><ul>
{% for label, url in link_pairs(n) %}<li><a href="{{ url }}">{{ label }}</a></li>
{% endfor %}</ul>{% endif %}
<p style="color:#666;font-size:12px">{% for label, value in id_pairs(n) %}{{ label }}: {{ value }}<br>
{% endfor %}</p>
</body></html>
"""


def safe_id(value: str) -> str:
    return value if _SAFE.match(value) else hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def root_id(n: Notification) -> str:
    return f"<incident-{safe_id(n.incident_id)}@{DOMAIN}>"


def is_first(n: Notification) -> bool:
    """True for the first firing mail of a single incident, the only one that may use the root id.

    A reopened incident keeps its id, so "kind == firing" alone would reuse the root and some
    clients drop a mail whose Message-ID they have seen. The incident book numbers notifications
    per incident and hashes ``"{incident_id}:{seq}"`` into the notification id; seq 1 is the first.
    Should that scheme change, this returns False and mails still thread through ``References``.
    """
    first = hashlib.sha256(f"{n.incident_id}:1".encode()).hexdigest()[:16]
    return n.kind == "firing" and n.id == f"firing-{first}"


def subject(n: Notification) -> str:
    """The same for every mail of an incident (clients thread on it): no state, no counts."""
    if n.kind == "test":
        return text.truncate(text.one_line(n.title), limits.EMAIL_SUBJECT)
    where = n.item.item_name if n.items else n.source
    return text.truncate(
        text.one_line(f"[aadsts-enricher] AADSTS{n.code}: {n.short} - {where}"), limits.EMAIL_SUBJECT
    )


def build_message(n: Notification, sender: str, recipients: tuple[str, ...], html: str) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject(n)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(n.created_at)
    root = root_id(n)
    if n.kind == "test" or is_first(n):
        msg["Message-ID"] = root if n.kind != "test" else f"<{safe_id(n.id)}@{DOMAIN}>"
    else:
        msg["Message-ID"] = f"<{safe_id(n.id)}.{safe_id(n.incident_id)}@{DOMAIN}>"
        msg["In-Reply-To"] = root
        msg["References"] = root
    msg["Thread-Topic"] = subject(n)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Alert-Incident"] = safe_id(n.incident_id)
    msg["X-Alert-State"] = n.status
    msg["X-Alert-Kind"] = n.kind
    msg["X-Alert-Severity"] = n.severity
    msg["X-Alert-Code"] = f"AADSTS{n.code}"
    msg.set_content(text.plain_text(n))
    msg.add_alternative(html, subtype="html")
    return msg


def smtp_result(code: int, message: bytes | str, secrets: list[str]) -> DeliveryResult:
    said = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    detail = f"SMTP {code}: {text.truncate(text.one_line(redact(said, secrets)), 300)}"
    return (
        DeliveryResult.retry(detail, status=code)
        if 400 <= code < 500
        else DeliveryResult.fail(detail, status=code)
    )


#: what a ``template:`` for this sink must render (checked by check-config and at start)
TEMPLATE = TemplateSpec("html")


class EmailSink:
    def __init__(self, config: EmailSinkConfig, config_dir: Path = Path(".")) -> None:
        self.name = config.name
        self.rate = config.rate_per_second
        self.send_resolved = config.send_resolved
        self.host, self.port, self.security = config.host, config.port, config.security
        self.sender, self.recipients = config.sender, config.recipients
        self.username = config.username
        self._password = config.password.get_secret_value() if config.password else None
        self.timeout = config.timeout.total_seconds()
        if self.username and self.security == "none":
            raise ConfigError(f"sinks[{self.name}].username: refusing to send a password without TLS")
        if self.username and not self._password:
            raise ConfigError(f"sinks[{self.name}].password: needed with username")
        cafile = None
        if config.ca_bundle:
            cafile = Path(config.ca_bundle).expanduser()  # relative to the working directory
            if not cafile.is_file():
                raise ConfigError(f"sinks[{self.name}].ca_bundle: no such file: {cafile}")
        self.context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        self.template = load_template(config.template, config_dir, sink=config.name, spec=TEMPLATE)
        self.html = self.template or SinkTemplate(HTML, output="html", origin="built-in")

    def __repr__(self) -> str:
        return f"EmailSink(name={self.name!r}, host={self.host!r})"

    def message(self, n: Notification) -> EmailMessage:
        n = bounded(n, BOUNDS["email"])
        return build_message(n, self.sender, self.recipients, self.html.render(n))

    def _connect(self) -> smtplib.SMTP:
        local = socket.gethostname()
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=local, timeout=self.timeout, context=self.context
            )
        smtp = smtplib.SMTP(self.host, self.port, local_hostname=local, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=self.context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            msg = self.message(notification)
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        secrets = [s for s in (self._password,) if s]
        where = f"{self.host}:{self.port}"
        try:
            with self._connect() as smtp:
                if self.username and self._password:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=list(self.recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            answers = list(exc.recipients.values())
            code, said = next(((c, m) for c, m in answers if 400 <= c < 500), answers[0])
            return smtp_result(code, said, secrets)
        except smtplib.SMTPResponseException as exc:
            return smtp_result(exc.smtp_code, exc.smtp_error, secrets)
        except smtplib.SMTPNotSupportedError:
            return DeliveryResult.fail(
                f"{where} does not offer {self.security.upper()} or AUTH as configured"
            )
        except ssl.SSLError as exc:
            return DeliveryResult.fail(f"TLS with {where} failed: {type(exc).__name__} ({exc.reason})")
        except (OSError, smtplib.SMTPException) as exc:
            reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else type(exc).__name__
            return DeliveryResult.retry(f"SMTP {where}: {reason}")
        accepted = len(self.recipients) - len(refused)
        detail = f"accepted by {where} for {accepted} of {len(self.recipients)} recipient(s)"
        if refused:
            detail += "; refused: " + ", ".join(f"{a} ({c})" for a, (c, _) in refused.items())
        return DeliveryResult.success(detail, status=250)

    def close(self) -> None:
        """Each send uses its own connection: nothing stays open."""
