"""Errors as the official SDK raises them: class and status, no slow retries."""

from __future__ import annotations

import httpx

WRONG_KEY = "tr_dev_" + "x" * 24


def trigger_over_http(url: str, key: str) -> str:
    response = httpx.post(
        f"{url}/api/v1/tasks/noop/trigger",
        json={"payload": {}, "options": {"delay": "1h"}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_a_wrong_key_raises_an_authentication_error(node_sdk, platform, live_project):
    run_id = trigger_over_http(platform.url, live_project.dev)

    seen = node_sdk.run("retrieve.mjs", key=WRONG_KEY, RUN_ID=run_id)

    error = seen["error"]
    assert (error["class"], error["status"]) == ("AuthenticationError", 401)
    assert "api key" in error["message"].lower()
    assert seen["elapsedMs"] < 2000


def test_a_run_of_another_environment_is_not_found_at_once(
    node_sdk, platform, live_project
):
    run_id = trigger_over_http(platform.url, live_project.dev)

    seen = node_sdk.run("retrieve.mjs", key=live_project.staging, RUN_ID=run_id)

    error = seen["error"]
    assert (error["class"], error["status"]) == ("NotFoundError", 404)
    assert error["message"] == "Run not found"
    assert error["shouldRetry"] == "false"
    assert seen["elapsedMs"] < 2000, "the SDK retried a 404 it should not retry"


def test_a_tag_too_long_is_a_bad_request_and_eleven_tags_are_unprocessable(node_sdk):
    seen = node_sdk.run("trigger_errors.mjs")

    long_tag, eleven = seen["longTag"]["error"], seen["elevenTags"]["error"]
    assert (long_tag["class"], long_tag["status"]) == ("BadRequestError", 400)
    assert "options.tags.0: String should have at most 128 characters" in (
        long_tag["message"]
    )
    assert (eleven["class"], eleven["status"]) == ("UnprocessableEntityError", 422)
    assert eleven["message"] == "Runs can only have 10 tags, you're trying to set 11."
