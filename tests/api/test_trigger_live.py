"""A run triggered over HTTP completes on a real worker."""

import httpx

from tests.live import poll


def test_a_triggered_run_completes_with_its_output(platform, live_project):
    headers = {"Authorization": f"Bearer {live_project.dev}"}
    response = httpx.post(
        f"{platform.url}/api/v1/tasks/hello-world/trigger",
        json={"payload": {"name": "Ada"}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    run_id = response.json()["id"]

    def completed():
        run = httpx.get(f"{platform.url}/api/v3/runs/{run_id}", headers=headers).json()
        return run if run["status"] == "COMPLETED" else None

    run = poll(completed)
    assert run["output"] == {"message": "Hello, Ada!"}
    assert run["payload"] == {"name": "Ada"}
