"""Agreements over time as a publishable chart (PNG, SVG, or an HTML page embedding the SVG).

Drawn with matplotlib's Agg renderer on a bare ``Figure`` (no pyplot, no display, no
browser): static files that print and embed anywhere. The series is ``query.counts`` (one
version per day, the day's last; suspect versions skipped), drawn as steps: a count holds
until the next version replaces it.
"""

from __future__ import annotations

import html
from pathlib import Path

from ice287g.normalize.rules import MODEL_NAMES

FORMATS = (".png", ".svg", ".html")
MODEL_ORDER = ["JEM", "TFM", "WSO", "TTFM"]
MODEL_COLORS = {
    "JEM": "#1b6ca8",
    "TFM": "#e07b39",
    "WSO": "#4a9c5d",
    "TTFM": "#8e6bb8",
    "unknown": "#9e9e9e",
}
STATE_COLORS = [
    "#1b6ca8",
    "#e07b39",
    "#4a9c5d",
    "#c0392b",
    "#8e6bb8",
    "#8c6d46",
    "#d17fb5",
    "#5d6d7e",
    "#b5a642",
    "#17a2b8",
    "#6c5b7b",
    "#2e8b57",
]
OTHER_COLOR = "#c8c8c8"
LEGEND_ROWS = 24  # a longer legend wraps into more columns
LIST_TITLES = {"participating": "participating agencies", "pending": "pending agencies"}


def series(
    list: str = "participating",
    by: str = "model",
    top: int = 8,
    data_dir=None,
    include_suspect: bool = False,
):
    """Counts per version date, one column per model (or per top-`top` state + `Other`),
    stacking order first to last."""
    import pandas as pd

    from ice287g.query.versions import QueryError, counts

    if by not in ("model", "state"):
        raise QueryError(f"cannot plot by {by!r}: use model or state")
    if top < 1:
        raise QueryError("--top must be at least 1")
    df = counts(list, by=[by], include_suspect=include_suspect, data_dir=data_dir)
    if df.empty:
        raise QueryError(f"no {list} versions to plot")
    df[by] = df[by].fillna("unknown")
    wide = df.pivot_table(index="date", columns=by, values="count", aggfunc="sum", fill_value=0)
    wide.index = pd.to_datetime(wide.index)
    if by == "model":
        order = [m for m in MODEL_ORDER if m in wide.columns]
        order += sorted(c for c in wide.columns if c not in order)
        wide = wide[order]
    else:
        newest = wide.iloc[-1].sort_values(ascending=False, kind="mergesort")
        keep = [s for s in newest.index if newest[s] > 0][:top]
        rest = [c for c in wide.columns if c not in keep]
        wide = wide[keep].assign(**({"Other": wide[rest].sum(axis=1)} if rest else {}))
    shas = df.drop_duplicates("date").set_index("date")["sha256"]
    wide.attrs["versions"] = len(shas)
    return wide


def title(list: str, by: str, wide) -> str:
    what = (
        "ICE 287(g) agreements"
        if list == "participating"
        else "Agencies pending a 287(g) agreement with ICE"
    )
    if by == "model":
        return f"{what}, by support model"
    shown = [c for c in wide.columns if c != "Other"]
    return f"{what}, by state (top {len(shown)}" + (
        " and others)" if "Other" in wide.columns else ")"
    )


def figure(wide, list: str = "participating", by: str = "model", include_suspect: bool = False):
    """The chart as a matplotlib Figure (not yet saved)."""
    from datetime import timedelta

    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(10, 6), dpi=150, layout="constrained")
    ax = fig.add_subplot()
    # Each version holds until the next one; the newest is drawn through its own day.
    x = [*wide.index.to_pydatetime(), wide.index[-1].to_pydatetime() + timedelta(days=1)]
    labels = [str(c) for c in wide.columns]
    colors = [_color(c, i, by) for i, c in enumerate(labels)]
    bottom = [0] * len(x)
    handles = []
    for label, color in zip(labels, colors):
        values = [*wide[label], wide[label].iloc[-1]]
        top = [b + v for b, v in zip(bottom, values)]
        handles.append(
            ax.fill_between(x, bottom, top, step="post", color=color, lw=0, label=_label(label, by))
        )
        bottom = top
    ax.step(x, bottom, where="post", color="#222222", lw=1.2)
    total = wide.sum(axis=1)
    first, last = wide.index[0].date(), wide.index[-1].date()
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(0, max(total.max() * 1.05, 1))
    # As many ticks as the span allows without crowding (days, weeks, months or years).
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))
    ax.grid(axis="y", color="#dddddd", lw=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_ylabel("Agreements listed" if list == "participating" else "Pending agencies listed")
    fig.suptitle(title(list, by, wide), x=0.01, ha="left", fontsize=14, fontweight="bold")
    # The newest total on its own line under the title: clear of the data whatever its shape.
    ax.set_title(
        f"{int(total.iloc[-1]):,} on {last:%b} {last.day}, {last.year}",
        loc="left",
        fontsize=11,
        color="#222222",
        pad=8,
    )
    # Every series in a legend beside the plot, top of the stack first (as drawn).
    fig.legend(
        handles[::-1],
        [h.get_label() for h in handles[::-1]],
        loc="outside right upper",
        ncols=max(1, -(-len(handles) // LEGEND_ROWS)),
        frameon=False,
        fontsize=9 if len(handles) <= LEGEND_ROWS else 8,
        handlelength=1.2,
    )
    skipped = "suspect versions included" if include_suspect else "suspect versions skipped"
    fig.text(
        0.01,
        0.0,
        caption(list, first, last, wide.attrs.get("versions"), skipped),
        fontsize=8,
        color="#555555",
        ha="left",
        va="bottom",
    )
    fig.get_layout_engine().set(h_pad=0.2)
    return fig


def caption(list: str, first, last, versions: int | None, skipped: str) -> str:
    count = f"{versions} versions, one per day" if versions else "one version per day"
    return (
        f"Source: ICE 287(g) {LIST_TITLES[list]} workbooks, versions {first} to {last} "
        f"({count}; {skipped}); ice287g"
    )


def _color(label: str, i: int, by: str) -> str:
    if label == "Other":
        return OTHER_COLOR
    if by == "model" and label in MODEL_COLORS:
        return MODEL_COLORS[label]
    if i < len(STATE_COLORS):
        return STATE_COLORS[i]
    from matplotlib import colormaps  # more series than the palette: a 20-colour map

    return colormaps["tab20b"]((i - len(STATE_COLORS)) % 20)


def _label(label: str, by: str) -> str:
    if by == "model" and label in MODEL_NAMES:
        return f"{MODEL_NAMES[label]} ({label})"
    if label == "unknown":
        return "Model not given" if by == "model" else "State not given"
    if by == "state" and label != "Other":
        import us

        found = us.states.lookup(label)
        return found.name if found else label
    return label


def plot(
    output: str | Path,
    list: str = "participating",
    by: str = "model",
    top: int = 8,
    data_dir=None,
    include_suspect: bool = False,
) -> Path:
    """Write the chart to `output` (.png, .svg or .html); returns the path."""
    import io

    from ice287g.query.versions import QueryError, check_list
    from ice287g.store.files import atomic_write

    check_list(list)
    path = Path(output)
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise QueryError(f"cannot write {path.name}: use a .png, .svg or .html file")
    wide = series(list, by, top, data_dir, include_suspect)
    fig = figure(wide, list, by, include_suspect)
    import matplotlib

    buf = io.BytesIO()
    # SVG text stays text (selectable, searchable, restylable), not outlines.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="png" if ext == ".png" else "svg", facecolor="white")
    data = buf.getvalue()
    if ext == ".html":
        first, last = wide.index[0].date(), wide.index[-1].date()
        data = _page(
            data.decode(),
            title(list, by, wide),
            caption(
                list,
                first,
                last,
                wide.attrs.get("versions"),
                "suspect versions included" if include_suspect else "suspect versions skipped",
            ),
        )
    atomic_write(path, data, sync=False)
    return path


def _page(svg: str, heading: str, text: str) -> bytes:
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: inline SVG
    title = html.escape(heading)
    return (
        f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>body{{font-family:sans-serif;max-width:1000px;"
        f"margin:2em auto;color:#222}} figure{{margin:0}} svg{{width:100%;height:auto}}"
        f" figcaption{{font-size:.85em;color:#555}}</style>\n</head>\n<body>\n"
        f'<figure role="img" aria-label="{title}">\n{svg}\n'
        f"<figcaption>{html.escape(text)}</figcaption>\n</figure>\n</body>\n</html>\n"
    ).encode()
