"""The example's Django app: at login and logout, the htag App's processes of the session
that ends are ended, and the logged-in user is copied into the session for the App."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class ExampleConfig(AppConfig):
    name = "examples.django"
    label = "htag_example"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from examples.django.shared import sessions

        sessions.connect_auth_signals()
        user_logged_in.connect(remember_user, dispatch_uid="examples.django.remember_user")


def remember_user(sender: type, request: Any, user: Any, **_: Any) -> None:
    """What the App shows: a small copy of the user (JSON, like every session value). Django's
    logout flushes the session, and this with it."""
    request.session["user"] = {"username": user.get_username(), "name": user.get_full_name()}
