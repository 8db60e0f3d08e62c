"""A view with a bug, to see what an unhandled error reports to Sentry (tests only)."""

import json

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def broken(request: HttpRequest) -> HttpResponse:
    data = json.loads(request.body)
    raise RuntimeError(f"could not route the message to {data['to']}")


urlpatterns = [path("broken", broken)]
