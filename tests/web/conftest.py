"""Personas and helpers for the dashboard's tests.

owner and teammate are members of `project`; stranger is signed in but a
member only of a project of their own.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User

from apikeys.models import Environment, EnvironmentKind, create_api_key, create_project
from runs import engine, worker
from tests.conftest import ProjectKeys


@pytest.fixture
def project(db) -> ProjectKeys:
    """The suite's test project with only the example tasks registered.

    Registering every test task in three environments takes seconds on a busy
    machine; the dashboard's tests need only what a newcomer sees.
    """
    slug = f"p-{uuid.uuid4().hex[:10]}"
    created = create_project(f"Project {slug[2:6]}", slug)
    environments = {
        env.kind: env for env in Environment.objects.filter(project=created)
    }
    examples = [
        worker.definition_of(task)
        for task in worker.load_task_modules().values()
        if task.func.__module__ == "examples.tasks"
    ]
    engine.register_tasks(examples, list(environments.values()))
    keys = {kind: create_api_key(env)[1] for kind, env in environments.items()}
    return ProjectKeys(
        created,
        keys[EnvironmentKind.DEVELOPMENT],
        keys[EnvironmentKind.STAGING],
        keys[EnvironmentKind.PRODUCTION],
        environments,
    )


@pytest.fixture
def owner(project):
    user = User.objects.create_user("owner", password="owner-password-1")
    project.project.members.add(user)
    return user


@pytest.fixture
def teammate(project):
    user = User.objects.create_user("teammate", password="teammate-password-1")
    project.project.members.add(user)
    return user


@pytest.fixture
def stranger(db):
    user = User.objects.create_user("stranger", password="stranger-password-1")
    create_project("Elsewhere", f"elsewhere-{uuid.uuid4().hex[:8]}").members.add(user)
    return user


@pytest.fixture
def dev(project):
    return project.environments["DEVELOPMENT"]


@pytest.fixture
def prod(project):
    return project.environments["PRODUCTION"]


@pytest.fixture
def as_owner(client, owner):
    client.force_login(owner)
    return client
