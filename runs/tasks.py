"""Celery tasks: thin, they take ids and call the engine or the worker runtime."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_init
from django.db import close_old_connections, connections


@shared_task(name="triggerkit.execute_run", acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    from runs import worker

    close_old_connections()
    try:
        worker.execute(run_id)
    finally:
        close_old_connections()


@worker_init.connect
def register_tasks_on_start(**kwargs) -> None:
    from runs import worker

    worker.register_loaded_tasks()
    # Pool processes fork from here: none may inherit this connection.
    connections.close_all()


@shared_task(name="triggerkit.bulk_action", ignore_result=True)
def bulk_action(bulk_action_id: str) -> None:
    from runs.engine import bulk

    close_old_connections()
    try:
        bulk.perform_bulk_action(bulk_action_id)
    finally:
        close_old_connections()
