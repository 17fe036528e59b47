"""Install the `bench` extra of pyproject.toml when one of its packages is missing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_MODULES = (
    "matplotlib",
    "procrastinate",
    "django_celery_results",
    "pyinstrument",
    "psutil",
)


def missing_modules() -> list[str]:
    return [name for name in BENCH_MODULES if importlib.util.find_spec(name) is None]


def ensure_installed() -> None:
    missing = missing_modules()
    if not missing:
        return
    print(f"installing the bench extra (missing: {', '.join(missing)})", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "-e", f"{ROOT}[bench]"],
        check=True,
    )
