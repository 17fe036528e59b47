from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("<int:environment_id>/", views.update, name="update"),
    path("<int:environment_id>/test/", views.send_test, name="test"),
]
