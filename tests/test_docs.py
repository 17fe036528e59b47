"""The documentation's code samples run, and its reference tables follow the code.

A fenced sample in docs/*.md is preceded by `<!-- run -->` (executed here
against the live platform, with TRIGGER_SECRET_KEY and TRIGGER_API_URL set)
or `<!-- no-run: reason -->`, whose reason names the test that exercises it
when it is a command. Python, shell and JavaScript samples must carry one.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live import BIN, ROOT

DOCS = ROOT / "docs"
# Pages other engineers write and test themselves.
NOT_OURS = {"schedules.md", "dashboard.md", "reliability.md", "storage.md"}
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
    return sorted(
        path
        for path in DOCS.glob("*.md")
        if path.name not in NOT_OURS and not path.name.startswith("benchmarks")
    )


def samples_of(path: Path) -> list[Sample]:
    lines = path.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening or not opening["lang"]:
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
RUNNABLE = [sample for sample in ALL_SAMPLES if sample.marker == "run"]


def test_the_docs_have_runnable_samples_in_every_language():
    assert {s.language for s in RUNNABLE} >= {"python", "sh", "js"}
    assert len(RUNNABLE) >= 20


@pytest.mark.parametrize(
    "sample",
    [s for s in ALL_SAMPLES if s.language in CODE_LANGUAGES],
    ids=lambda s: s.id,
)
def test_every_code_sample_runs_or_says_why_not(sample):
    assert sample.marker is not None, (
        f"{sample.id}: mark it <!-- run --> or <!-- no-run: why -->"
    )
    if sample.marker == "no-run":
        assert sample.reason, f"{sample.id}: a no-run sample says why"
        for path in re.findall(r"tests/[\w/.-]+\.py", sample.reason):
            assert (ROOT / path).exists(), f"{sample.id}: {path} does not exist"


@pytest.fixture(scope="module")
def sample_env(platform, live_db):
    from tests.conftest import create_test_project

    keys = create_test_project()
    env = {k: v for k, v in platform.env.items() if not k.startswith("TRIGGER_")}
    env.update(
        {
            "TRIGGER_SECRET_KEY": keys.dev,
            "TRIGGER_API_URL": platform.url,
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
