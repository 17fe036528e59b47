"""`manage.py create_key`: a new secret key for one environment, printed once."""

import io

import pytest
from django.core.management import CommandError, call_command

from apikeys.models import ApiKey, EnvironmentKind, create_project


@pytest.fixture
def acme(db):
    return create_project("Acme", "acme")


def create_key(*args) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_key", *args, stdout=out, stderr=err)
    assert "shown only once" in err.getvalue()
    return out.getvalue().strip()


@pytest.mark.parametrize(
    ("environment", "prefix", "kind"),
    [
        pytest.param("dev", "tr_dev_", EnvironmentKind.DEVELOPMENT, id="dev"),
        pytest.param("stg", "tr_stg_", EnvironmentKind.STAGING, id="stg"),
        pytest.param("prod", "tr_prod_", EnvironmentKind.PRODUCTION, id="prod"),
    ],
)
def test_it_prints_a_key_of_its_environment_that_authenticates(
    client, acme, environment, prefix, kind
):
    key = create_key("acme", environment)

    response = client.get("/api/v1/runs", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert key.startswith(prefix)
    assert response.status_code == 200, response.content
    stored = ApiKey.objects.get()
    assert stored.environment.project == acme
    assert stored.environment.kind == kind
    assert stored.last_used_at is not None


def test_it_stores_only_a_hash_of_the_key(acme):
    key = create_key("acme", "dev")

    stored = ApiKey.objects.get()
    assert key not in (stored.key_hash, stored.prefix, stored.last_four)
    assert stored.last_four == key[-4:]


def test_it_names_the_key(acme):
    create_key("acme", "prod", "--name", "ci")

    assert ApiKey.objects.get().name == "ci"


def test_it_leaves_other_keys_working(client, acme):
    first = create_key("acme", "dev")
    second = create_key("acme", "dev")

    for key in (first, second):
        response = client.get("/api/v1/runs", HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 200


def test_it_rejects_an_unknown_project(acme):
    with pytest.raises(CommandError, match="no project with slug 'nope'.*acme"):
        call_command("create_key", "nope", "dev")

    assert not ApiKey.objects.exists()


def test_it_rejects_an_unknown_environment(acme):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_key", "acme", "preview")

    assert not ApiKey.objects.exists()


def test_it_rejects_an_overlong_name(acme):
    with pytest.raises(CommandError, match="--name"):
        call_command("create_key", "acme", "dev", "--name", "x" * 101)

    assert not ApiKey.objects.exists()
