"""The servers under test: start one on loopback, know when it is ready, stop it by its pid.

Targets:
- ours-1w / ours-4w: ``uvicorn bench.hosts.ours:app`` with 1 or 4 workers (bench/.venv);
- ours-portable: ours-1w on the portable path (``HTAGWEB_PORTABLE=1``: Windows' model);
- htagweb: ``uvicorn bench.hosts.htagweb_host:app`` in bench/.venv-htagweb, in the sandbox;
- floor: ``python -m bench.hosts.floor PORT`` (htag's own Runner, bench/.venv);
- for bench/htag2: ours2 (``bench.hosts.ours2:app``) and runner (htag 2's ``WebApp``).

Both uvicorn targets use the same server options (uvloop, httptools where installed, the
``websockets`` implementation), so the hosts differ, not the HTTP servers.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench import procs, sandbox

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
LEFTOVER_TIMEOUT = 15.0  # our template stops its users ~1 s (lease grace) after the server


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "ours", "htagweb" or "floor": which host, which client protocol
    label: str
    workers: int = 1
    env: tuple[tuple[str, str], ...] = ()  # in its server's environment


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("ours-1w", "ours", "htagweb-asgi, 1 worker"),
        Target("htagweb", "htagweb", "htagweb 1.0.0"),
        Target("floor", "floor", "floor: htag Runner"),
        Target("ours-4w", "ours", "htagweb-asgi, 4 workers", workers=4),
        # the process model of Windows (spawned processes, loopback TCP), forced on Linux
        Target(
            "ours-portable",
            "ours",
            "htagweb-asgi, 1 worker, portable path",
            env=(("HTAGWEB_PORTABLE", "1"),),
        ),
    )
}


@dataclass(frozen=True)
class Pythons:
    """The interpreters of bench/.venv (ours, the floor) and bench/.venv-htagweb; for the
    htag 2 bench (bench/htag2), ours is bench/.venv-htag2 and `runner` htag 2's own."""

    ours: str
    htagweb: str | None
    runner: str | None = None


def sandbox_keeps(python: str) -> list[Path]:
    """What htagweb's sandbox must still show of the real /tmp (a clone under /tmp): this
    clone (the bench's code, on PYTHONPATH) and the venv of `python`."""
    return [ROOT, Path(python).parents[1]]


@functools.cache
def has_module(python: str, module: str) -> bool:
    done = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
    return done.returncode == 0


def uvicorn_args(python: str, app: str, port: int, workers: int) -> list[str]:
    """uvicorn binds the port itself: with ``--fd`` it takes the socket for a unix one and
    leaves Nagle on (measured: +40-50 ms on a new user's websocket, the delayed-ACK stall)."""
    http = "httptools" if has_module(python, "httptools") else "h11"
    loop = "uvloop" if has_module(python, "uvloop") else "asyncio"
    args = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    args += ["--loop", loop, "--http", http]
    args += ["--ws", "websockets", "--log-level", "info", "--no-access-log"]
    return args + (["--workers", str(workers)] if workers > 1 else [])


class PortTaken(Exception):
    """Another process bound the port between our probe and the server's bind."""


def _free_port() -> int:
    """A port free right now on loopback (the server binds it itself: a short race)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One running server of `target`; its processes carry `marker` in their environment."""

    target: Target
    pythons: Pythons
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)  # for this scenario's server
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    leftovers: int = 0  # marked processes still alive after the stop (then killed by pid)
    _scratch: str = ""
    _log_start = 0  # where this start's lines begin in the (appended) log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        """Start on a free loopback port (retried if another process takes it first)."""
        for attempt in range(3):
            self.port = _free_port()
            try:
                self._start_once()
                return self
            except PortTaken:
                self._scratch_cleanup()
                if attempt == 2:
                    raise
        return self

    def _start_once(self) -> None:
        self._scratch = tempfile.mkdtemp(prefix="hwb-")  # 0700: our runtime dir needs that
        env = dict(os.environ, PYTHONPATH=str(ROOT), **{procs.MARKER: self.marker}, **self.env)
        env.update(self.target.env)
        env["HTAGWEB_BENCH_RUNTIME"] = self._scratch
        # a stopped server's processes end at once (the bench measures serving, not restarts:
        # by default they would wait 60 s for a restarted server to adopt them)
        env["HTAGWEB_RESTART_GRACE"] = "0"
        if self.target.kind == "floor":
            command = [self.pythons.ours, "-m", "bench.hosts.floor", str(self.port)]
        else:
            command = self._uvicorn_command()
        with open(self.log_path, "ab") as log:
            self._log_start = log.tell()
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _uvicorn_command(self) -> list[str]:
        port, workers = self.port, self.target.workers
        if self.target.kind == "ours":
            return uvicorn_args(self.pythons.ours, "bench.hosts.ours:app", port, workers)
        if self.target.kind == "ours2":
            return uvicorn_args(self.pythons.ours, "bench.hosts.ours2:app", port, workers)
        if self.target.kind == "runner":
            if self.pythons.runner is None:
                raise RuntimeError("htag 2's runner venv is missing")
            return uvicorn_args(self.pythons.runner, "bench.hosts.htag2_runner:app", port, 1)
        if self.pythons.htagweb is None:
            raise RuntimeError("htagweb's venv is missing")
        private_tmp = os.path.join(self._scratch, "tmp")
        os.mkdir(private_tmp)
        os.chmod(private_tmp, 0o1777)
        app = "bench.hosts.htagweb_host:app"
        command = uvicorn_args(self.pythons.htagweb, app, port, 1)
        return sandbox.sandboxed(command, private_tmp, sandbox_keeps(self.pythons.htagweb))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                log = self.log()[self._log_start :][-3000:]
                if "address already in use" in log.lower():
                    raise PortTaken(log)
                raise RuntimeError(f"{self.target.name} exited at start:\n{log}")
            if self._ready():
                return
            time.sleep(0.05)  # polling the log or the port, bounded by the deadline
        raise TimeoutError(f"{self.target.name} not ready in {READY_TIMEOUT} s:\n{self.log()}")

    def _ready(self) -> bool:
        if self.target.kind == "floor":
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return True
            return False
        # uvicorn logs "running on" once it listens (before spawning workers, or after the
        # lifespan of its only one), and each worker "startup complete" after its lifespan
        started = self.log()[self._log_start :]
        workers_ready = started.count("Application startup complete") >= self.target.workers
        return workers_ready and "Uvicorn running on" in started

    def stop(self) -> None:
        """SIGTERM the server (by pid), wait, SIGKILL if it must; then reap what it left."""
        if self.process is None:
            return
        self._signal_server(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()  # unshare --kill-child takes htagweb's namespace down with it
            self.process.wait(STOP_TIMEOUT)
        self._reap_leftovers()
        self._scratch_cleanup()

    def _scratch_cleanup(self) -> None:
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _signal_server(self, sig: signal.Signals) -> None:
        assert self.process is not None
        pid = self.process.pid
        if self.target.kind == "htagweb":  # the server is unshare's child (pid 1 in there)
            with contextlib.suppress(psutil.NoSuchProcess):
                children = psutil.Process(pid).children()
                pid = children[0].pid if children else pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _reap_leftovers(self) -> None:
        deadline = time.monotonic() + LEFTOVER_TIMEOUT
        left = procs.marked(self.marker)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)  # the template stops its users after its lease grace
            left = procs.marked(self.marker)
        self.leftovers = len(left)
        for proc in left:  # ours by their marker: started by this server
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()

    def log(self) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            return log.read().decode(errors="replace")
