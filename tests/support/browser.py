"""A published site in a real browser: a local HTTP server for the folder, and Debian's
chromium driven by Playwright (never a downloaded browser).

Also a screenshot tool for the README:

    .venv/bin/python tests/support/browser.py SITE_DIR docs/page.png [QUERY] [--full | --height=N]
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# No network beyond the page's own server, no profile, no background services.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing_reason() -> str | None:
    if CHROMIUM.exists():
        return None
    return (
        f"Debian's chromium is not installed at {CHROMIUM} "
        "(apt-get install -y chromium; .ci/run installs it)"
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def serve(root: Path):
    """Serve `root` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # polled every 50 ms, so that shutdown() returns at once (its default is 0.5 s)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def browser(width: int = 1280, height: int = 900):
    """A Chromium context with an empty profile of its own (Playwright drives it over CDP)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ice287g-chromium-") as profile:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": width, "height": height},
            )
            try:
                yield context
            finally:
                context.close()


class PageWatch:
    """Console errors, page errors and every request URL of one page."""

    def __init__(self, page, base: str):
        self.page, self.base = page, base
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", lambda req: self.requests.append(req.url))

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.errors.append(f"console {msg.type}: {msg.text}")

    def open(self, query: str = "", timeout: float = 60_000):
        """Load the page at `query` and wait until it has rendered (body[data-ready])."""
        self.page.goto(self.base + query)
        self.page.wait_for_selector("body[data-ready='1']", timeout=timeout, state="attached")
        return self.page

    def outside(self) -> list[str]:
        return [u for u in self.requests if not (u.startswith(self.base) or u.startswith("data:"))]


@contextmanager
def chromium():
    """One Chromium (:func:`browser`) for any number of sites (:func:`watched`). Without
    chromium the calling test is skipped with the reason, or fails under CI (where .ci/run
    installs it)."""
    reason = chromium_missing_reason()
    if reason:
        import pytest

        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with browser() as context:
        yield context


@contextmanager
def watched(context, site: Path):
    """A watched page of `context` on `site`, served locally."""
    with serve(site) as base:
        page = context.new_page()
        try:
            yield PageWatch(page, base)
        finally:
            page.close()


def screenshot(site: Path, out: Path, query: str = "", full: bool = False, height: int = 900):
    with serve(site) as base, browser(height=height) as context:
        page = context.new_page()
        watch = PageWatch(page, base)
        watch.open(query)
        page.wait_for_selector("#map svg")
        page.screenshot(path=str(out), full_page=full)
        if watch.errors or watch.outside():
            sys.exit(f"page problems: {watch.errors} {watch.outside()}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    heights = [int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--height=")]
    if len(args) < 2:
        sys.exit(__doc__)
    query = args[2] if len(args) > 2 else ""
    screenshot(Path(args[0]), Path(args[1]), query, "--full" in sys.argv, *heights[:1])
    print(os.path.abspath(args[1]))
