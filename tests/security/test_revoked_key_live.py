"""A key revoked in one process is refused by every web process within seconds.

Each web process remembers the keys it found for TRIGGERKIT_AUTH_CACHE_SECONDS
(apikeys/auth.py); revoke_api_key forgets them only in the process that
revokes, here the test process. So the test needs gunicorn with two workers
that both remembered the key: their access log lines name the worker (pid)
that answered each request.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings

from apikeys.models import ApiKey, revoke_api_key
from runs.models import Batch, Run
from tests.live import Platform, platform_env, poll

AUTH_CACHE_SECONDS = 2
# A key remembered before the revocation is forgotten at most AUTH_CACHE_SECONDS
# after it; the margin is for a loaded machine's scheduling.
MARGIN_SECONDS = 1
WEB_WORKERS = 2
REQUESTS_AT_ONCE = 12
# gunicorn takes extra options from GUNICORN_CMD_ARGS; %(p)s is the worker's pid.
ACCESS_LOG = "--access-logfile - --access-logformat 'answered %(p)s %(s)s %(U)s'"
ANSWERED = re.compile(r"^answered <(\d+)> (\d{3}) /api/", re.MULTILINE)


@pytest.fixture
def web(live_db, broker_url, tmp_path):
    """gunicorn alone, two workers, remembering keys for AUTH_CACHE_SECONDS."""
    db = settings.DATABASES["default"]
    server = f"{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}"
    env = platform_env(f"postgres://{server}/{live_db}", broker_url)
    env.update(
        TRIGGERKIT_AUTH_CACHE_SECONDS=str(AUTH_CACHE_SECONDS),
        GUNICORN_CMD_ARGS=ACCESS_LOG,
    )
    live = Platform(env, tmp_path)
    try:
        live.start_web(workers=WEB_WORKERS)
        yield live
    finally:
        live.stop()


def at_once(send) -> list[httpx.Response]:
    """REQUESTS_AT_ONCE requests side by side, each on a connection of its own."""
    with ThreadPoolExecutor(REQUESTS_AT_ONCE) as pool:
        return list(pool.map(send, range(REQUESTS_AT_ONCE)))


def answered(web, since: int = 0) -> list[tuple[int, int]]:
    """(worker pid, status) of each API request in the access log after `since`."""
    log = web.processes[0].log()[since:]
    return [(int(pid), int(status)) for pid, status in ANSWERED.findall(log)]


def test_a_revoked_key_is_refused_by_every_web_worker_once_their_memory_lapses(
    web, live_project
):
    key = live_project.dev
    environment = live_project.environments["DEVELOPMENT"]
    headers = {"Authorization": f"Bearer {key}"}

    def list_runs(number: int) -> httpx.Response:
        return httpx.get(f"{web.url}/api/v1/runs", headers=headers, timeout=15)

    def list_or_trigger(number: int) -> httpx.Response:
        if number % 2:
            return list_runs(number)
        return httpx.post(
            f"{web.url}/api/v1/tasks/echo/trigger",
            json={"payload": {"n": number}},
            headers=headers,
            timeout=15,
        )

    # Given both web workers remember the key: each answered a list with 200
    def both_workers_know_the_key() -> bool:
        assert {response.status_code for response in at_once(list_runs)} == {200}
        knowing = {pid for pid, status in answered(web) if status == 200}
        return len(knowing) == WEB_WORKERS

    poll(both_workers_know_the_key, timeout=30, interval=0.2)

    # When the test process revokes it, and the workers' memory of it lapses
    revoke_api_key(ApiKey.objects.get(environment=environment))
    time.sleep(AUTH_CACHE_SECONDS + MARGIN_SECONDS)
    since = len(web.processes[0].log())

    # Then every request gets a 401 with a JSON error, from both workers
    def both_workers_refuse() -> bool:
        for response in at_once(list_or_trigger):
            assert response.status_code == 401, response.text
            assert set(response.json()) == {"error"}
        statuses = answered(web, since)
        assert all(status == 401 for _, status in statuses), statuses
        return len({pid for pid, _ in statuses}) == WEB_WORKERS

    poll(both_workers_refuse, timeout=30, interval=0.2)

    # And the refused triggers created nothing
    assert not Run.objects.filter(environment=environment).exists()
    assert not Batch.objects.filter(environment=environment).exists()
