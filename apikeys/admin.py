from django.contrib import admin

from apikeys.models import ApiKey, Environment, Project


class EnvironmentInline(admin.TabularInline):
    model = Environment
    extra = 0
    fields = ["kind", "concurrency_limit"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    inlines = [EnvironmentInline]
    filter_horizontal = ["members"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    # The secret itself is never stored; only its mask is shown.
    list_display = ["masked", "name", "environment", "created_at", "last_used_at", "revoked_at"]
    fields = ["environment", "name", "created_at", "last_used_at", "revoked_at", "expires_at"]
    readonly_fields = ["environment", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False
