"""`triggerkit dev`: `manage.py up` with a worker that restarts on task-module changes."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from runs import launcher
from runs.management.commands import up
from triggerkit_cli import reloader


class DevCommand(up.Command):
    """The launcher of `manage.py up`, its worker wrapped in the reloader."""

    def __init__(self, watch: list[Path], **kwargs) -> None:
        super().__init__(**kwargs)
        self.watch = watch

    def supervise(self, port: int, concurrency: int, welcome_text: str) -> None:
        children = launcher.platform_children(port, concurrency)
        if self.watch:
            for child in children:
                if child.name == "worker":
                    child.args = reloader.command_line(child.args, self.watch)
            shown = ", ".join(str(path) for path in self.watch)
            welcome_text += (
                f"\nThe worker restarts when a .py file changes under: {shown}\n"
            )
        supervisor = launcher.Supervisor(
            children, self.stdout, up.child_environment(port), Path(settings.BASE_DIR)
        )
        supervisor.run(
            f"http://127.0.0.1:{port}/healthz", lambda: self.welcome(welcome_text)
        )
