"""htag 2's own runner serving the htag 2 counter: ``uvicorn bench.hosts.htag2_runner:app``.

Runs in bench/.venv-htag2-runner, with ``starlette<1``: htag 2's ``WebApp()`` calls
Starlette's ``add_websocket_route``, which Starlette 1.x removed. Every session's App lives
in this one process, in ``WebApp.instances``; only ``?n`` ever removes one.
"""

from __future__ import annotations

from htag import WebApp

from bench.apps.counter2 import App

runner = WebApp(App, debug=False)
app = runner.app
