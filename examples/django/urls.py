"""Django's URLs. The htag App's /ui/ is routed before Django sees the request (see asgi.py)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from examples.django import views

urlpatterns = [
    path("", views.home),
    path("api/time", views.api_time),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),  # POST
    # Under Channels, path("ui/", ...) does not match /ui: send it to /ui/ (relative, so it
    # also works below a proxy prefix). With the plain Dispatcher, HtagASGI redirects itself.
    path("ui", RedirectView.as_view(url="ui/")),
]
