"""Enqueue a shop task with the tasks API importable only as `django.tasks`.

Django 6 ships the tasks API as `django.tasks`; this machine has Django 5.2 and
the django-tasks backport (`django_tasks`), and Django 6 needs a newer Python.
So before anything imports it, `django.tasks` and its submodules are made the
backport's modules, with the exception names Django 6 uses (`InvalidTask`),
and every import triggerkit_django makes of either spelling is recorded.

This shows that triggerkit_django takes the `django.tasks` branch and works
through it; it cannot show that Django 6's own modules behave like the
backport. Prints one JSON object.
"""

import builtins
import importlib
import importlib.util
import json
import os
import sys
import time
import types

SPELLINGS = ("django.tasks", "django_tasks")
SUBMODULES = ("backends", "backends.base", "base", "exceptions", "signals", "utils")
TIMEOUT_SECONDS = 60
imported_by_us: list[str] = []


def alias_django_tasks() -> None:
    import django
    import django_tasks

    for name in SUBMODULES:
        module = importlib.import_module(f"django_tasks.{name}")
        sys.modules[f"django.tasks.{name}"] = module
    exceptions = types.ModuleType("django.tasks.exceptions")
    exceptions.__dict__.update(vars(django_tasks.exceptions))
    exceptions.InvalidTask = django_tasks.exceptions.InvalidTaskError
    exceptions.InvalidTaskBackend = django_tasks.exceptions.InvalidTaskBackendError
    sys.modules["django.tasks.exceptions"] = exceptions
    sys.modules["django.tasks"] = django_tasks
    django.tasks = django_tasks


def record_imports() -> None:
    """Note each import of the tasks API made by triggerkit_django's modules."""
    original = builtins.__import__

    def recording(name, globals=None, locals=None, fromlist=(), level=0):
        module = original(name, globals, locals, fromlist, level)
        importer = (globals or {}).get("__name__", "")
        if importer.startswith("triggerkit_django") and name.startswith(SPELLINGS):
            imported_by_us.append(name)
            # `from django.tasks import signals` imports a submodule too.
            for item in fromlist or ():
                if f"{name}.{item}" in sys.modules:
                    imported_by_us.append(f"{name}.{item}")
        return module

    builtins.__import__ = recording


def wait(result):
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not result.is_finished:
        if time.monotonic() > deadline:
            sys.exit(f"{result.id} still {result.status}")
        time.sleep(0.2)
        result.refresh()
    return result


def too_long_a_path():
    """A module-level function whose task path is over Triggerkit's 128 characters."""


def main() -> None:
    if importlib.util.find_spec("django.tasks") is not None:
        print(json.dumps({"native": True}))
        return
    alias_django_tasks()
    record_imports()

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
    django.setup()

    from django.tasks import default_task_backend, task
    from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
    from shop import tasks

    from triggerkit import TaskContext
    from triggerkit._tasks import registry

    added = tasks.add.enqueue(2, 3)
    enqueued_status = added.status
    wait(added)
    try:
        default_task_backend.get_result("run_00000000000000000000000000")
        missing = "found"
    except TaskResultDoesNotExist as exc:
        missing = type(exc).__name__

    # The worker's side: the Triggerkit task that wraps a task taking a context.
    ctx = TaskContext(run_id="run_local", task_id="shop.tasks.whoami", attempt_number=1)
    context = registry["shop.tasks.whoami"].func({"args": ["ctx"]}, ctx)

    too_long_a_path.__qualname__ = "x" * 130
    try:
        task(too_long_a_path)
        invalid = "accepted"
    except InvalidTask as exc:
        invalid = str(exc)

    print(
        json.dumps(
            {
                "native": False,
                "imports": sorted(set(imported_by_us)),
                "add": [enqueued_status, added.status, added.return_value],
                "missing": missing,
                "context": context,
                "invalid": invalid,
            }
        )
    )


if __name__ == "__main__":
    main()
