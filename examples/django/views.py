"""The Django side of the example: a home page (log in, log out) and a JSON route."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def api_time(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"time": time.time()})
