"""Small valid PDFs built in memory: MOA-like text pages (or blank pages, as a scan has)."""

from __future__ import annotations


def tiny_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF, one Helvetica line per string; an empty list is a blank page."""
    contents = []
    for lines in pages:
        ops = ["BT", "/F1 10 Tf", "12 TL", "50 750 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        contents.append(["\n".join(ops).encode("latin-1")])
    return content_pdf(contents)


def content_pdf(
    pages: list[list[bytes]],
    *,
    mediabox: str = "0 0 612 792",
    page_entries: str = "",
    fonts: str = "",
    forms: dict[str, bytes] | None = None,
) -> bytes:
    """A minimal valid PDF whose pages draw the given content streams (several per page are
    concatenated by the reader), with Helvetica as font /F1. ``page_entries`` go into every
    page dictionary (``/Rotate 90``), ``fonts`` into its font resources (direct font
    dictionaries: ``/V1 << ... >>``), and ``forms`` (name -> content) become Form XObjects the
    pages can draw (``/Fm1 Do``), writing in /F1 too."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    font_id = 3 + len(pages) + sum(len(streams) for streams in pages)
    form_ids = {name: font_id + 1 + i for i, name in enumerate(forms or {})}
    resources = f"/Font << /F1 {font_id} 0 R {fonts + ' ' if fonts else ''}>>"
    if form_ids:
        resources += f" /XObject << {' '.join(f'/{n} {i} 0 R' for n, i in form_ids.items())} >>"
    kids = []
    for streams in pages:
        first = len(objects) + 2
        refs = " ".join(f"{first + i} 0 R" for i in range(len(streams)))
        refs = refs if len(streams) == 1 else f"[{refs}]"
        kids.append(f"{len(objects) + 1} 0 R")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [{mediabox}] /Contents {refs} "
            f"{page_entries + ' ' if page_entries else ''}/Resources << {resources} >> >>".encode()
        )
        objects += [_stream(stream) for stream in streams]
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    assert len(objects) == font_id
    for content in (forms or {}).values():
        form = f"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << {resources} >>"
        objects.append(_stream(content, form))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(data: bytes, entries: str = "") -> bytes:
    head = f"<< {entries} /Length {len(data)} >>" if entries else f"<< /Length {len(data)} >>"
    return head.encode() + b"\nstream\n" + data + b"\nendstream"


def wso_page(agency: str = "Example County Sheriff's Office", short: str = "ECSO") -> list[str]:
    """The lines of a page-1 of a 2019-style Warrant Service Officer MOA naming ``agency``."""
    return [
        "MEMORANDUM OF AGREEMENT",
        "I. PARTIES",
        "This Memorandum of Agreement (MOA) constitutes an agreement between U.S. Immigration and",
        "Customs Enforcement (ICE), a component of the Department of Homeland Security (DHS), and",
        f"the {agency} ({short}), pursuant to which ICE delegates to nominated,",
        "II. PURPOSE",
        "The purpose of this collaboration is to promote public safety by facilitating the "
        "custodial",
        f"transfer of specific aliens in {short}'s jail/correctional facilities to ICE.",
        f"Participating {short} personnel are only delegated the two authorities listed below:",
        f"{agency}        1        Rev 2/14/25",
    ]


def moa_pdf(agency: str) -> bytes:
    """A two-page text MOA of ``agency`` (distinct bytes for each agency)."""
    return tiny_pdf([wso_page(agency, "".join(w[0] for w in agency.split()).upper())] * 2)
