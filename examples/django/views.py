"""The Django side of the example: a home page and a JSON route beside the htag App."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse, JsonResponse


def home(request: HttpRequest) -> HttpResponse:
    links = "<a href='ui/'>Open the htag App</a> · <a href='api/time'>JSON</a>"
    return HttpResponse(f"<h1>Django home</h1><p>{links}</p>")


def api_time(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"time": time.time()})
