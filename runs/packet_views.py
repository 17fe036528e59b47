"""The dashboard's download link for a payload or output kept in the object store."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from runs import storage
from runs.models import Run


@login_required
@require_GET
def run_packet(request: HttpRequest, run_id: str, field: str) -> HttpResponse:
    """Redirect to a fresh presigned URL of a run's stored payload or output.

    Runs of projects the user is not a member of answer 404, as if they did not exist.
    """
    run = Run.objects.filter(
        pk=run_id, environment__project__members=request.user
    ).first()
    if run is None:
        raise Http404("No such run")
    packet = storage.run_packet(run, field)
    if packet is None:
        raise Http404(f"This run has no {field} in the object store")
    return redirect(storage.download_url(packet.key))
