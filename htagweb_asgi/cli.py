"""``python -m htagweb_asgi module:App``: serve an App standalone, with several workers;
``python -m htagweb_asgi ps`` and ``kill``: see and end the user processes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from htagweb_asgi import paths
from htagweb_asgi.options import TRANSPORTS
from htagweb_asgi.protocol import control
from htagweb_asgi.protocol.control import MIN_MATCH
from htagweb_asgi.web.host import HtagASGI
from htagweb_asgi.web.server import serve

CONFIG_ENV = "HTAGWEB_ASGI_CLI_CONFIG"  # carries worker_config() to the workers, as JSON


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m htagweb_asgi",
        description="Serve an htag App, each user in their own process.",
        epilog=(
            "operators' commands: 'python -m htagweb_asgi ps' lists the live user processes; "
            "'python -m htagweb_asgi kill MATCH' ends those of a session (MATCH: 6 or more "
            "characters of the SESSION column, or a PID); 'python -m htagweb_asgi roll' ends "
            "the processes still running older App code (--idle SECONDS: only those idle "
            "that long); all take --runtime-dir, and ps and kill --redis-url (default "
            "$HTAGWEB_REDIS_URL) for every node of a cluster."
        ),
    )
    parser.add_argument("app", help="the App as 'module:App' (or a module holding App)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 for everyone)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument("-w", "--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks in pages")
    parser.add_argument("--http-only", action="store_true", help="HTTP interactions, no websocket")
    parser.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="auto",
        help="websocket, falling back to SSE and POST (auto); or only one of them",
    )
    parser.add_argument("--parano", action="store_true", help="encrypt interactions end to end")
    parser.add_argument("--timeout-interaction", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--timeout-inactivity", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--root-path", default="", help="the prefix a proxy strips (uvicorn's)")
    parser.add_argument(
        "--memory-limit", default=None, help="per user process, e.g. 256M (default: none)"
    )
    parser.add_argument(
        "--cpu-limit", type=float, default=None, metavar="SECONDS", help="CPU per interaction"
    )
    parser.add_argument(
        "--metrics", action="store_true", help="serve /_/metrics (Prometheus) to loopback"
    )
    return parser.parse_args(argv)


def worker_config(args: argparse.Namespace) -> dict[str, Any]:
    """What each worker needs of the command line to build its HtagASGI (JSON values)."""
    return {
        "app": args.app,
        "debug": args.debug,
        "http_only": args.http_only,
        "transport": args.transport,
        "parano": args.parano,
        "timeout_interaction": args.timeout_interaction,
        "timeout_inactivity": args.timeout_inactivity,
        "memory_limit": args.memory_limit,
        "cpu_limit": args.cpu_limit,
        "metrics": args.metrics,
    }


def app_from_config(config: dict[str, Any]) -> HtagASGI:
    """The HtagASGI of a worker_config()."""
    return HtagASGI(
        config["app"],
        debug=config["debug"],
        http_only=config["http_only"],
        transport=config["transport"],
        parano=config["parano"],
        timeout_interaction=config["timeout_interaction"],
        timeout_inactivity=config["timeout_inactivity"],
        memory_limit=config.get("memory_limit"),
        cpu_limit=config.get("cpu_limit"),
        metrics=config.get("metrics", False),
    )


def app_from_environment() -> HtagASGI:
    """The uvicorn factory each worker calls: the CLI's options travel in the environment,
    because workers are fresh interpreters that cannot receive Python objects."""
    return app_from_config(json.loads(os.environ[CONFIG_ENV]))


def operate(argv: Sequence[str]) -> int:
    """``ps``: list the live user processes; ``kill MATCH``: end one user's processes;
    ``roll``: end those running older App code."""
    parser = argparse.ArgumentParser(prog="python -m htagweb_asgi")
    parser.add_argument("command", choices=["ps", "kill", "roll"])
    parser.add_argument("match", nargs="?", help="kill: a session hash prefix (>= 6) or a pid")
    parser.add_argument("--runtime-dir", default=None, help="the servers' runtime_dir option")
    parser.add_argument(
        "--idle", type=float, default=0.0, metavar="SECONDS", help="roll: only those idle so long"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("HTAGWEB_REDIS_URL"),
        help="a cluster's Redis: every node's processes (default $HTAGWEB_REDIS_URL)",
    )
    parser.add_argument("--prefix", default="htagweb", help="the cluster's Redis key prefix")
    args = parser.parse_args(argv)
    if args.command == "roll":
        ending = control.roll(args.runtime_dir or paths.default_base(), args.idle)
        sys.stdout.write(f"ending {ending} process(es) running older App code\n")
        return 0
    if args.command == "kill" and not args.match:
        parser.error("kill needs a session hash prefix or a pid")
    if args.redis_url and not args.runtime_dir:
        from htagweb_asgi.cluster import operations

        found, ended = operations.run(args.redis_url, args.prefix, args.command, args.match)
    else:
        base = args.runtime_dir or paths.default_base()
        found = control.listings(base) if args.command == "ps" else []
        ended = control.kill(base, args.match) if args.command == "kill" else 0
    if args.command == "ps":
        sys.stdout.write(format_listings(found) + "\n")
        return 0
    sys.stdout.write(f"ended {ended} process(es)\n")
    if not ended:
        sys.stderr.write(_why_nothing_matched(args.match) + "\n")
    return 0 if ended else 1


def _why_nothing_matched(match: str) -> str:
    if not match.isdigit() and len(match) < MIN_MATCH:
        return (
            f"{match!r} is too short to name a session: give at least {MIN_MATCH} characters "
            "of the SESSION column of 'ps', or a PID"
        )
    return f"no live user process has the session prefix or PID {match!r} (see 'ps')"


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("ps", "kill", "roll"):
        sys.exit(operate(argv))
    args = parse_args(argv)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # find 'module' in the current directory, like uvicorn
    config = worker_config(args)
    app_from_config(config)  # fail here, once, on bad options rather than in every worker
    os.environ[CONFIG_ENV] = json.dumps(config)
    serve(
        "htagweb_asgi.cli:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        root_path=args.root_path,
        debug=args.debug,
        ws_per_message_deflate=not args.parano,  # ciphertext does not compress: don't try
    )


def _megabytes(value: int | None) -> str:
    return f"{value / 1048576:.1f}M" if value is not None else "-"


HEADER = (
    *("APP", "WHERE", "NODE", "TEMPLATE", "WORKERS", "SESSION", "PID", "STATE"),
    *("AGE", "IDLE", "PAGES", "MEM", "LIMIT", "CPU", "RSS", "USS"),
)


def _row(template: dict[str, Any], proc: dict[str, Any] | None) -> tuple[str, ...]:
    common = (
        template["app"],
        template["label"],
        str(template.get("node", "-")),
        str(template["pid"]),
        str(template["workers"]),
    )
    if proc is None:
        return (*common, *("-",) * (len(HEADER) - len(common)))
    limit = template.get("limits", {}).get("memory_limit")
    cpu = proc.get("cpu")
    return (
        *common,
        proc["key"] or "-",
        str(proc["pid"]),
        proc.get("state", "attached").replace(" ", "-"),
        f"{proc['age']:.0f}s",
        f"{proc['idle']:.0f}s",
        str(proc.get("pages", "-")),
        _megabytes(proc.get("mem")),
        _megabytes(limit),
        f"{cpu:.1f}s" if cpu is not None else "-",
        _megabytes(proc.get("rss")),
        _megabytes(proc.get("uss")),
    )


def _notes(template: dict[str, Any]) -> list[str]:
    """What a table row cannot say: the limits and how they are enforced, a server gone."""
    limits = template.get("limits", {})
    parts = []
    if limits.get("memory_limit") is not None:
        events = limits.get("events", {})
        how = limits["mechanism"] + (f" ({limits['rlimit']})" if limits.get("rlimit") else "")
        parts.append(
            f"memory_limit {_megabytes(limits['memory_limit'])} by {how}, "
            f"reached {events.get('memory', 0)} time(s)"
        )
    if limits.get("cpu_limit") is not None:
        reached = limits.get("events", {}).get("cpu", 0)
        parts.append(
            f"cpu_limit {limits['cpu_limit']:g} s per interaction by RLIMIT_CPU, "
            f"reached {reached} time(s)"
        )
    waiting = template.get("waiting_for_server")
    if waiting is not None:
        parts.append(f"its server is gone: the processes end in {waiting:.0f} s unless it returns")
    return [f"{template['app']} at {template['label']}: {part}" for part in parts]


def format_listings(found: list[dict[str, Any]]) -> str:
    """The table ``ps`` prints: one row per process (user processes, then those ending and
    the spares), then one line per limit or condition of a template."""
    rows: list[tuple[str, ...]] = [HEADER]
    notes: list[str] = []
    for template in found:
        procs = [*template["processes"], *template.get("others", [])]
        rows.extend(_row(template, proc) for proc in procs or [None])
        notes.extend(_notes(template))
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    table = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(table + (["", *notes] if notes else []))
