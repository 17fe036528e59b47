"""Task ids as long as the API allows (128 characters) trigger like any other."""

from runs import engine
from runs.models import Run

LONGEST_ID = "t" * 120 + "-long-id"


def test_the_longest_task_id_of_an_unknown_task_waits_in_its_own_queue(api):
    response = api.trigger(LONGEST_ID, {"n": 1})

    assert response.status_code == 200, response.content
    run = Run.objects.get(pk=response.json()["id"])
    assert run.status == "PENDING_VERSION"
    assert run.queue.name == f"task/{LONGEST_ID}"


def test_the_longest_task_id_of_a_registered_task_is_queued(api, project):
    environment = project.environments["DEVELOPMENT"]
    engine.register_tasks(
        [engine.TaskDefinition(slug=LONGEST_ID, queue_name=f"task/{LONGEST_ID}")],
        [environment],
    )

    response = api.trigger(LONGEST_ID, {"n": 1})

    assert response.status_code == 200, response.content
    run = Run.objects.get(pk=response.json()["id"])
    assert run.status == "QUEUED"
    assert run.task_identifier == LONGEST_ID


def test_one_character_more_is_refused(api):
    response = api.trigger(LONGEST_ID + "x", {"n": 1})

    assert response.status_code == 400
    assert not Run.objects.exists()
