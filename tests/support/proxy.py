"""A real nginx in front of a server, run from its binary with a private prefix directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.servers import READY_TIMEOUT, ROOT, STOP_TIMEOUT

# Debian's binary: installed, or unpacked into .cache by scripts/test.sh (no service started)
_CANDIDATES = (os.environ.get("HTAGWEB_NGINX"), shutil.which("nginx"), "/usr/sbin/nginx")
UNPACKED = ROOT / ".cache" / "nginx" / "usr" / "sbin" / "nginx"

_MAIN_CONF = """\
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/site.conf;
}}
"""


def find_nginx() -> str | None:
    """The first nginx binary that runs here (an unpacked one may lack a library), or None."""
    for candidate in (*_CANDIDATES, str(UNPACKED)):
        if candidate and os.access(candidate, os.X_OK):
            version = subprocess.run([candidate, "-v"], capture_output=True, check=False)
            if version.returncode == 0:
                return candidate
    return None


def free_port() -> int:
    """A free loopback port for a program that binds by itself (a short race, tests only)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class Nginx:
    """nginx serving `site` (a server {} block and what goes with it) from `directory`."""

    def __init__(self, binary: str, directory: Path, site: str) -> None:
        self.binary = binary
        self.directory = directory
        self.site = site
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str) -> Nginx:
        # as root, nginx would hand its workers to an unprivileged user who cannot read here
        user = "user root;" if os.geteuid() == 0 else ""
        main = _MAIN_CONF.format(user=user, dir=self.directory)
        (self.directory / "nginx.conf").write_text(main)
        (self.directory / "site.conf").write_text(self.site)
        self.process = subprocess.Popen(
            [
                *(self.binary, "-p", str(self.directory), "-e", str(self.directory / "error.log")),
                *("-c", str(self.directory / "nginx.conf"), "-g", "daemon off;"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(ready_url)
        return self

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log()
            try:
                if httpx.get(url, verify=False, timeout=2.0).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a condition, bounded by the deadline above
        raise TimeoutError(f"nginx did not answer within {READY_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # by PID: nginx's fast shutdown
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)

    def log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""
