"""Commands that run the platform on this machine or change it through Django.

`dev` runs web, worker and beat together (as `manage.py up` does) and restarts
the worker when a task module changes; `worker` and `beat` run one Celery
process each, for production; `keys create` writes to the database directly.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from triggerkit_cli import exits, reloader
from triggerkit_cli.exits import CliError

DEFAULT_PORT = 8000
DEFAULT_CONCURRENCY = 2
DEFAULT_QUEUE = "triggerkit"
DEFAULT_TASK_MODULES = "examples.tasks"
LOG_LEVELS = ("debug", "info", "warning", "error")
# `manage.py up` exit codes -> ours.
UP_EXIT_CODES = {1: exits.UNAVAILABLE, 2: exits.USAGE, 3: exits.UNAVAILABLE}


def add_commands(commands: argparse._SubParsersAction) -> None:
    tasks = argparse.ArgumentParser(add_help=False)
    tasks.add_argument(
        "--tasks",
        action="append",
        metavar="MODULE",
        help="a task module to load, repeatable or comma-separated "
        "(default: $TRIGGERKIT_TASK_MODULES, else examples.tasks)",
    )
    tasks.add_argument(
        "--watch",
        action="append",
        type=Path,
        metavar="PATH",
        help="with reloading: also watch .py files under this path (repeatable)",
    )

    dev = commands.add_parser(
        "dev",
        parents=[tasks],
        help="run web, worker and beat together, reloading task modules",
        description="Run the web server, a worker and beat in one process group, on "
        "the embedded PostgreSQL and Redis unless DATABASE_URL and CELERY_BROKER_URL "
        "are set. The worker restarts when a .py file of a task module's package "
        "changes. Ctrl-C stops everything.",
    )
    dev.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="web port (default 8000)"
    )
    dev.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="runs at once (default 2)",
    )
    dev.add_argument(
        "--no-reload",
        dest="reload",
        action="store_false",
        help="do not restart the worker",
    )
    dev.set_defaults(handler=run_dev)

    worker = commands.add_parser(
        "worker",
        parents=[tasks],
        help="run a Celery worker that executes runs",
        description="Run a worker that executes runs of the tasks in its task modules. "
        "Start as many as you need, on any machine that reaches the database and broker.",
    )
    worker.add_argument(
        "--queues",
        default=DEFAULT_QUEUE,
        help="Celery queues to consume, comma-separated (default triggerkit, where "
        "every run is published; Triggerkit queues are concurrency limits, not these)",
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="runs at once (default 2)",
    )
    worker.add_argument(
        "--name", help="node name, e.g. worker1@%%h (default celery@<host>)"
    )
    worker.add_argument("--loglevel", choices=LOG_LEVELS, default="info")
    worker.add_argument(
        "--reload", action="store_true", help="restart when a task module file changes"
    )
    worker.set_defaults(handler=run_worker)

    beat = commands.add_parser(
        "beat",
        help="run Celery beat (delays, retries, TTLs, sweeps)",
        description="Run beat, which promotes delayed runs and retries, expires TTLs "
        "and finds lost work. Run exactly one for the whole platform.",
    )
    beat.add_argument("--loglevel", choices=LOG_LEVELS, default="info")
    beat.add_argument(
        "--schedule",
        type=Path,
        help="beat's state file (default var/celerybeat-schedule)",
    )
    beat.set_defaults(handler=run_beat)

    keys = commands.add_parser(
        "keys",
        help="create secret keys",
        description="Manage secret keys on the server.",
    )
    keys.set_defaults(command_parser=keys)
    key_actions = keys.add_subparsers(dest="action", metavar="ACTION")
    create = key_actions.add_parser(
        "create",
        help="create a secret key and print it once",
        description="Create a secret key for one environment of a project. The key "
        "alone goes to stdout, so `export TRIGGER_SECRET_KEY=$(triggerkit keys create "
        "demo dev)` works. Runs on the server: it needs the database settings.",
    )
    create.add_argument("project", help="the project's slug, e.g. demo")
    create.add_argument("environment", choices=["dev", "stg", "prod"])
    create.add_argument("--name", default="default", help="a label for the key")
    create.set_defaults(handler=run_keys_create)


def task_modules(args: argparse.Namespace) -> list[str]:
    """Apply --tasks to the environment the settings (and children) read."""
    if args.tasks:
        names = [
            name.strip()
            for raw in args.tasks
            for name in raw.split(",")
            if name.strip()
        ]
        os.environ["TRIGGERKIT_TASK_MODULES"] = ",".join(names)
    raw = os.environ.get("TRIGGERKIT_TASK_MODULES", DEFAULT_TASK_MODULES)
    modules = [name.strip() for name in raw.split(",") if name.strip()]
    for module in modules:
        if module_file(module) is None:
            raise CliError(f"task module {module!r} cannot be found", exits.USAGE)
    return modules


def module_file(module: str) -> Path | None:
    """The module's file, or None when it or a parent package does not exist.

    Finding a module imports its parent packages; one that fails while
    importing is a CliError naming the error, not a traceback.
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(f"{exc.name}.")):
            return None
        raise unimportable(module, exc) from exc
    except ValueError:
        return None
    except Exception as exc:  # noqa: BLE001 - any error of user code in a package
        raise unimportable(module, exc) from exc
    if spec is None or not spec.origin or not spec.has_location:
        return None
    return Path(spec.origin)


def unimportable(module: str, exc: Exception) -> CliError:
    return CliError(
        f"task module {module!r} cannot be imported: {type(exc).__name__}: {exc}",
        exits.USAGE,
    )


def watched_paths(modules: list[str], extra: list[Path] | None) -> list[Path]:
    """A task module's top package folder, or its file when it has no package."""
    paths: list[Path] = []
    for module in modules:
        file = module_file(module)
        assert file is not None
        depth = module.count(".") + (1 if file.name == "__init__.py" else 0)
        paths.append(file.parents[depth - 1] if depth else file)
    for path in extra or []:
        if not path.exists():
            raise CliError(f"--watch {path}: no such file or folder", exits.USAGE)
        paths.append(path.resolve())
    return sorted(set(paths))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def require_services() -> None:
    """Fail early when the embedded servers the settings point at are not running."""
    from config import embedded

    servers = embedded.servers_in_use()
    if embedded.POSTGRES in servers and not embedded.postgres_running():
        raise CliError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not running; "
            "start `triggerkit dev` on this machine or set DATABASE_URL",
            exits.UNAVAILABLE,
        )
    if embedded.REDIS in servers and not embedded.REDIS_SOCKET.exists():
        raise CliError(
            "CELERY_BROKER_URL is not set and the embedded Redis is not running; "
            "start `triggerkit dev` on this machine or set CELERY_BROKER_URL",
            exits.UNAVAILABLE,
        )


def run_dev(args: argparse.Namespace) -> int:
    modules = task_modules(args)
    watch = watched_paths(modules, args.watch) if args.reload else []
    setup_django()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from triggerkit_cli.dev import DevCommand

    try:
        call_command(DevCommand(watch), port=args.port, concurrency=args.concurrency)
    except CommandError as exc:
        raise CliError(
            str(exc), UP_EXIT_CODES.get(exc.returncode, exits.UNAVAILABLE)
        ) from exc
    return exits.OK


def run_worker(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        raise CliError("--concurrency must be at least 1", exits.USAGE)
    modules = task_modules(args)
    if args.reload:
        argv = [arg for arg in sys.argv[1:] if arg != "--reload"]
        command = [sys.executable, "-m", "triggerkit_cli", *argv]
        return reloader.Reloader(
            command, watched_paths(modules, args.watch), sys.stdout
        ).run()

    require_services()
    celery_args = [
        "worker",
        f"--queues={args.queues}",
        f"--concurrency={args.concurrency}",
        f"--loglevel={args.loglevel}",
        "--without-mingle",
        "--without-gossip",
    ]
    if args.name:
        celery_args.append(f"--hostname={args.name}")
    return run_celery(celery_args)


def run_beat(args: argparse.Namespace) -> int:
    require_services()
    celery_args = ["beat", f"--loglevel={args.loglevel}"]
    if args.schedule:
        celery_args.append(f"--schedule={args.schedule}")
    return run_celery(celery_args)


def run_celery(celery_args: list[str]) -> int:
    setup_django()
    from config.celery import app

    code = app.start(argv=celery_args)
    if code:
        raise CliError(
            f"celery {celery_args[0]} stopped with code {code}", exits.UNAVAILABLE
        )
    return exits.OK


def run_keys_create(args: argparse.Namespace) -> int:
    setup_django()
    from django.core.management.base import CommandError
    from django.db import DatabaseError

    from apikeys.management.commands.create_key import find_environment
    from apikeys.models import ApiKey, create_api_key

    max_length = ApiKey._meta.get_field("name").max_length
    if not args.name.strip() or len(args.name) > max_length:
        raise CliError(f"--name must be 1 to {max_length} characters", exits.USAGE)
    try:
        environment = find_environment(args.project, args.environment)
        _, secret = create_api_key(environment, name=args.name)
    except CommandError as exc:
        raise CliError(str(exc), exits.NOT_FOUND) from exc
    except DatabaseError as exc:
        raise CliError(
            f"cannot reach the database: {exc}".strip(), exits.UNAVAILABLE
        ) from exc

    print(secret, flush=True)
    print(
        f"Created key {args.name!r} for {environment}. Store it now: it is shown only once.",
        file=sys.stderr,
    )
    return exits.OK
