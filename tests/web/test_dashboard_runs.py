"""The runs page shows a member the runs of their projects, and nobody else's."""

import pytest
from django.contrib.auth.models import User

from runs.engine import TriggerSpec, trigger_run


@pytest.fixture
def owner(project):
    user = User.objects.create_user("owner", password="pw-owner-123")
    project.project.members.add(user)
    return user


@pytest.fixture
def stranger(db):
    return User.objects.create_user("stranger", password="pw-stranger-123")


def test_it_asks_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_member_sees_the_runs_of_their_project(client, owner, project):
    run = trigger_run(project.environments["DEVELOPMENT"], "hello-world", TriggerSpec()).run
    client.force_login(owner)

    response = client.get("/")

    assert response.status_code == 200
    assert run.pk in response.content.decode()


def test_a_stranger_sees_no_runs_of_the_project(client, stranger, project):
    run = trigger_run(project.environments["DEVELOPMENT"], "hello-world", TriggerSpec()).run
    client.force_login(stranger)

    response = client.get("/")

    assert run.pk not in response.content.decode()
    assert "No runs yet" in response.content.decode()


def test_htmx_refresh_returns_only_the_table(client, owner, project):
    client.force_login(owner)

    response = client.get("/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert 'id="runs"' in response.content.decode()
