"""The documentation's code samples run, and its reference tables follow the code.

Every fenced block of every page in docs/ is preceded by `<!-- run -->` or
`<!-- no-run: reason -->`. A Python, shell or JavaScript block marked run is
executed here against the live platform, with TRIGGER_SECRET_KEY and
TRIGGER_API_URL set; a no-run reason names the test that exercises the block
when it is a command. Only bench/ writes benchmarks.md: its blocks (query
plans, SQL) carry no marker, and no code language either.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live import BIN, ROOT, free_port, http_ok, wait_until

DOCS = ROOT / "docs"
# Written by `python -m bench`, not by hand.
GENERATED = {"benchmarks.md"}
CODE_LANGUAGES = {
    "python",
    "py",
    "sh",
    "bash",
    "shell",
    "console",
    "js",
    "javascript",
    "mjs",
}
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
MARKER = re.compile(r"<!--\s*(?P<kind>run|no-run)(?::\s*(?P<reason>.*?))?\s*-->")
SAMPLE_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Sample:
    page: str
    line: int
    language: str
    code: str
    marker: str | None
    reason: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def samples_of(path: Path) -> list[Sample]:
    """Every fenced block of the page, with or without a language."""
    lines = path.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent = len(opening["indent"])
        end = index + 1
        while not lines[end].strip().startswith("```"):
            end += 1
        code = "\n".join(line[indent:] for line in lines[index + 1 : end]) + "\n"
        marker = previous_marker(lines, index)
        found.append(
            Sample(
                page=path.name,
                line=index + 1,
                language=opening["lang"],
                code=code,
                marker=marker["kind"] if marker else None,
                reason=(marker["reason"] or "") if marker else "",
            )
        )
        index = end + 1
    return found


def previous_marker(lines: list[str], index: int):
    before = index - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    return MARKER.search(lines[before]) if before >= 0 else None


ALL_SAMPLES = [sample for page in pages() for sample in samples_of(page)]
WRITTEN = [sample for sample in ALL_SAMPLES if sample.page not in GENERATED]
RUNNABLE = [sample for sample in WRITTEN if sample.marker == "run"]


def test_the_docs_have_runnable_samples_in_every_language():
    assert {s.language for s in RUNNABLE} >= {"python", "sh", "js"}
    assert len(RUNNABLE) >= 20
    assert {"schedules.md", "storage.md"} <= {
        s.page for s in RUNNABLE if s.language == "python"
    }


@pytest.mark.parametrize("sample", WRITTEN, ids=lambda s: s.id)
def test_every_fenced_block_runs_or_says_why_not(sample):
    assert sample.marker is not None, (
        f"{sample.id}: mark it <!-- run --> or <!-- no-run: why -->"
    )
    if sample.marker == "run":
        assert sample.language in CODE_LANGUAGES, (
            f"{sample.id}: only Python, shell and JavaScript samples can run"
        )
    else:
        assert sample.reason, f"{sample.id}: a no-run sample says why"
        for path in re.findall(r"tests/[\w/.-]+\.py", sample.reason):
            assert (ROOT / path).exists(), f"{sample.id}: {path} does not exist"


def test_the_generated_benchmarks_page_holds_no_code_samples():
    generated = [s for s in ALL_SAMPLES if s.page in GENERATED]

    assert generated, "benchmarks.md shows its query plans in fenced blocks"
    assert not [s.id for s in generated if s.language in CODE_LANGUAGES]


def test_the_index_lists_every_page():
    index = (DOCS / "README.md").read_text()

    missing = sorted(
        path.name
        for path in pages()
        if path.name != "README.md" and f"]({path.name})" not in index
    )
    assert not missing, f"list in docs/README.md: {missing}"


def daily_report(payload):
    """Stands in for the task of docs/schedules.md, which no worker here runs."""


def register_daily_report(project) -> None:
    """Make `daily-report` a scheduled task of the project, as a worker would.

    Without its cron: a declarative schedule would fire runs no worker knows.
    """
    from runs import engine, worker
    from triggerkit.schedules import ScheduledTask

    environments = list(project.environments.values())
    task = ScheduledTask(daily_report, id="daily-report")
    engine.register_tasks([worker.definition_of(task)], environments)
    worker.register_schedules([task], environments)


def ensure_demo_project() -> None:
    """docs/quickstart.md makes a key for `demo`, the project of the first start."""
    from apikeys.models import Project
    from tests.conftest import create_test_project

    if not Project.objects.filter(slug="demo").exists():
        create_test_project("demo")


@pytest.fixture(scope="module")
def docs_web(platform):
    """A web server whose SITE_URL is its own address, as `triggerkit dev` sets it.

    The session's web server keeps the default SITE_URL, so the presigned URLs
    it signs (docs/storage.md's uploads and downloads) would lead nowhere.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = platform.spawn(
        "docs-web",
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "-k",
            "gthread",
            "--threads",
            "4",
        ],
        env={"SITE_URL": url},
    )
    wait_until(lambda: http_ok(f"{url}/healthz"), process, "docs web server")
    yield url
    process.stop()
    platform.processes.remove(process)


@pytest.fixture(scope="module")
def sample_env(platform, docs_web, live_db):
    from tests.conftest import create_test_project

    keys = create_test_project()
    register_daily_report(keys)
    ensure_demo_project()
    env = {k: v for k, v in platform.env.items() if not k.startswith("TRIGGER_")}
    env.update(
        {
            "TRIGGER_SECRET_KEY": keys.dev,
            "TRIGGER_API_URL": docs_web,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory):
    from tests.interop.node import NODE_MODULES, install_packages

    install_packages()
    folder = tmp_path_factory.mktemp("js-samples")
    (folder / "node_modules").symlink_to(NODE_MODULES)
    return folder


@pytest.mark.parametrize("sample", RUNNABLE, ids=lambda s: s.id)
def test_runnable_sample_succeeds_against_the_live_platform(
    sample, sample_env, tmp_path, request
):
    if sample.language in ("python", "py"):
        script = tmp_path / "sample.py"
        command = [str(BIN / "python"), str(script)]
    elif sample.language in ("js", "javascript", "mjs"):
        script = request.getfixturevalue("node_dir") / f"sample_{sample.line}.mjs"
        command = ["node", str(script)]
    else:
        script = tmp_path / "sample.sh"
        command = ["bash", "-e", "-o", "pipefail", str(script)]
    script.write_text(sample.code)

    done = subprocess.run(
        command,
        cwd=ROOT,
        env=sample_env,
        capture_output=True,
        text=True,
        timeout=SAMPLE_TIMEOUT_SECONDS,
    )

    assert done.returncode == 0, (
        f"{sample.id}\n{sample.code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )


def test_the_http_api_reference_is_generated_from_the_current_openapi_document():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_http_api", DOCS / "tools" / "gen_http_api.py"
    )
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    from runs.api.urls import api

    expected = generator.render(api.get_openapi_schema())
    assert (DOCS / "http-api.md").read_text() == expected, (
        "docs/http-api.md is stale: run `python docs/tools/gen_http_api.py`"
    )


def settings_variables() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    names = set(re.findall(r'env_(?:str|int|bool|list)\(\s*"([A-Z0-9_]+)"', source))
    for module in ("config/embedded.py", "triggerkit/client.py"):
        names |= set(
            re.findall(r'environ\.get\("([A-Z0-9_]+)"', (ROOT / module).read_text())
        )
    return names


def test_the_configuration_reference_lists_every_setting():
    page = (DOCS / "configuration.md").read_text()

    missing = sorted(name for name in settings_variables() if f"`{name}`" not in page)
    assert len(settings_variables()) > 30
    assert not missing, f"document in docs/configuration.md: {missing}"


def test_the_logging_page_lists_every_action_in_the_code():
    page = (DOCS / "logging.md").read_text()
    actions = set()
    for package in (
        "apikeys",
        "runs",
        "dashboard",
        "alerts",
        "observability",
        "triggerkit",
    ):
        for path in (ROOT / package).rglob("*.py"):
            actions |= set(re.findall(r'"action": "([a-z_]+)"', path.read_text()))

    missing = sorted(action for action in actions if f"`{action}`" not in page)
    assert not missing, f"document in docs/logging.md: {missing}"


@pytest.mark.django_db
def test_the_metrics_page_names_every_metric_served(client, monkeypatch, project):
    from prometheus_client.parser import text_string_to_metric_families

    from observability import metrics

    monkeypatch.setattr(metrics, "WORKERS", metrics.WorkersCollector(ping=lambda: 1))
    client.post(
        "/api/v1/tasks/echo/trigger",
        {"payload": {}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {project.dev}",
    )
    page = (DOCS / "metrics.md").read_text()
    served = {
        f.name
        for f in text_string_to_metric_families(client.get("/metrics").content.decode())
    }

    missing = sorted(name for name in served if name not in page)
    assert "triggerkit_api_request_duration_seconds" in served
    assert not missing, f"document in docs/metrics.md: {missing}"
