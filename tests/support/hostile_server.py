"""A real HTTP server on 127.0.0.1 that misbehaves on purpose: it drips, floods, blocks, hangs.

Each path is given a :class:`Route` (status, body, content type, and how the body is sent);
any other path answers with :attr:`HostileServer.default` (a 404 unless changed). Every
request is counted per path (:attr:`HostileServer.hits`), and :attr:`HostileServer.arrived`
is set as soon as a request has come in (so a test can send a signal while the command is
surely waiting on the network). :meth:`stop` wakes every handler that is dripping or hanging.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Literal

from .local_server import BLOCK_PAGE, HTML_TYPE, LocalServer


@dataclass
class Route:
    """How one path answers. ``mode``: ``send`` the body at once, ``drip`` it one byte every
    ``interval`` seconds (after a Content-Length announcing all of it), or ``hang`` (read the
    request, answer nothing until the server stops)."""

    body: bytes = b""
    status: int = 200
    content_type: str = HTML_TYPE
    mode: Literal["send", "drip", "hang"] = "send"
    interval: float = 1.0


def page(hrefs: list[tuple[str, str]]) -> bytes:
    """An HTML page linking each (href, link text)."""
    anchors = "\n".join(f'<li><a href="{href}">{text}</a></li>' for href, text in hrefs)
    html = f"<html><head><title>287(g)</title></head><body><ul>{anchors}</ul></body></html>"
    return html.encode()


def blocked(status: int = 403) -> Route:
    """A CDN block page (Akamai's "Access Denied")."""
    return Route(BLOCK_PAGE, status)


class HostileServer(LocalServer):
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.default = Route(b"not found", 404, "text/plain")
        self.hits: Counter[str] = Counter()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    def hits_under(self, prefix: str) -> int:
        with self._lock:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))


def _handler(server: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY the body waits for the
        # client's delayed ACK of the headers (about 40 ms a response on Linux).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # the name http.server dispatches to
            path = self.path.split("?", 1)[0]
            with server._lock:
                server.hits[path] += 1
            server.arrived.set()
            route = server.routes.get(path, server.default)
            if route.mode == "hang":
                server._stop.wait()
                return
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if route.mode == "send":
                    self.wfile.write(route.body)
                    return
                for i in range(len(route.body)):
                    self.wfile.write(route.body[i : i + 1])
                    self.wfile.flush()
                    if server._stop.wait(route.interval):
                        return
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
