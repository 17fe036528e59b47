from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard.views import batches, home, keys, queues, run, runs, schedules, tasks

# Every page below lives in one environment of one project: /projects/<slug>/<env>/…
environment_pages = [
    path("runs/", runs.runs_list, name="runs"),
    path("runs/counts/", runs.runs_counts, name="runs-counts"),
    path("runs/estimate/", runs.runs_estimate, name="runs-estimate"),
    path("runs/bulk/", runs.bulk_create, name="bulk-create"),
    path("runs/<str:run_id>/", run.run_page, name="run"),
    path("runs/<str:run_id>/cancel/", run.cancel, name="run-cancel"),
    path("runs/<str:run_id>/replay/", run.replay, name="run-replay"),
    path("runs/<str:run_id>/reschedule/", run.reschedule, name="run-reschedule"),
    path("bulk/<str:bulk_id>/", runs.bulk_page, name="bulk"),
    path("tasks/", tasks.tasks_page, name="tasks"),
    path("tasks/<path:task_id>/test/", tasks.test_task, name="task-test"),
    path("batches/", batches.batches_page, name="batches"),
    path("batches/<str:batch_id>/", batches.batch_page, name="batch"),
    path("schedules/", schedules.schedules_page, name="schedules"),
    path("schedules/new/", schedules.schedule_create, name="schedule-create"),
    path("schedules/<str:schedule_id>/", schedules.schedule_page, name="schedule"),
    path(
        "schedules/<str:schedule_id>/edit/",
        schedules.schedule_edit,
        name="schedule-edit",
    ),
    path(
        "schedules/<str:schedule_id>/delete/",
        schedules.schedule_delete,
        name="schedule-delete",
    ),
    path(
        "schedules/<str:schedule_id>/active/",
        schedules.schedule_active,
        name="schedule-active",
    ),
    path("queues/", queues.queues_page, name="queues"),
    path("queues/<int:queue_id>/pause/", queues.queue_pause, name="queue-pause"),
    path("queues/<int:queue_id>/resume/", queues.queue_resume, name="queue-resume"),
    path("queues/<int:queue_id>/limit/", queues.queue_limit, name="queue-limit"),
    path("keys/", keys.keys_page, name="keys"),
    path("keys/new/", keys.key_create, name="key-create"),
    path("keys/<int:key_id>/revoke/", keys.key_revoke, name="key-revoke"),
    path("keys/<int:key_id>/regenerate/", keys.key_regenerate, name="key-regenerate"),
]

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="dashboard/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", home.home, name="home"),
    path("runs/<str:run_id>", home.run_link, name="run-link"),
    path("runs/<str:run_id>/", home.run_link),
    path("schedules/<str:schedule_id>", schedules.schedule_link, name="schedule-link"),
    path("schedules/<str:schedule_id>/", schedules.schedule_link),
    path("projects/<slug:project>/<str:env>/", include(environment_pages)),
]
