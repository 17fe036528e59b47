"""The alert settings page: each environment of the user's projects, and recent alerts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from alerts import delivery
from alerts.forms import AlertSettingsForm
from alerts.models import Alert, AlertSettings
from apikeys.models import Environment

RECENT_ALERTS = 20


def visible_environments(request: HttpRequest):
    return (
        Environment.objects.filter(project__members=request.user)
        .select_related("project")
        .order_by("project__name", "kind")
    )


def form_for(environment: Environment, data=None) -> AlertSettingsForm:
    instance = AlertSettings.objects.filter(environment=environment).first()
    instance = instance or AlertSettings(environment=environment)
    return AlertSettingsForm(data, instance=instance, prefix=f"env-{environment.pk}")


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    environments = list(visible_environments(request))
    sections = [{"environment": env, "form": form_for(env)} for env in environments]
    alerts = (
        Alert.objects.filter(environment__in=environments)
        .select_related("environment__project")
        .order_by("-id")[:RECENT_ALERTS]
    )
    return render(
        request, "alerts/settings.html", {"sections": sections, "alerts": alerts}
    )


@login_required
@require_POST
def update(request: HttpRequest, environment_id: int) -> HttpResponse:
    environment = get_object_or_404(visible_environments(request), pk=environment_id)
    form = form_for(environment, request.POST)
    saved = form.is_valid()
    if saved:
        form.save()
    section = {"environment": environment, "form": form, "saved": saved}
    if request.htmx:
        return render(request, "alerts/settings.html#environment", {"section": section})
    if saved:
        return redirect("alerts:settings")
    return render(
        request,
        "alerts/settings.html",
        {"sections": [section], "alerts": []},
        status=400,
    )


@login_required
@require_POST
def send_test(request: HttpRequest, environment_id: int) -> HttpResponse:
    environment = get_object_or_404(visible_environments(request), pk=environment_id)
    delivery.send_test(environment.pk)
    return redirect("alerts:settings")
