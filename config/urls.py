from django.contrib import admin
from django.urls import include, path

from observability.metrics import metrics_view
from runs import health, packet_views
from runs.api.urls import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", metrics_view, name="metrics"),
    path("alerts/", include("alerts.urls")),
    path("runs/<str:run_id>/packets/<str:field>", packet_views.run_packet, name="run-packet"),
    path("", include("dashboard.urls")),
]

handler404 = "runs.api.base.not_found"
handler500 = "runs.api.base.server_error"
