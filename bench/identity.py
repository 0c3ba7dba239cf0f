"""`make bench` phase of identity resolution (printed, never asserted).

Run after the backfill phase, on the full corpus store: reading every sound version and
resolving identities, the life story and every spelling, in a fresh interpreter (target: a
few seconds for the 2025 corpus), and the identity diff of two dates.
"""

from __future__ import annotations

from pathlib import Path

from bench.run import line, measure


def bench_identity(store_dir: Path) -> None:
    print("identity across versions on the full store")
    full = measure(
        "import time\n"
        "from ice287g.identity import resolve\n"
        "from ice287g.query import identity as source\n"
        f"v, r = source.read({str(store_dir)!r})\n"
        "t = time.perf_counter()\n"
        "i = resolve(v, r)\n"
        "a, e, s = i.agreements(), i.events(), i.aliases()\n"
        "d = i.diff(i.version_on('2025-06-01'), i.version_on('2025-12-31'))\n"
        "extra = [len(v), len(r), time.perf_counter() - t, len(a), len(e), len(s),\n"
        "         int((d['change'] == 'removed').sum()), len(i.candidates()),\n"
        "         i.tier_counts().to_dict('records')]"
    )
    versions, rows, resolve_s, agreements, events, spellings, removed, cands, tiers = full["extra"]
    line(
        "read + resolve + tables (fresh interpreter)",
        f"{full['seconds']:.2f} s",
        "target: a few seconds",
    )
    line(f"  of which resolve + tables ({versions} versions)", f"{resolve_s:.2f} s")
    line("  rows read", f"{rows}")
    line("  peak memory", f"{full['peak_mb']:.0f} MB")
    line("  agreements / events / spellings", f"{agreements} / {events} / {spellings}")
    line("  removed 2025-06-01 -> 2025-12-31", f"{removed}")
    line("  candidates left for review", f"{cands}")
    for t in tiers:
        line(f"  merges: {t['level']} {t['tier']}", f"{t['merges']}")


PHASES = [("identity", bench_identity)]
