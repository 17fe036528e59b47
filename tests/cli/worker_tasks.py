"""A task module only the workers started by tests/cli load."""

import os

from triggerkit import task


@task(id="cli-worker-pid")
def worker_pid(payload: dict) -> dict:
    return {"pid": os.getpid(), "echo": payload}
