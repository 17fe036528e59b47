from django.contrib import admin
from django.urls import include, path

from runs import health
from runs.api.urls import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("", include("dashboard.urls")),
]

handler404 = "runs.api.base.not_found"
