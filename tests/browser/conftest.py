"""Browser tests: the real app on a real port, a real SMTP server, and Debian's Chromium.

The app is served by Werkzeug in a thread of the test process, on a SQLite database migrated by
Alembic; confirmation emails go over SMTP to a local aiosmtpd server, where the tests read them as
a signer would. Playwright drives `/usr/bin/chromium` (no browser download). Every page a test
opens is watched: a request to any other origin, a refused Content-Security-Policy or a script
error fails the test. Screenshots go to `artifacts/browser/`, which git ignores.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from petitions.extensions import db
from petitions.services.demo import DEMO_SLUG
from tests.conftest import PASSWORD, make_test_app, unavailable
from tests.smtp import SMTPServer, free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE_SCRIPT = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
#: Root must run Chromium without its sandbox; the rest keep it off this machine's closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
ORGANISER_EMAIL = "browser-organiser@example.org"


@dataclass
class Site:
    """The running app: its address, its mail server and a way to run its commands."""

    app: Flask
    url: str
    smtp: SMTPServer
    _mail_lock: threading.Lock = field(default_factory=threading.Lock)

    def command(self, *args: str) -> str:
        """Run a `flask` command against the app's database and return its output.

        It runs in a thread of its own: Playwright's synchronous API keeps an event loop in this
        one, and the export's PDF signing (pyHanko) starts an event loop of its own.
        """
        results: list[Any] = []
        runner = self.app.test_cli_runner()
        thread = threading.Thread(target=lambda: results.append(runner.invoke(args=list(args))))
        thread.start()
        thread.join(timeout=120)
        assert results, f"flask {' '.join(args)} did not finish"
        assert results[0].exit_code == 0, results[0].output
        return results[0].output

    def deliver_mail(self) -> None:
        """Send what waits in the outbox to the SMTP server, as the mail worker does."""
        with self._mail_lock:
            self.command("mail", "send")

    def mail_to(self, address: str) -> list[Any]:
        """Return the messages the SMTP server received for an address, oldest first."""
        return [m for m in self.smtp.messages if address in str(m["To"])]


@contextlib.contextmanager
def serve(folder: Path, host: str) -> Iterator[Site]:
    """Serve the app with the demo appeal and an organiser account on a free port of this
    machine, as http://<host>:<port> (the name BASE_URL gives it)."""
    smtp = SMTPServer().start()
    port = free_port()
    url = f"http://{host}:{port}"
    app = make_test_app(
        f"sqlite:///{folder / 'petitions.sqlite3'}",
        str(folder / "instance"),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp.port),
        BASE_URL=url,
        EXPORT_DIR=str(folder / "exports"),
        # A live server must answer like production: errors become pages, not exceptions.
        TESTING=False,
    )
    with app.app_context():
        upgrade()
    site = Site(app=app, url=url, smtp=smtp)
    site.command("petitions", "demo")
    password_file = folder / "password"
    password_file.write_text(PASSWORD)
    site.command(
        "organisers",
        "create",
        ORGANISER_EMAIL,
        "--name",
        "Browser organiser",
        "--password-file",
        str(password_file),
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        thread.join(timeout=10)
        smtp.stop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app served at http://127.0.0.1:<port>."""
    with serve(tmp_path_factory.mktemp("browser-site"), "127.0.0.1") as served:
        yield served


@pytest.fixture(scope="module")
def localhost_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app served at http://localhost:<port>, for passkeys: Chromium refuses an IP address
    as the relying party's id, and http://localhost is a secure context."""
    with serve(tmp_path_factory.mktemp("browser-localhost"), "localhost") as served:
        yield served


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    """Start Playwright for one test module.

    Playwright's synchronous API runs an event loop in the main thread for as long as it is
    started; stopping it after each module leaves no loop behind for other tests, whose bundle
    signing (pyHanko) calls `asyncio.run`.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        unavailable(f"Playwright is not installed: {error}")
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    """Launch Debian's Chromium for one test module."""
    launched = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def device(playwright_driver: Any) -> Callable[[str], dict[str, Any]]:
    """Return Playwright's emulation of a named phone (its window, touch, pixel ratio, agent),
    as options for a new page; only Chromium runs here, whatever browser the phone ships."""

    def options(name: str) -> dict[str, Any]:
        described = dict(playwright_driver.devices[name])
        described.pop("default_browser_type")
        return described

    return options


@dataclass
class Watch:
    """What the pages of one browser context did that they should not have."""

    origin: str
    foreign_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def request(self, request: Any) -> None:
        url = request.url
        if not (url.startswith(self.origin + "/") or url == self.origin or url.startswith("data:")):
            self.foreign_requests.append(url)

    def console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)


#: Console errors a page may legitimately cause: the status code of a page that is an error.
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of 4")


@pytest.fixture
def new_page(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Callable]:
    """Open pages in fresh browser contexts, each watched for foreign requests and CSP errors
    (`on=` another Site serves them from that one)."""
    contexts: list[tuple[Any, Watch]] = []

    def open_page(on: Site | None = None, **options: Any) -> Any:
        origin = (on or site).url
        options.setdefault("base_url", origin)
        context = browser.new_context(**options)
        watch = Watch(origin=origin)
        context.on("request", watch.request)
        context.on("console", watch.console)
        context.on("weberror", lambda error: watch.page_errors.append(str(error.error)))
        contexts.append((context, watch))
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context, watch in contexts:
        context.close()
        assert not watch.foreign_requests, f"requests left the site: {watch.foreign_requests}"
        unexpected = [e for e in watch.console_errors if not EXPECTED_CONSOLE.search(e)]
        assert not unexpected, f"console errors (a CSP refusal?): {unexpected}"
        assert not watch.page_errors, watch.page_errors


class Screenshots:
    """Save full-page screenshots under artifacts/browser/, fresh for each run."""

    folder = ARTIFACTS

    def __call__(self, page: Any, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="session")
def screenshots() -> Screenshots:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return Screenshots()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """The axe-core engine from npm (tests/browser/package.json)."""
    if not AXE_SCRIPT.exists():
        unavailable(f"axe-core is not installed: run `npm ci` in {AXE_SCRIPT.parents[2]}")
    return AXE_SCRIPT


@pytest.fixture
def demo_slug() -> str:
    return DEMO_SLUG


def assert_no_sideways_scrolling(page: Any) -> None:
    """Fail if the page is wider than the window, so that a reader must scroll sideways."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: {widths}"


#: Werkzeug's development server, when the browser drops a connection (a new page while the icon
#: or stylesheet is still coming), can leave that static file for the garbage collector to
#: close, which Python reports as an unclosed file. Only that report is let through here.
DROPPED_STATIC_FILE = (
    "ignore:Exception ignored in. <_io.FileIO name='[^']*/static/"
    ":pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let the browser tests through the development server's dropped-connection reports."""
    for item in items:
        if Path(str(item.path)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.filterwarnings(DROPPED_STATIC_FILE))
