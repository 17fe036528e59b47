"""A running task's log lines show on its run page before the run finishes."""

import re
import uuid

import httpx
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from runs.models import RunLog
from tests.live import poll

LINE = "checking the inventory before the nap"
HTMX = {"HX-Request": "true"}


def signed_in(platform, project) -> httpx.Client:
    """A browser session of a member of the project, against the live server."""
    user = User.objects.create_user(f"member-{uuid.uuid4().hex[:8]}")
    project.project.members.add(user)
    client = Client()
    client.force_login(user)
    return httpx.Client(
        base_url=platform.url,
        cookies={"sessionid": client.cookies["sessionid"].value},
        timeout=10,
    )


def test_a_line_shows_on_the_run_page_while_the_task_still_runs(
    platform, live_project
):
    headers = {"Authorization": f"Bearer {live_project.dev}"}
    env = live_project.environments["DEVELOPMENT"]
    browser = signed_in(platform, live_project)

    # Given a task that prints a line and then sleeps for eight seconds
    response = httpx.post(
        f"{platform.url}/api/v1/tasks/log-then-sleep/trigger",
        json={"payload": {"line": LINE, "seconds": 8}},
        headers=headers,
    )
    run_id = response.json()["id"]
    run_page = reverse("run", args=[live_project.project.slug, env.slug, run_id])

    # When the run page's log panel polls while the task sleeps
    def logs_panel():
        panel = browser.get(run_page, params={"part": "logs"}, headers=HTMX)
        return panel if LINE in panel.text else None

    panel = poll(logs_panel, timeout=30, interval=0.5)
    status = httpx.get(f"{platform.url}/api/v3/runs/{run_id}", headers=headers).json()

    # Then the line is there before the run finished, and the panel keeps polling
    assert status["status"] == "EXECUTING"
    assert panel.status_code == 200
    assert "Listening for new lines" in panel.text

    # When the run completes
    def completed():
        run = httpx.get(f"{platform.url}/api/v3/runs/{run_id}", headers=headers).json()
        return run["status"] == "COMPLETED"

    poll(completed, timeout=30)

    # Then the line was saved once, and the panel stops polling (286)
    assert list(
        RunLog.objects.filter(run_id=run_id).values_list("message", flat=True)
    ) == [LINE]
    seen = RunLog.objects.get(run_id=run_id).pk
    last = browser.get(
        run_page, params={"part": "logs", "after": seen, "shown": 1}, headers=HTMX
    )
    assert last.status_code == 286
    assert "Listening for new lines" not in last.text
    full_page = browser.get(run_page)
    assert LINE in full_page.text
    assert not re.search(r'class="log-tail"[^>]*hx-trigger', full_page.text)
