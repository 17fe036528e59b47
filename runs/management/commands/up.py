"""`manage.py up`: the whole platform on this machine in one command.

Exit codes: 0 when stopped with Ctrl-C or SIGTERM, 1 when web, worker or beat
exited on its own (the message names it), 2 on bad arguments, 3 when the
platform could not start (port taken, database unreachable, another `up`
running on the same var folder, web not healthy in time).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections, transaction

from apikeys.models import (
    Environment,
    EnvironmentKind,
    Project,
    create_api_key,
    create_project,
)
from config import embedded
from runs import launcher
from runs.engine import copy_known_tasks

EXIT_CHILD_EXITED = 1
EXIT_USAGE = 2
EXIT_START_FAILED = 3
DEFAULT_PORT = 8000
DEFAULT_CONCURRENCY = 2
DEMO_PROJECT_NAME = "Demo"
DEMO_PROJECT_SLUG = "demo"
ADMIN_USERNAME = "admin"
QUICKSTART_KEY_NAME = "quickstart"
START_ERRORS = (
    launcher.LauncherError,
    DatabaseError,
    OSError,
    RuntimeError,
    subprocess.SubprocessError,
)


@dataclass(frozen=True)
class FirstStart:
    """Secrets created on first start; they exist nowhere else in clear."""

    password: str
    secret_key: str


class Command(BaseCommand):
    help = (
        "Start Triggerkit on this machine: embedded PostgreSQL and Redis (unless "
        "DATABASE_URL / CELERY_BROKER_URL are set), the web server, a worker and beat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=DEFAULT_PORT,
            help=f"web server port on 127.0.0.1 (default {DEFAULT_PORT})",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=DEFAULT_CONCURRENCY,
            help=f"runs the worker executes at once (default {DEFAULT_CONCURRENCY})",
        )

    def handle(self, *args, port: int, concurrency: int, **options) -> None:
        if not 0 < port < 65536 or concurrency < 1:
            raise CommandError(
                "--port must be 1-65535 and --concurrency at least 1",
                returncode=EXIT_USAGE,
            )
        if not launcher.port_is_free("127.0.0.1", port):
            raise CommandError(
                f"port {port} is already in use; pick another with --port",
                returncode=EXIT_START_FAILED,
            )

        servers = embedded.servers_in_use()
        try:
            with launcher.interrupt_on_stop_signals(), var_lock(servers):
                self.start(port, concurrency, servers)
        except launcher.ChildExitedError as exc:
            raise CommandError(
                f"{exc}; stopped the others", returncode=EXIT_CHILD_EXITED
            ) from exc
        except START_ERRORS as exc:
            raise CommandError(
                f"could not start: {exc}", returncode=EXIT_START_FAILED
            ) from exc
        except KeyboardInterrupt:
            self.stdout.write("Stopped before startup finished.")

    def start(self, port: int, concurrency: int, servers: list[str]) -> None:
        first_start: FirstStart | None = None
        self.welcomed = False
        try:
            if servers:
                names = " and ".join(servers)
                self.say(f"Starting embedded {names} in {embedded.VAR_DIR}…")
                with launcher.deferred_stop_signals():
                    embedded.start(servers)
            prepare_database()
            first_start = provision_first_start()
            text = welcome(port, first_start)
            connections.close_all()
            self.supervise(port, concurrency, text)
        finally:
            if first_start is not None and not self.welcomed:
                self.say(unshown_secrets(first_start))
            connections.close_all()
            embedded.stop(servers)

    def supervise(self, port: int, concurrency: int, welcome_text: str) -> None:
        supervisor = launcher.Supervisor(
            launcher.platform_children(port, concurrency),
            self.stdout,
            child_environment(port),
            Path(settings.BASE_DIR),
        )
        health_url = f"http://127.0.0.1:{port}/healthz"
        supervisor.run(health_url, lambda: self.welcome(welcome_text))

    def welcome(self, text: str) -> None:
        self.say(text)
        self.welcomed = True

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()


def var_lock(servers: list[str]) -> AbstractContextManager[None]:
    """Let one launcher at a time own the embedded servers of a var folder."""
    if not servers:
        return nullcontext()
    return launcher.single_instance(embedded.VAR_DIR / "up.lock")


def prepare_database() -> None:
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def provision_first_start() -> FirstStart | None:
    """On an empty database, create the demo project, its admin and a dev key."""
    user_model = get_user_model()
    if Project.objects.exists() or user_model.objects.exists():
        return None

    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        project = create_project(DEMO_PROJECT_NAME, DEMO_PROJECT_SLUG)
        environments = list(Environment.objects.filter(project=project))
        for environment in environments:
            copy_known_tasks(environment)
        admin = user_model.objects.create_superuser(ADMIN_USERNAME, "", password)
        project.members.add(admin)
        development = next(
            env for env in environments if env.kind == EnvironmentKind.DEVELOPMENT
        )
        _, secret_key = create_api_key(development, name=QUICKSTART_KEY_NAME)
    return FirstStart(password, secret_key)


def child_environment(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SITE_URL", f"http://localhost:{port}")
    # Children write into pipes; unbuffered output keeps their lines in order.
    env["PYTHONUNBUFFERED"] = "1"
    return env


FIRST_START_TEXT = """
Triggerkit is running.

  Dashboard  {url}/
  Login      {username} / {password}

  Point your backend or the Trigger.dev SDK at it:
    export TRIGGER_SECRET_KEY={secret_key}
    export TRIGGER_API_URL={url}

  Try it:
    curl -X POST $TRIGGER_API_URL/api/v1/tasks/hello-world/trigger \\
      -H "Authorization: Bearer $TRIGGER_SECRET_KEY" \\
      -H 'Content-Type: application/json' -d '{{"payload": {{"name": "Ada"}}}}'

  The password and the key are shown only this once. To get new ones:
{recovery}

Press Ctrl-C to stop.
"""

LATER_START_TEXT = """
Triggerkit is running.

  Dashboard  {url}/
  API        export TRIGGER_API_URL={url}

  The admin password and the secret key were shown at first start; they are
  stored hashed and cannot be shown again. To get new ones:
{recovery}

Press Ctrl-C to stop.
"""

UNSHOWN_SECRETS_TEXT = """
Startup failed after creating the first login and key; note them now:
  Login  {username} / {password}
  export TRIGGER_SECRET_KEY={secret_key}
"""


def welcome(port: int, first_start: FirstStart | None) -> str:
    """The block printed once the web server answers."""
    url = f"http://localhost:{port}"
    if first_start is None:
        return LATER_START_TEXT.format(url=url, recovery=recovery_hints())
    return FIRST_START_TEXT.format(
        url=url,
        username=ADMIN_USERNAME,
        password=first_start.password,
        secret_key=first_start.secret_key,
        recovery=recovery_hints(),
    )


def unshown_secrets(first_start: FirstStart) -> str:
    return UNSHOWN_SECRETS_TEXT.format(
        username=ADMIN_USERNAME,
        password=first_start.password,
        secret_key=first_start.secret_key,
    )


def recovery_hints() -> str:
    manage = manage_command()
    has_demo = Project.objects.filter(slug=DEMO_PROJECT_SLUG).exists()
    slug = DEMO_PROJECT_SLUG if has_demo else "<project-slug>"
    return (
        f"    new key       {manage} create_key {slug} dev\n"
        f"    new password  {manage} changepassword {ADMIN_USERNAME}"
    )


def manage_command() -> str:
    """How to call manage.py with this Python, as the user would type it here."""
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(Path.cwd()))
    except ValueError:
        shown = "python"
    return f"{shown} manage.py"
