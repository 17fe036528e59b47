"""`triggerkit whoami` names the key's project and environment, or says why it cannot."""

import json

from tests.cli.conftest import run_cli
from tests.live import free_port


def test_whoami_names_the_project_and_environment_of_the_key(cli):
    result = cli("whoami")

    slug = cli.project.project.slug
    assert result.code == 0, result.err
    assert f"({slug})" in result.out
    assert "dev (DEVELOPMENT)" in result.out


def test_whoami_json_is_the_api_answer_plus_the_server(cli, platform):
    result = cli("whoami", "--json")

    data = json.loads(result.out)
    assert data["project"]["slug"] == cli.project.project.slug
    assert data["environment"]["kind"] == "DEVELOPMENT"
    assert data["apiUrl"] == platform.url


def test_whoami_with_the_production_key_names_production(cli):
    result = cli("whoami", "--secret-key", cli.project.prod)

    assert result.code == 0
    assert "prod (PRODUCTION)" in result.out


def test_an_unknown_key_exits_3(cli):
    result = cli("whoami", "--secret-key", "tr_dev_" + "x" * 24)

    assert result.code == 3
    assert "invalid api key" in result.err.lower()


def test_no_key_at_all_exits_1_and_says_how_to_give_one(platform):
    result = run_cli("whoami", "--api-url", platform.url)

    assert result.code == 1
    assert "TRIGGER_SECRET_KEY" in result.err


def test_an_unreachable_server_exits_4(cli):
    result = cli(
        "whoami", "--api-url", f"http://127.0.0.1:{free_port()}", "--max-attempts", "1"
    )

    assert result.code == 4
    assert "Could not reach" in result.err
