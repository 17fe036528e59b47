"""Accessibility in the browser: axe-core finds nothing serious on the main pages.

Each page is checked as a user sees it, data loaded, in the light and the dark
theme. Violations of impact "serious" or "critical" fail the test, listed in
its message; minor and moderate ones are left to review.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.engine.schedules import create_schedule
from runs.models import RunStatus
from tests.e2e.axe import describe, install_axe, serious_violations
from tests.e2e.conftest import (
    runs_url,
    trigger,
    wait_for_status,
    wait_for_status_counts,
)
from tests.npm import NpmUnavailableError


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's script, installed once per session; fail, never skip, without npm."""
    problem = None
    try:
        return install_axe()
    except NpmUnavailableError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)


def check_in_both_themes(page, script: str, name: str) -> None:
    found = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        violations = serious_violations(page, script)
        if violations:
            found[scheme] = violations
    page.emulate_media(color_scheme="light")
    assert not found, "\n".join(
        f"{name} page, {scheme} theme:\n{describe(violations)}"
        for scheme, violations in found.items()
    )


def finished_runs(api) -> dict[str, str]:
    """One completed, one failed and one delayed run, as a list shows them."""
    runs = {
        "completed": trigger(api, "hello-world", {"name": "Ada"}, tags=["vip"]),
        "failed": trigger(api, "always-fails", {"x": 1}),
        "delayed": trigger(api, "sleep", {"seconds": 1}, delay="2h"),
    }
    wait_for_status(runs["completed"], RunStatus.COMPLETED)
    wait_for_status(runs["failed"], RunStatus.FAILED)
    return runs


def open_runs_list(page, api, live_project) -> None:
    finished_runs(api)
    page.reload()
    expect(page.locator("[data-row]")).to_have_count(3)
    wait_for_status_counts(page)
    # Hold the list still while axe reads it.
    page.get_by_role("button", name="Live").click()
    expect(page.locator("[data-live-toggle]")).to_have_attribute("aria-pressed", "true")


def open_run_page(page, api, live_project) -> None:
    run_id = finished_runs(api)["failed"]
    page.goto(runs_url(page) + f"{run_id}/")
    expect(page.locator(".run-status")).to_have_text("Failed")
    expect(page.locator(".log-tail")).to_be_visible()


def open_keys_page(page, api, live_project) -> None:
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("billing backend")
    page.get_by_role("button", name="Generate key").click()
    expect(page.get_by_label("Secret key")).to_be_visible()


def open_test_page(page, api, live_project) -> None:
    page.get_by_role("link", name="Tasks").click()
    row = page.get_by_role("row", name=re.compile(r"^hello-world "))
    row.get_by_role("link", name="Test").click()
    expect(page.get_by_label("Payload (JSON)")).to_be_visible()
    expect(page.get_by_text("Valid JSON.")).to_be_visible()


def open_schedules_page(page, api, live_project) -> None:
    from tests.schedules.conftest import register_scheduled_tasks

    development = live_project.environments["DEVELOPMENT"]
    register_scheduled_tasks([development])
    create_schedule(
        development,
        task_identifier="user-digest",
        cron="0 9 * * 1-5",
        timezone_name="Europe/Paris",
        external_id="user-42",
    )
    page.get_by_role("link", name="Schedules", exact=True).click()
    expect(page.locator("table").first).to_contain_text("user-digest")


def open_production_runs_list(page, api, live_project) -> None:
    page.get_by_role("link", name="Production").click()
    banner = page.get_by_role("region", name="Production warning")
    expect(banner).to_contain_text("what you do here affects live runs")
    expect(page.get_by_role("heading", name="No runs yet")).to_be_visible()


def open_batches_page(page, api, live_project) -> None:
    items = [
        {"task": "hello-world", "payload": {"name": "Ada"}},
        {"task": "always-fails", "payload": {"x": 1}},
        {"task": "sleep", "payload": {"seconds": 1}, "options": {"delay": "2h"}},
    ]
    response = api.post("/v1/tasks/batch", json={"items": items})
    assert response.status_code == 202, response.text
    runs = [run["id"] for run in response.json()["runs"]]
    wait_for_status(runs[0], RunStatus.COMPLETED)
    wait_for_status(runs[1], RunStatus.FAILED)
    page.get_by_role("link", name="Batches").click()
    expect(page.locator(".group-counts")).to_contain_text("1 completed")


PAGES = {
    "runs list": open_runs_list,
    "run": open_run_page,
    "keys": open_keys_page,
    "test": open_test_page,
    "schedules": open_schedules_page,
    # Beyond the pages above: the production banner, and the batches list.
    "runs list in production": open_production_runs_list,
    "batches": open_batches_page,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_has_no_serious_accessibility_violations(
    signed_in, api, live_project, axe_script, name
):
    PAGES[name](signed_in, api, live_project)

    check_in_both_themes(signed_in, axe_script, name)
