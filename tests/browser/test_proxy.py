"""Behind nginx as the README configures it: TLS, websockets, a stripped /ui prefix.

Runs examples/nginx/htag-ui.conf itself (only the address, port and certificate change) in
front of ``uvicorn --root-path /ui``, and a browser that sees https and wss.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.support.proxy import Nginx, find_nginx, free_port, self_signed_certificate
from tests.support.scenarios import counter_session
from tests.support.servers import ROOT, Server, start_server

pytestmark = pytest.mark.browser

NGINX = find_nginx()
SITE = ROOT / "examples" / "nginx" / "htag-ui.conf"


def site_for_test(directory: Path, port: int, upstream: int) -> str:
    """The README's nginx site with a loopback address and a self-signed certificate."""
    cert, key = self_signed_certificate(directory)
    replacements = {
        "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
        "/etc/ssl/certs/example.org.pem": str(cert),
        "/etc/ssl/private/example.org.key": str(key),
        "http://127.0.0.1:8000/": f"http://127.0.0.1:{upstream}/",
    }
    site = SITE.read_text()
    for old, new in replacements.items():
        assert old in site, f"{SITE} no longer contains {old!r}"
        site = site.replace(old, new)
    return site


@pytest.fixture(scope="module")
def behind_nginx(runtime: str, logs: Path) -> Iterator[tuple[Server, str]]:
    if NGINX is None or shutil.which("openssl") is None:
        pytest.skip("needs nginx and openssl (scripts/test.sh unpacks Debian's nginx)")
    server = start_server(
        "uvicorn", "tests.support.apps.hosts:main", runtime, logs, "--root-path", "/ui"
    )
    directory = Path(tempfile.mkdtemp(prefix="hw-nginx-"))
    port = free_port()
    nginx = Nginx(NGINX, directory, site_for_test(directory, port, server.port))
    try:
        public = f"https://127.0.0.1:{port}"
        nginx.start(public + "/ui/hello.txt")
        yield server, public
    finally:
        nginx.stop()
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def tls_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(ignore_https_errors=True)  # our self-signed certificate
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_https_subpath_with_websockets_through_nginx(
    behind_nginx: tuple[Server, str], tls_page: Page
) -> None:
    """The page under https://.../ui/ works over wss; the cookie is Secure with Path=/ui."""
    _, public = behind_nginx
    tls_page.goto(public + "/ui")
    assert tls_page.url == public + "/ui/"
    counter_session(tls_page)
    cookies = {c["name"]: c for c in tls_page.context.cookies()}
    session = cookies["htagweb_session"]
    assert session["secure"] and session["httpOnly"] and session["path"] == "/ui"


def test_server_sent_events_and_post_through_nginx(
    behind_nginx: tuple[Server, str], tls_page: Page
) -> None:
    """The same nginx site passes an event stream on as it comes (the stream says
    X-Accel-Buffering: no): pushes arrive at once, without a websocket."""
    _, public = behind_nginx
    tls_page.goto(public + "/ui/sse/")
    counter_session(tls_page)
