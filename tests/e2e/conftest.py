"""Browser tests: Playwright driving Debian's Chromium against the live platform.

Playwright cannot download its own browser here, so the suite installs
Debian's `chromium` package when it is missing (the tests run as root) and
points Playwright at it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.db import connections

from tests.live import ROOT, poll

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
# The server keeps UTC; the browser lives nine hours ahead, all year round.
BROWSER_ZONE = "Asia/Tokyo"
PASSWORD = "browser-password-1"
# Milliseconds a browser waits for what the platform does in the background.
LIVE_TIMEOUT_MS = 30_000


def install_chromium() -> None:
    """Install Debian's Chromium with apt, as root, when it is not there yet."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail("Chromium is missing: run `apt-get install -y chromium` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=900
        )
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")


@pytest.fixture(scope="module")
def browser(platform):
    """Chromium for one test module.

    Playwright's sync API keeps an event loop running in this thread, and
    Django refuses database calls under a running loop unless told they are
    safe, which they are here: nothing else runs in this thread. The browser
    lives for one module only, so no other test runs under that loop; the
    platform starts first, so its processes never inherit the permission.
    """
    install_chromium()
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
            # Connections opened under the loop are kept apart from the thread's
            # own: close them here, or the test database cannot be dropped.
            connections.close_all()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def member(live_project):
    """A user with a password, member of a fresh live project.

    The test settings hash passwords with MD5 for speed, which the platform's
    own settings do not accept: the hash is made with the platform's default
    algorithm, at few iterations (the count travels inside the hash).
    """
    user = User.objects.create_user(f"member-{uuid.uuid4().hex[:8]}")
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    live_project.project.members.add(user)
    return user


@pytest.fixture
def context(browser, platform):
    context = browser.new_context(
        viewport=VIEWPORT,
        base_url=platform.url,
        color_scheme="light",
        timezone_id=BROWSER_ZONE,
    )
    context.set_default_timeout(LIVE_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def signed_in(context, member):
    """A browser page signed in as `member`, on their runs page."""
    page = context.new_page()
    sign_in(page, member.username)
    return page


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/runs/")


def screenshot(page, name: str) -> Path:
    """Save the page in light and dark, as CI keeps them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        path = SCREENSHOTS / f"{name}-{scheme}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    page.emulate_media(color_scheme="light")
    return saved[0]


def wait_for_status_counts(page) -> None:
    """Wait until the runs list shows its counts per status, which load after it."""
    from playwright.sync_api import expect

    counts = page.locator("#status-counts")
    expect(counts).not_to_have_attribute("aria-busy", "true")
    expect(counts.locator(".status-count[data-status] .n").first).to_be_visible()


@pytest.fixture
def api(platform, live_project):
    """The platform's HTTP API, with the live project's development key."""
    with httpx.Client(
        base_url=f"{platform.url}/api",
        headers={"Authorization": f"Bearer {live_project.dev}"},
        timeout=10,
    ) as client:
        yield client


def trigger(api, task: str, payload, **options) -> str:
    response = api.post(
        f"/v1/tasks/{task}/trigger", json={"payload": payload, "options": options}
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def wait_for_status(run_id: str, *statuses: str):
    from runs.models import Run

    return poll(
        lambda: Run.objects.filter(pk=run_id, status__in=statuses).first(), timeout=30
    )


def runs_url(page) -> str:
    """The runs list's address in the environment the page is in."""
    return re.sub(r"/runs/.*$", "/runs/", page.url)
