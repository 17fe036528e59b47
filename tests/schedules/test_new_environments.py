"""An environment created while workers run gets the declarative schedules at once."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apikeys.models import Environment, Project, create_project
from runs.engine import copy_known_tasks, schedules
from runs.models import Schedule, ScheduleType, Task
from tests.schedules.conftest import (
    DIGEST,
    NIGHTLY,
    nightly_cleanup,
    register_scheduled_tasks,
)
from triggerkit.schedules import ScheduledTask

PROD_ONLY = ScheduledTask(
    nightly_cleanup,
    id="prod-report",
    cron="30 6 * * 1-5",
    timezone="Europe/Paris",
    environments=["PRODUCTION"],
)


def declarative(environment):
    return {
        schedule.task_identifier: schedule
        for schedule in Schedule.objects.filter(
            environment=environment, type=ScheduleType.DECLARATIVE
        )
    }


def new_project(slug):
    """A project made as `create_project` does while workers run elsewhere."""
    project = create_project(slug, slug)
    environments = {
        env.kind: env for env in Environment.objects.filter(project=project)
    }
    for environment in environments.values():
        copy_known_tasks(environment)
    return environments


@pytest.fixture
def running(project):
    """Workers declaring the crons have started, and synced the existing project."""
    register_scheduled_tasks(
        list(project.environments.values()), (DIGEST, NIGHTLY, PROD_ONLY)
    )
    return project


def test_a_new_environment_gets_the_declarative_schedules_of_its_kind(running):
    environments = new_project("later")

    development = declarative(environments["DEVELOPMENT"])
    production = declarative(environments["PRODUCTION"])
    assert set(development) == {"nightly-cleanup"}
    assert set(production) == {"nightly-cleanup", "prod-report"}
    report = production["prod-report"]
    assert (report.cron, report.timezone, report.active) == (
        "30 6 * * 1-5",
        "Europe/Paris",
        True,
    )
    assert report.next_run_at == schedules.upcoming(report)[0]
    assert report.next_run_at > timezone.now()
    scheduled = Task.objects.filter(
        environment=environments["DEVELOPMENT"], is_scheduled=True
    )
    assert set(scheduled.values_list("slug", flat=True)) >= {
        "nightly-cleanup",
        "user-digest",
    }


def test_a_user_deactivation_elsewhere_is_not_copied(running):
    source = declarative(running.environments["DEVELOPMENT"])["nightly-cleanup"]
    schedules.set_schedule_active(source, False)

    environments = new_project("later")

    assert declarative(environments["DEVELOPMENT"])["nightly-cleanup"].active


def test_copying_twice_adds_nothing_and_a_worker_start_keeps_one_each(running):
    environments = new_project("later")
    production = environments["PRODUCTION"]

    assert schedules.copy_declarative_schedules(production) == 0
    register_scheduled_tasks(list(environments.values()), (DIGEST, NIGHTLY, PROD_ONLY))

    assert sorted(
        Schedule.objects.filter(
            environment=production, type=ScheduleType.DECLARATIVE
        ).values_list("task_identifier", flat=True)
    ) == ["nightly-cleanup", "prod-report"]


def test_the_create_project_command_gives_the_schedules(running):
    call_command("create_project", "Later", "--slug", "later", stdout=StringIO())

    project = Project.objects.get(slug="later")
    production = project.environments.get(kind="PRODUCTION")
    assert set(declarative(production)) == {"nightly-cleanup", "prod-report"}


def test_an_imperative_schedule_is_not_copied(running):
    development = running.environments["DEVELOPMENT"]
    schedules.create_schedule(
        development, task_identifier="user-digest", cron="0 8 * * *"
    )

    environments = new_project("later")

    assert not Schedule.objects.filter(
        environment=environments["DEVELOPMENT"], type=ScheduleType.IMPERATIVE
    ).exists()
