"""`make bench` phase: MOA PDF text extraction over the shared samples (registered in bench.py).

Each run is its own fresh interpreter (``measure``), so the peak memory is the reader's alone:
pages per second and peak resident memory with 1 and 2 reader processes
(``bench.moa_reader.bench``). CPU seconds are printed beside the wall time: wall time well
above CPU time / workers means the machine was busy with other work.
"""

from __future__ import annotations

from pathlib import Path

from bench.run import MOA_FILES, line, measure

WORKERS = (1, 2)


def bench_moa_extraction(store_dir: Path) -> None:
    files = sorted(MOA_FILES.glob("*.pdf"))
    if not files:
        print(f"MOA extraction: skipped, no samples at {MOA_FILES}")
        return
    print(f"MOA extraction: {len(files)} PDFs from {MOA_FILES}")
    paths = [str(f) for f in files]
    for workers in WORKERS:
        run = measure(
            f"from bench.moa_reader import bench\nextra = bench({paths!r}, workers={workers})"
        )
        figures = run["extra"]
        label = f"{workers} worker" + ("s" if workers > 1 else "")
        line(
            f"pages per second, {label}",
            f"{figures['pages_per_second']:.1f}",
            f"{figures['pages']} pages, {figures['seconds']:.1f} s wall, "
            f"{figures['cpu_seconds']:.1f} s CPU",
        )
        line(
            f"peak memory, {label}",
            f"{figures['peak_rss_mb']:.0f} MB",
            "largest single process",
        )
        if figures["failed"]:
            line(f"unreadable files, {label}", str(figures["failed"]))


PHASES = [("moa", bench_moa_extraction)]
