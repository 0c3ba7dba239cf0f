"""Find the workbook links on ICE's 287(g) page.

ICE renames the two workbooks with almost every update (``participatingAgencies.xlsx``,
``participatingAgencies04032025pm.xlsx``, ``...mid``, ``...pm_b``, a 9-digit date,
``287gParticipatingAgencies091526pm.xlsx``, ``ParticipatingAgency091826am.xlsx``) and Drupal can
hide the file behind a ``/file-download/...`` or ``?file=...`` link, so no fixed name or pattern
can be trusted. A link is a workbook link when its target names a spreadsheet file, or when it is
a download link whose text names the participating or pending agencies. The list a link belongs
to is only a hint: the pipeline decides it later from the workbook's columns, its name and
the link (``parsers.lists``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urljoin, urlsplit, urlunsplit

from parsers.lists import LIST_WORDS, named_list

ListHint = Literal["participating", "pending"]

# ICE's 287(g) page, where both workbooks are linked (`refresh --source` replaces it).
DEFAULT_SOURCE = "https://www.ice.gov/identify-and-arrest/287g"
# ICE links one workbook per list; a page linking more is changed or hostile, and each link
# costs a request and a ledger row. At most this many are taken per list hint (and as many
# links that name no list); the rest are reported, not fetched.
MAX_LINKS_PER_LIST = 3

_SPREADSHEET = re.compile(r"\.xlsx?$", re.IGNORECASE)
_NOT_A_WORKBOOK = re.compile(
    r"\.(pdf|docx?|pptx?|html?|aspx?|php|jpe?g|png|gif|svg|zip|csv|txt)$", re.IGNORECASE
)
_DOWNLOAD_PATH = re.compile(r"/(file-download|download)(/|$)", re.IGNORECASE)
_AGENCIES = re.compile(r"agenc", re.IGNORECASE)


@dataclass(frozen=True)
class WorkbookLink:
    """One workbook link found on the page.

    ``url`` is absolute (fragment removed); ``file_name`` is the spreadsheet's name as ICE
    published it (percent-decoded), or the last path segment of a download link that does not
    name its file; ``list_hint`` comes from the file name, else from the link text.
    """

    url: str
    file_name: str
    list_hint: ListHint | None
    link_text: str


class DiscoveryError(RuntimeError):
    """The page holds no workbook link: a changed page or a block page, never "no data"."""


def discover(html: str, base_url: str) -> list[WorkbookLink]:
    """Return the page's workbook links in page order, one per absolute URL.

    Relative hrefs resolve against the page's ``<base href>`` if present, else ``base_url``.
    When the same URL is linked twice, the first link with text wins, so the hint can use it.
    """
    from bs4 import BeautifulSoup  # here: DEFAULT_SOURCE alone is wanted by quick commands

    soup = BeautifulSoup(html, "html.parser")
    base_tag = soup.find("base", href=True)
    base = urljoin(base_url, str(base_tag["href"])) if base_tag else base_url
    found: dict[str, WorkbookLink] = {}
    for anchor in soup.find_all("a", href=True):
        text = " ".join(anchor.get_text(" ", strip=True).split())
        title = str(anchor.get("title") or "")
        download = anchor.get("download")
        link = _workbook_link(str(anchor["href"]), base, text, title, download)
        if link is None:
            continue
        known = found.get(link.url)
        if known is None or (not known.link_text and link.link_text):
            found[link.url] = link
    return list(found.values())


def discover_or_fail(html: str, base_url: str) -> list[WorkbookLink]:
    """Like :func:`discover`, but raise :class:`DiscoveryError` when no workbook link exists.

    An empty page must stop the run loudly: reporting "nothing published" would record a
    false absence in the public history.
    """
    links = discover(html, base_url)
    if not links:
        raise DiscoveryError(
            f"no workbook link found on {base_url}: the page layout changed or ICE answered "
            "with a block page instead of the 287(g) page"
        )
    return links


def cap_links(
    links: list[WorkbookLink], per_list: int = MAX_LINKS_PER_LIST
) -> tuple[list[WorkbookLink], list[WorkbookLink]]:
    """(kept, dropped): the first ``per_list`` links of each list hint, in page order."""
    kept: list[WorkbookLink] = []
    dropped: list[WorkbookLink] = []
    taken: dict[str | None, int] = {}
    for link in links:
        count = taken.get(link.list_hint, 0)
        (kept if count < per_list else dropped).append(link)
        taken[link.list_hint] = count + 1
    return kept, dropped


def list_hint(text: str) -> ListHint | None:
    """Guess the list from a file name or link text; None when neither or both are named."""
    return named_list(text)


def _workbook_link(
    href: str, base: str, text: str, title: str, download: object
) -> WorkbookLink | None:
    """Build the link for one anchor, or None when the anchor is not a workbook link."""
    url = urljoin(base, href.strip())
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    url = urlunsplit(parts._replace(fragment=""))
    path_name = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    named = [path_name, *(_basename(value) for _, value in parse_qsl(parts.query))]
    if isinstance(download, str):
        named.append(_basename(download))
    spreadsheet = next((name for name in named if _SPREADSHEET.search(name)), None)
    if spreadsheet is None:
        if _NOT_A_WORKBOOK.search(path_name) or not _is_download_link(parts, download):
            return None
        label = f"{text} {title}"
        names_a_list = any(word.search(label) for word in LIST_WORDS.values())
        if not (names_a_list and _AGENCIES.search(label)):
            return None
    file_name = spreadsheet or path_name
    hint = list_hint(file_name) or list_hint(text) or list_hint(title)
    return WorkbookLink(url=url, file_name=file_name, list_hint=hint, link_text=text)


def _is_download_link(parts: SplitResult, download: object) -> bool:
    """True for Drupal-style download links (``/file-download/...``, ``?file=``, ``download``)."""
    query = dict(parse_qsl(parts.query))
    return bool(_DOWNLOAD_PATH.search(parts.path)) or "file" in query or download is not None


def _basename(value: str) -> str:
    """The last path segment of a (decoded) query value or a ``download`` attribute."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1]
