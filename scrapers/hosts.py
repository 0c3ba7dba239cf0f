"""Which hosts may be asked, and when to stop asking one.

The allowlist: the source's own host and the Internet Archive over https, plain ``http://``
only for a local test server. :class:`CircuitBreaker` leaves a host alone for the rest of a
run after a few consecutive troubles (:func:`host_trouble`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapers.answers import RETRY_STATUSES, FetchResult

DEFAULT_SOURCE_HOST = "www.ice.gov"
ARCHIVE_HOST = "web.archive.org"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def refusal(url: str, allowed_hosts: frozenset[str]) -> str | None:
    """Why ``url`` may not be fetched, or None when it is on the allowlist."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        return "plain http:// is allowed only for 127.0.0.1 and localhost"
    if parts.scheme not in ("http", "https"):
        return f"unsupported scheme {parts.scheme!r}"
    if host not in allowed_hosts:
        return f"host {host!r} is not on the allowlist {sorted(allowed_hosts)}"
    return None


def host_trouble(result: FetchResult) -> bool:
    """True when a result says its host refuses us or cannot be reached (a block page, no
    connection, a timeout or deadline, 429 or 5xx after the retries), as opposed to an answer
    about this one URL (stored, 404, not a PDF)."""
    if result.outcome == "blocked":
        return True
    if result.outcome != "failed" or result.refused:
        return False
    return result.status is None or result.status in RETRY_STATUSES


class CircuitBreaker:
    """Stop asking a host after ``threshold`` consecutive troubles (:func:`host_trouble`).

    For a run of many downloads from one host (the MOA harvest): a host that blocks us or
    cannot be reached is left alone for the rest of the run instead of being asked for every
    remaining URL. Any other answer from the host resets its count.
    """

    def __init__(self, threshold: int = 3) -> None:
        self.threshold = threshold
        self._streak: dict[str, int] = {}
        self.tripped: dict[str, str] = {}  # host -> why it is left alone

    def allows(self, url: str) -> bool:
        return _host(url) not in self.tripped

    def record(self, url: str, trouble: bool, error: str | None = None) -> str | None:
        """Count one answer from ``url``'s host; the reason when this answer trips the breaker."""
        host = _host(url)
        if not trouble:
            self._streak[host] = 0
            return None
        self._streak[host] = self._streak.get(host, 0) + 1
        if self._streak[host] < self.threshold or host in self.tripped:
            return None
        self.tripped[host] = (
            f"{self.threshold} consecutive failures on {host} (last: {error or 'no answer'})"
        )
        return self.tripped[host]


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
