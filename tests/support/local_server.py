"""The one way tests serve HTTP: a real server on 127.0.0.1 (port 0), in a thread.

:class:`LocalServer` starts and stops it; each kind of server (:mod:`support.replay_server`,
ICE's history replayed; :mod:`support.hostile_server`, faults on purpose) gives it its request
handler. Also the few facts of ICE's site both of them serve: the page's path, the content
types, and the CDN's block page.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE_PATH = "/identify-and-arrest/287g"
HTML_TYPE = "text/html; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"
# Akamai's "Access Denied" page, as ICE's CDN serves it in place of a file.
BLOCK_PAGE = (
    b"<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n"
    b"You don't have permission to access this resource on this server.<P>\n"
    b"Reference&#32;&#35;18&#46;0&#46;0&#46;0\n"
    b"<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;0</P>\n</BODY>\n</HTML>\n"
)


class LocalServer:
    """Serve ``handler`` on 127.0.0.1 from ``with`` (or :meth:`start`) until :meth:`stop`.

    :attr:`_stop` is set on stop, so that a handler sleeping or hanging on purpose wakes up.
    """

    host = "127.0.0.1"

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer((self.host, 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wake any handler waiting on purpose, and close the socket."""
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    @property
    def page_url(self) -> str:
        return self.base_url + PAGE_PATH

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + path
