"""The alert settings page: members edit their environments, strangers get 404."""

import pytest
from django.contrib.auth import get_user_model

from alerts.models import AlertSettings


@pytest.fixture
def owner(project):
    user = get_user_model().objects.create_user("owner", password="pw-owner-123")
    project.project.members.add(user)
    return user


@pytest.fixture
def stranger(db):
    return get_user_model().objects.create_user("stranger", password="pw-stranger-123")


def dev_env(project):
    return project.environments["DEVELOPMENT"]


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/alerts/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_a_member_sees_each_environment_of_the_project(client, owner, project):
    client.force_login(owner)

    response = client.get("/alerts/")

    assert response.status_code == 200
    html = response.content.decode()
    for slug in ("dev", "stg", "prod"):
        assert f"{project.project.name} · {slug}" in html


@pytest.mark.django_db
def test_a_member_saves_a_webhook_and_recipients(client, owner, project):
    client.force_login(owner)
    env = dev_env(project)
    prefix = f"env-{env.pk}"

    response = client.post(
        f"/alerts/{env.pk}/",
        {
            f"{prefix}-webhook_url": "https://hooks.example.com/x",
            f"{prefix}-emails": "a@example.com\nb@example.com",
        },
    )

    assert response.status_code == 302
    saved = AlertSettings.objects.get(environment=env)
    assert saved.webhook_url == "https://hooks.example.com/x"
    assert saved.recipients == ["a@example.com", "b@example.com"]


@pytest.mark.django_db
def test_an_htmx_save_answers_with_the_environment_fragment(client, owner, project):
    client.force_login(owner)
    env = dev_env(project)

    response = client.post(
        f"/alerts/{env.pk}/",
        {f"env-{env.pk}-emails": "ops@example.com"},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Saved." in html and "<html" not in html


@pytest.mark.django_db
def test_an_invalid_address_is_refused_and_nothing_saved(client, owner, project):
    client.force_login(owner)
    env = dev_env(project)

    response = client.post(
        f"/alerts/{env.pk}/", {f"env-{env.pk}-emails": "ops@example.com, nope"}
    )

    assert response.status_code == 400
    assert "is not an e-mail address" in response.content.decode()
    assert not AlertSettings.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/alerts/{}/", "/alerts/{}/test/"], ids=["save", "test alert"]
)
def test_a_stranger_gets_404_for_another_projects_environment(
    client, stranger, project, path
):
    client.force_login(stranger)

    response = client.post(path.format(dev_env(project).pk), {})

    assert response.status_code == 404
