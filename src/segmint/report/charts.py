"""The report's charts as PNG images (matplotlib, Agg): the same bytes go inline into the web report (data
URI) and into the email (by Content-ID), because mail clients run no JavaScript and many block SVG."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede any pyplot import elsewhere

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from segmint.currency import currency_prefix
from segmint.report.model import Migration, Projection, ReportData, RfmGrid, SizeHistory

WIDTH_IN = 6.0  # shown 600 px wide in mail; drawn at 160 dpi so it stays sharp on high-density screens
DPI = 160
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#8c564b",
)
# Names come from data: never let matplotlib read "$...$" in them as math.
_RC: Any = {"text.parse_math": False, "font.size": 8.5, "axes.titlesize": 10}


# A chart is drawn only when it has enough points to show something; otherwise the report says in words
# what it would have shown (a line through two points is no trend, a map of five customers no map).
MIN_TREND_WEEKS = 3
MIN_MAP_CUSTOMERS = 20
MIN_GRID_CUSTOMERS = 20


@dataclass(frozen=True)
class ChartGap:
    """A chart left out for too few points: what it would have shown, and when it will appear."""

    key: str
    title: str
    reason: str


@dataclass(frozen=True)
class Chart:
    """One rendered chart."""

    key: str
    title: str
    alt: str
    png: bytes

    @property
    def cid(self) -> str:
        """The Content-ID the email's HTML refers to (without angle brackets)."""
        return f"chart-{self.key}@segmint"

    @property
    def data_uri(self) -> str:
        """The image inline, for the self-contained web report."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def segment_colors(segment_ids: list[int]) -> dict[int, str]:
    """A stable colour per segment id (sorted ids take the palette in order)."""
    return {seg: PALETTE[i % len(PALETTE)] for i, seg in enumerate(sorted(set(segment_ids)))}


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _short(n: float) -> str:
    if abs(n) >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if abs(n) >= 10_000:
        return f"{n / 1000:.0f}k"
    if abs(n) >= 1_000:
        return f"{n / 1000:.1f}k"
    return f"{n:.0f}"


def sizes_chart(history: SizeHistory, colors: dict[int, str]) -> bytes:
    """Segment sizes at the end of each of the last 12 weeks."""
    with rc_context(_RC):
        fig = Figure(figsize=(WIDTH_IN, 3.2), layout="constrained")
        ax = fig.add_subplot()
        # From the first week with segments: empty weeks before it only squeeze the line to the right.
        first = min(history.weeks.index(w) for w in _weeks_with_segments(history))
        weeks = history.weeks[first:]
        x = np.arange(len(weeks))
        for seg_id, all_sizes in history.sizes.items():
            sizes = all_sizes[first:]
            y = np.array([np.nan if v is None else v for v in sizes], dtype=float)
            ax.plot(
                x,
                y,
                marker="o",
                markersize=3,
                lw=1.6,
                color=colors.get(seg_id, "#888"),
                label=history.names[seg_id],
            )
        ax.set_xticks(*week_ticks(weeks), rotation=0)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_ylabel("customers")
        ax.yaxis.set_major_formatter(lambda v, _pos: _short(v))
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _png(fig)


def _day(d: date) -> str:
    return f"{d.day} {d:%b}"


MAX_DATE_TICKS = 6


def week_ticks(weeks: list[date]) -> tuple[list[int], list[str]]:
    """Positions and labels of a weekly axis: at most six dates written as people do ("2 Nov"), so they
    never run into each other, never an ISO timestamp or an epoch number."""
    step = max(1, -(-len(weeks) // MAX_DATE_TICKS))
    positions = list(range(0, len(weeks), step))
    return positions, [_day(weeks[i]) for i in positions]


def migration_chart(migration: Migration) -> bytes:
    """Heatmap of moves from last week's segment (rows) to this week's (columns), shaded by row share."""
    rows = list(migration.from_labels)
    cols = list(migration.to_labels)
    counts = np.zeros((len(rows), len(cols)))
    for c in migration.cells:
        counts[rows.index(c.from_id), cols.index(c.to_id)] = c.customers
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    with rc_context(_RC):
        height = 1.2 + 0.34 * len(rows)
        fig = Figure(figsize=(WIDTH_IN, max(2.6, height)), layout="constrained")
        ax = fig.add_subplot()
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for i in range(len(rows)):
            for j in range(len(cols)):
                if counts[i, j]:
                    ax.text(
                        j,
                        i,
                        _short(counts[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if share[i, j] > 0.55 else "#222",
                    )
        ax.set_xticks(
            range(len(cols)), [_clip(migration.to_labels[c]) for c in cols], rotation=30, ha="right"
        )
        ax.set_yticks(range(len(rows)), [_clip(migration.from_labels[r]) for r in rows])
        ax.set_xlabel("this week")
        ax.set_ylabel(f"a week earlier ({_day(migration.previous_as_of)})")
        ax.tick_params(labelsize=7)
        return _png(fig)


def _clip(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def rfm_chart(rfm: RfmGrid, currency: str | None = None) -> bytes:
    """Customers by recency score (rows, 5 = bought most recently) and frequency score (columns), with their
    average revenue to date in the shop's currency."""
    prefix = currency_prefix(currency)
    counts = np.array(rfm.counts, dtype=float)[::-1]  # R5 on top
    with rc_context(_RC):
        fig = Figure(figsize=(WIDTH_IN, 3.4), layout="constrained")
        ax = fig.add_subplot()
        image = ax.imshow(counts, cmap="YlGnBu", aspect="auto")
        for i in range(5):
            for j in range(5):
                money = rfm.mean_monetary[4 - i][j]
                label = _short(counts[i, j]) + ("" if money is None else f"\n⌀ {prefix}{_short(money)}")
                ax.text(
                    j,
                    i,
                    label,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if counts[i, j] > counts.max() * 0.6 else "#222",
                )
        ax.set_xticks(range(5), [str(j) for j in range(1, 6)])
        ax.set_yticks(range(5), [str(r) for r in range(5, 0, -1)])
        ax.set_xlabel("how often they buy (5 = most orders)")
        ax.set_ylabel("how recently they bought (5 = most recent)")
        fig.colorbar(image, ax=ax, label="customers", shrink=0.8)
        return _png(fig)


def projection_chart(projection: Projection, colors: dict[int, str]) -> bytes:
    """Customers on the first two principal components of their scaled features, coloured by segment."""
    x = np.asarray(projection.x)
    y = np.asarray(projection.y)
    ids = np.asarray(projection.segment_ids)
    with rc_context(_RC):
        fig = Figure(figsize=(WIDTH_IN, 3.8), layout="constrained")
        ax = fig.add_subplot()
        for seg_id in sorted(set(projection.segment_ids)):
            mask = ids == seg_id
            ax.scatter(
                x[mask],
                y[mask],
                s=5,
                alpha=0.55,
                linewidths=0,
                color=colors.get(seg_id, "#888"),
                label=projection.names.get(seg_id, f"segment {seg_id}"),
                rasterized=True,
            )
        # The axes are mixtures of every feature, with no unit an owner could read: no ticks, and the
        # technical description ("How these segments were made") names them.
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("customers who buy alike are drawn close together")
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=False, markerscale=3, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _png(fig)


def _weeks_with_segments(history: SizeHistory) -> list[date]:
    return [w for i, w in enumerate(history.weeks) if any(s[i] is not None for s in history.sizes.values())]


def _grid_customers(rfm: RfmGrid) -> int:
    return sum(map(sum, rfm.counts))


def chart_gaps(data: ReportData) -> list[ChartGap]:
    """The charts the data cannot fill yet, each with what it would show and when it will appear."""
    gaps: list[ChartGap] = []
    if isinstance(data.history, SizeHistory):
        weeks = _weeks_with_segments(data.history)
        if len(weeks) < MIN_TREND_WEEKS:
            so_far = ", ".join(_day(w) for w in weeks)
            gaps.append(
                ChartGap(
                    "sizes",
                    "Segment sizes over time",
                    f"This chart shows how many customers each segment holds week by week, once segments "
                    f"exist in {MIN_TREND_WEEKS} different weeks; so far {len(weeks)} (week ending {so_far}).",
                )
            )
    if isinstance(data.migration, Migration) and data.migration.customers_compared < MIN_GRID_CUSTOMERS:
        gaps.append(
            ChartGap(
                "migration",
                "Who moved where this week",
                f"The picture of moves between segments needs at least {MIN_GRID_CUSTOMERS} customers "
                f"segmented in both weeks; {data.migration.customers_compared} were, so the table above "
                "lists every move.",
            )
        )
    if isinstance(data.rfm, RfmGrid) and _grid_customers(data.rfm) < MIN_GRID_CUSTOMERS:
        gaps.append(
            ChartGap(
                "rfm",
                "How recently and how often customers buy",
                f"This grid sorts customers by how recently and how often they buy, once at least "
                f"{MIN_GRID_CUSTOMERS} customers have bought; so far {_grid_customers(data.rfm)}.",
            )
        )
    if isinstance(data.projection, Projection) and data.projection.n_total < MIN_MAP_CUSTOMERS:
        gaps.append(
            ChartGap(
                "projection",
                "Customer map",
                f"The map draws customers who buy alike close together, coloured by segment, once at "
                f"least {MIN_MAP_CUSTOMERS} customers are segmented; so far {data.projection.n_total}.",
            )
        )
    return gaps


def render_charts(data: ReportData) -> list[Chart]:
    """Every chart the report's data allows (with enough points to show something), in display order."""
    ids = [s.segment_id for s in data.segment_list]
    if isinstance(data.history, SizeHistory):
        ids += list(data.history.sizes)
    colors = segment_colors(ids)
    charts: list[Chart] = []
    left_out = {g.key for g in chart_gaps(data)}
    if isinstance(data.history, SizeHistory) and "sizes" not in left_out:
        charts.append(
            Chart(
                "sizes",
                "Segment sizes, last 12 weeks",
                "Line chart of the number of customers in each segment at the end of each of the last 12 weeks.",
                sizes_chart(data.history, colors),
            )
        )
    if isinstance(data.migration, Migration) and "migration" not in left_out:
        charts.append(
            Chart(
                "migration",
                "Who moved where this week",
                "Heatmap of customers by last week's segment (rows) and this week's segment (columns).",
                migration_chart(data.migration),
            )
        )
    if isinstance(data.rfm, RfmGrid) and "rfm" not in left_out:
        charts.append(
            Chart(
                "rfm",
                "How recently and how often customers buy",
                "Grid of customers by how recently and how often they buy, with their average revenue to date"
                + (f" in {data.currency}." if data.currency else "."),
                rfm_chart(data.rfm, data.currency),
            )
        )
    if isinstance(data.projection, Projection) and "projection" not in left_out:
        charts.append(
            Chart(
                "projection",
                "Customer map",
                f"Map of {data.projection.n_sampled:,} customers, those who buy alike drawn close together, "
                "coloured by segment.",
                projection_chart(data.projection, colors),
            )
        )
    return charts
