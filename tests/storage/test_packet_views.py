"""The dashboard's link to a stored payload or output: members only, a fresh URL each time."""

import pytest
from django.contrib.auth import get_user_model

from runs.models import Run
from tests.conftest import create_test_project


@pytest.fixture
def stored_run(api):
    run_id = api.trigger("echo", "x" * (600 * 1024)).json()["id"]
    return Run.objects.get(pk=run_id)


@pytest.fixture
def owner(project):
    user = get_user_model().objects.create_user("owner", password="pw-owner-123")
    project.project.members.add(user)
    return user


@pytest.fixture
def stranger(db):
    user = get_user_model().objects.create_user("stranger", password="pw-stranger-123")
    create_test_project().project.members.add(user)
    return user


def test_a_member_is_redirected_to_a_presigned_url_of_the_payload(
    client, api, owner, stored_run
):
    client.force_login(owner)

    response = client.get(f"/runs/{stored_run.pk}/packets/payload")

    assert response.status_code == 302
    fetched = api.fetch(response["Location"])
    assert fetched.status_code == 200
    assert len(fetched.content) == 600 * 1024 + 2


def test_each_visit_gets_a_fresh_url(client, owner, stored_run, settings):
    client.force_login(owner)
    settings.TRIGGERKIT_PRESIGNED_URL_SECONDS = 60
    first = client.get(f"/runs/{stored_run.pk}/packets/payload")["Location"]
    settings.TRIGGERKIT_PRESIGNED_URL_SECONDS = 120
    second = client.get(f"/runs/{stored_run.pk}/packets/payload")["Location"]

    assert first != second


def test_a_user_of_another_project_gets_404(client, stranger, stored_run):
    client.force_login(stranger)

    assert client.get(f"/runs/{stored_run.pk}/packets/payload").status_code == 404


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, stored_run):
    response = client.get(f"/runs/{stored_run.pk}/packets/payload")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("field", ["output", "logs"])
def test_a_value_not_in_the_object_store_is_404(client, owner, stored_run, field):
    client.force_login(owner)

    assert client.get(f"/runs/{stored_run.pk}/packets/{field}").status_code == 404
