"""Admin pages: tasks, queues and batches; runs are read-only (use the engine to change them)."""

from __future__ import annotations

from django.contrib import admin

from runs.models import Attempt, Batch, Queue, Run, Task


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["slug", "environment", "queue", "file_path", "registered_at"]
    list_filter = ["environment"]
    search_fields = ["slug"]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "concurrency_limit", "paused"]
    list_filter = ["environment", "paused"]
    fields = ["concurrency_limit", "paused"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    fields = ["number", "status", "started_at", "finished_at", "worker"]
    readonly_fields = fields
    can_delete = False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["id", "task_identifier", "status", "environment", "created_at", "finished_at"]
    list_filter = ["status", "environment"]
    search_fields = ["id", "task_identifier", "idempotency_key"]
    show_full_result_count = False
    inlines = [AttemptInline]
    raw_id_fields = ["parent_run", "root_run", "replayed_from", "batch"]


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "environment", "status", "run_count", "created_at"]
    list_filter = ["status"]
