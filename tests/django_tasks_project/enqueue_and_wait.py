"""Enqueue the shop's tasks and wait for their results, with Django's API only.

Prints one JSON object describing what the results said.
"""

import json
import os
import sys
import time
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
django.setup()

from django.utils import timezone  # noqa: E402

try:
    from django.tasks import default_task_backend
    from django.tasks.exceptions import TaskResultDoesNotExist
except ImportError:
    from django_tasks import default_task_backend
    from django_tasks.exceptions import TaskResultDoesNotExist

from shop import tasks  # noqa: E402

TIMEOUT_SECONDS = 60


def wait(result):
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not result.is_finished:
        if time.monotonic() > deadline:
            sys.exit(f"{result.id} still {result.status}")
        time.sleep(0.2)
        result.refresh()
    return result


def main():
    added = tasks.add.enqueue(2, 3)
    enqueued_status = added.status
    totalled = tasks.total.enqueue([10, 20.5], discount=0.1)
    refused = tasks.refuse.enqueue(42)
    context = tasks.whoami.enqueue("ctx")
    shouted = tasks.shout.enqueue("hello")
    later = tasks.add.using(run_after=timezone.now() + timedelta(seconds=2)).enqueue(
        1, 1
    )
    later_status = tasks.add.get_result(later.id).status

    for result in (added, totalled, refused, context, shouted, later):
        wait(result)

    fetched = default_task_backend.get_result(added.id)
    try:
        default_task_backend.get_result("run_00000000000000000000000000")
        missing = "found"
    except TaskResultDoesNotExist:
        missing = "does not exist"

    print(
        json.dumps(
            {
                "add": {
                    "id": added.id,
                    "enqueued": enqueued_status,
                    "status": added.status,
                    "value": added.return_value,
                    "attempts": added.attempts,
                    "fetched": [fetched.status, fetched.return_value, fetched.args],
                },
                "total": [totalled.status, totalled.return_value, totalled.kwargs],
                "refuse": {
                    "status": refused.status,
                    "exception": refused.errors[0].exception_class_path,
                    "class": refused.errors[0].exception_class.__name__,
                    "traceback": refused.errors[0].traceback,
                },
                "context": [context.return_value, context.id],
                "shout": [shouted.status, shouted.return_value],
                "later": [
                    later_status,
                    later.status,
                    later.return_value,
                    later.started_at >= later.enqueued_at + timedelta(seconds=1.5),
                ],
                "missing": missing,
            }
        )
    )


if __name__ == "__main__":
    main()
