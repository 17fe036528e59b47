"""A run that fails for good e-mails the environment's recipients, once per interval.

The platform's own worker sends the mail with Django's SMTP backend to an SMTP
server this test runs (aiosmtpd), on a platform of its own so that its worker
has the mail settings.
"""

import email
import email.policy
import threading
import time

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller

from tests.cli import isolated
from tests.live import free_port, poll

SITE_URL = "http://jobs.example.test"
SENDER = "alerts@example.test"
RECIPIENTS = ["oncall@example.test", "lead@example.test"]


class Inbox:
    """An aiosmtpd handler that keeps each message it accepts."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        with self.lock:
            self.messages.append(
                {"from": envelope.mail_from, "to": envelope.rcpt_tos, "mail": message}
            )
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory, inbox):
    with isolated.platform(
        tmp_path_factory.mktemp("alerts-email"),
        "Mail",
        "mail",
        TRIGGERKIT_TASK_MODULES="examples.tasks",
        SITE_URL=SITE_URL,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(inbox.port),
        EMAIL_USE_TLS="false",
        DEFAULT_FROM_EMAIL=SENDER,
    ) as live:
        yield live


def query(site, sql, params=()):
    with psycopg.connect(site.env["DATABASE_URL"], autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def set_alert_emails(site, slug, emails):
    """What saving the alert settings page does, for the dev environment."""
    inserted = query(
        site,
        "INSERT INTO alerts_alertsettings (environment_id, webhook_url, emails,"
        " updated_at) SELECT e.id, '', %s, now() FROM apikeys_environment e"
        " JOIN apikeys_project p ON p.id = e.project_id"
        " WHERE p.slug = %s AND e.kind = 'DEVELOPMENT'",
        (emails, slug),
    )
    assert inserted == 1


def trigger(site, task):
    response = httpx.post(
        f"{site.url}/api/v1/tasks/{task}/trigger",
        json={"payload": {}},
        headers={"Authorization": f"Bearer {site.key}"},
    )
    return response.json()["id"]


def status_of(site, run_id):
    headers = {"Authorization": f"Bearer {site.key}"}
    return httpx.get(f"{site.url}/api/v3/runs/{run_id}", headers=headers).json()[
        "status"
    ]


def test_a_failed_run_emails_the_recipients_once_per_interval(site, inbox):
    set_alert_emails(site, "mail", "\n".join(RECIPIENTS))

    # Given: a run that fails for good (abort-at-once is never retried).
    first = trigger(site, "abort-at-once")
    poll(lambda: inbox.messages, timeout=30)

    # Then: one e-mail to each recipient, naming the task and linking the run.
    [sent] = inbox.messages
    mail = sent["mail"]
    assert sent["from"] == SENDER
    assert sent["to"] == RECIPIENTS
    assert mail["To"] == ", ".join(RECIPIENTS)
    assert mail["Subject"] == "[Triggerkit] abort-at-once FAILED in mail/dev"
    body = mail.get_content()
    assert f"{SITE_URL}/runs/{first}" in body
    assert "this run cannot succeed, so it is not retried" in body
    worker = next(p for p in site.processes if p.name == "worker")
    poll(lambda: "alert delivered" in worker.log(), timeout=10)

    # When: the task fails again within the interval (an hour by default).
    second = trigger(site, "abort-at-once")
    poll(lambda: status_of(site, second) == "FAILED")
    poll(
        lambda: (
            query(
                site,
                "SELECT suppressed FROM alerts_alertthrottle WHERE task = %s",
                ("abort-at-once",),
            )
            == [(1,)]
        )
    )
    time.sleep(1)

    # Then: no second e-mail; the one alert was delivered.
    assert len(inbox.messages) == 1
    assert query(site, "SELECT run_id, delivered_at IS NOT NULL FROM alerts_alert") == [
        (first, True)
    ]
