"""The floor: htag 1.0's own in-process runner, one shared App instance, no process hop.

``python -m bench.hosts.floor PORT`` serves bench.apps.counter:App on 127.0.0.1:PORT with
``htag.runners.Runner`` (websocket interactions, ``interface=0``: no browser is opened).
"""

from __future__ import annotations

import sys

from htag.runners import Runner

from bench.apps.counter import App


def main() -> None:
    port = int(sys.argv[1])
    Runner(App, host="127.0.0.1", port=port, interface=0).run()


if __name__ == "__main__":
    main()
