"""Start real ASGI servers on ephemeral loopback ports, and find the processes they start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

# command line per server kind; {app} is the import string, {fd} the listening socket's fd
COMMANDS: dict[str, Sequence[str]] = {
    # -w 0: hypercorn serves in this one process. Its default (-w 1) is a master and a spawned
    # worker sharing a multiprocessing Event: named semaphores in the machine-wide /dev/shm
    # that the worker reopens by name as it starts, so anything that cleans /dev/shm
    # meanwhile kills the server ("server died" after SemLock._rebuild's FileNotFoundError).
    "hypercorn": ["-m", "hypercorn", "-w", "0", "{app}", "--bind", "fd://{fd}"],
    "hypercorn-trio": ["-m", "hypercorn", "-w", "0", "-k", "trio", "{app}", "--bind", "fd://{fd}"],
    "uvicorn": ["-m", "uvicorn", "{app}", "--fd", "{fd}"],
    "uvicorn-uvloop": ["-m", "uvicorn", "--loop", "uvloop", "{app}", "--fd", "{fd}"],
    "daphne": ["-m", "daphne", "--fd", "{fd}", "{app}"],
    "gunicorn": [
        *("-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "--workers", "2"),
        *("--graceful-timeout", "5", "--bind", "fd://{fd}", "{app}"),
    ],
    # granian takes no file descriptor: it binds {port} itself (a short race, tests only)
    "granian": [
        *("-m", "granian", "--interface", "asgi", "--no-access-log"),
        *("--host", "127.0.0.1", "--port", "{port}", "{app}"),
    ],
    # a script that binds by itself, as a newcomer runs it: the port comes in $PORT
    "script": ["{app}"],
    # several workers: a user's requests land on any of them
    "gunicorn-4": [
        *("-m", "gunicorn", "{app}", "-w", "4", "-k", "uvicorn_worker.UvicornWorker"),
        *("--bind", "fd://{fd}", "--graceful-timeout", "5"),
    ],
    "uvicorn-2": ["-m", "uvicorn", "{app}", "--fd", "{fd}", "--workers", "2"],
    "uvicorn-4": ["-m", "uvicorn", "{app}", "--fd", "{fd}", "--workers", "4"],
    "hypercorn-4": ["-m", "hypercorn", "{app}", "-w", "4", "--bind", "fd://{fd}"],
}
SELF_BINDING = {"granian", "script"}
# the command line of a process started by multiprocessing's spawn (uvicorn's and hypercorn's
# workers); the resource tracker they also start runs multiprocessing.resource_tracker
SPAWNED_WORKER = "from multiprocessing.spawn import spawn_main"
# our processes by their command line: templates (and what they fork), spawned user processes
OUR_MODULES = ("htagweb_asgi.proc.template", "htagweb_asgi.proc.usermain")


def listening_socket(port: int = 0) -> socket.socket:
    """A socket already listening on loopback (an ephemeral port by default: no race for it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class Server:
    """A server process serving `app` with `kind`, its log, and its port."""

    kind: str
    app: str
    runtime: str
    log_path: Path
    extra_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    sock: socket.socket = field(default_factory=listening_socket)
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    python: str = sys.executable  # another venv's, to run as a newcomer's install does

    def __post_init__(self) -> None:
        self.port = int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/hello.txt") -> Server:
        self.spawn()
        self.wait_ready(ready_path)
        return self

    def spawn(self) -> Server:
        """Start the server process without waiting for it (see wait_ready).

        The test keeps no copy of the listening socket: the server's own must be the only
        one, or a killed server would still seem to listen.
        """
        if self.sock.fileno() < 0:  # a restart: listen on the same port again
            self.sock = listening_socket(self.port)
        fd = self.sock.fileno()
        args = [part.format(app=self.app, fd=fd, port=self.port) for part in COMMANDS[self.kind]]
        # XDG_RUNTIME_DIR: Apps built without runtime_dir (the examples) keep their files here
        env = {
            **os.environ,
            "HTAGWEB_TEST_RUNTIME": self.runtime,
            "XDG_RUNTIME_DIR": self.runtime,
            "PYTHONPATH": str(ROOT),
            **self.env,
        }
        pass_fds: tuple[int, ...] = (fd,)
        if self.kind in SELF_BINDING:
            env["PORT"] = str(self.port)
            self.sock.close()  # the server binds the port itself (a short race, tests only)
            pass_fds = ()
        log = open(self.log_path, "ab")  # noqa: SIM115 - the server writes to it until stop()
        self.process = subprocess.Popen(
            [self.python, *args, *self.extra_args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
        )
        log.close()
        self.sock.close()
        return self

    def wait_ready(self, path: str, timeout: float = READY_TIMEOUT) -> None:
        """Return once `path` answers below 500; fail if the process ends or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log()
            try:
                if httpx.get(self.url + path, timeout=2.0).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a condition, bounded by the deadline above
        raise TimeoutError(f"{self.kind} did not answer within {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the server by its PID; return its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode

    def tree(self) -> list[psutil.Process]:
        """The server process and all its descendants: its workers, and helpers such as
        multiprocessing's resource tracker (our templates are not among them: detached)."""
        assert self.process is not None
        master = psutil.Process(self.process.pid)
        return [master, *master.children(recursive=True)]

    def workers(self) -> list[psutil.Process]:
        """The live processes that serve requests, told by their command line: forks of the
        server process (gunicorn), or multiprocessing's spawned children (uvicorn and
        hypercorn ``--workers``), never helpers such as the resource tracker."""
        assert self.process is not None
        master = psutil.Process(self.process.pid)
        command = master.cmdline()
        found = []
        for child in master.children():
            try:
                line = child.cmdline()
                if child.status() == psutil.STATUS_ZOMBIE:
                    continue
            except psutil.NoSuchProcess:  # a worker that just ended (zombies included)
                continue
            if line == command or SPAWNED_WORKER in " ".join(line):
                found.append(child)
        return found

    def close(self) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def our_processes(runtime: str) -> list[psutil.Process]:
    """Templates and user processes started by servers of this test run."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            line = " ".join(proc.info["cmdline"] or ())
            if not any(module in line for module in OUR_MODULES):
                continue
            if proc.environ().get("HTAGWEB_TEST_RUNTIME") == runtime:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def user_processes(runtime: str) -> list[psutil.Process]:
    """The user processes (children of a template) of this test run."""
    procs = our_processes(runtime)
    pids = {p.pid for p in procs}
    users = []
    for proc in procs:
        try:
            if proc.ppid() in pids and proc.status() != psutil.STATUS_ZOMBIE:
                users.append(proc)
        except psutil.NoSuchProcess:
            continue
    return users


def waiting_for_server(runtime: str) -> list[dict[str, Any]]:
    """Templates of this run that found their server gone and wait for a new one."""
    from htagweb_asgi.protocol import control

    return [t for t in control.listings(runtime) if t["waiting_for_server"] is not None]


def end_templates(runtime: str) -> None:
    """What an operator does after a last stop instead of waiting restart_grace: SIGTERM
    each template (by the pid its listing gives), which ends its processes."""
    from htagweb_asgi.protocol import control

    for template in control.listings(runtime):
        os.kill(int(template["pid"]), signal.SIGTERM)


def log_path(logs: Path, kind: str, app: str) -> Path:
    """A new log file for a server of `kind` serving `app`."""
    return logs / f"{kind}-{re.sub(r'[^A-Za-z0-9]+', '_', app)}-{len(list(logs.iterdir()))}.log"


def start_server(
    kind: str,
    app: str,
    runtime: str,
    logs: Path,
    *extra: str,
    ready: str = "/hello.txt",
    env: dict[str, str] | None = None,
) -> Server:
    """Start `app` under a server of `kind` and wait until it answers `ready`."""
    return Server(kind, app, runtime, log_path(logs, kind, app), extra, env or {}).start(ready)
