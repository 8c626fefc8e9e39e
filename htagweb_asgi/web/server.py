"""Standalone serving with uvicorn: ``HtagASGI(App).run()`` and the command line (cli.py)."""

from __future__ import annotations

import logging
from typing import Any


def _require_uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "serving standalone needs uvicorn: pip install 'htagweb-asgi[server]'"
        ) from exc
    return uvicorn


def _show_our_logs(debug: bool) -> None:
    """Standalone, we are the program: show our log lines beside uvicorn's."""
    ours = logging.getLogger("htagweb_asgi")
    if not ours.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        ours.addHandler(handler)
    ours.setLevel(logging.DEBUG if debug else logging.INFO)


def serve(app: Any, *, host: str, port: int, debug: bool, **options: Any) -> None:
    """Run `app` (an ASGI app, or an import string with ``factory=True``) under uvicorn."""
    uvicorn = _require_uvicorn()
    _show_our_logs(debug)
    uvicorn.run(app, host=host, port=port, **options)
