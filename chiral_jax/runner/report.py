"""What a comparison writes: the ``results.md`` table, breakdown tables and the summary plot."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["Column", "mean_std", "plot_summary", "results_table", "table"]

Record = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of ``results.md``: ``header``, the summary ``key`` and a number ``fmt``."""

    header: str
    key: str
    fmt: str = ".1f"


def mean_std(row: Record, key: str, fmt: str = ".1f", seeds: int | None = None) -> str:
    """``"m ± s"`` of ``row[key]`` and ``row[key + "_std"]`` (the mean alone for one seed);
    ``"-"`` when the row lacks ``key``."""
    if key not in row:
        return "-"
    value = f"{row[key]:{fmt}}"
    n = row.get("seeds", 1) if seeds is None else seeds
    return f"{value} ± {row[key + '_std']:{fmt}}" if n > 1 and key + "_std" in row else value


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, align: str = "") -> list[str]:
    """A markdown table's lines: the header, the rule and one line per row (cells as ``str``);
    the one table writer of the runner and the benchmarks.

    ``align``: one letter per column, ``r`` right-aligned (``---:``), anything else the default;
    shorter than the columns, the rest default.
    """
    rule = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(columns))]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(rule) + "|"]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(columns)} columns: {row}")
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return lines


def results_table(results: Record, columns: Sequence[Column], title: str) -> str:
    """``results.md``'s head: a title, the machine and one row per summary entry (model,
    parameters, seeds, the columns and the training time)."""
    cols = (*columns, Column("train s", "train_seconds", ".0f"))
    rows = [
        [r["name"], f"{r['params']:,}", r["seeds"], *(mean_std(r, c.key, c.fmt) for c in cols)]
        for r in results["summary"]
    ]
    lines = [f"# {title}", "", f"Machine: {results['machine']}", ""]
    lines += table(["model", "params", "seeds", *(c.header for c in cols)], rows)
    return "\n".join(lines) + "\n"


def plot_summary(rows: Sequence[Record], metric: str, path: str) -> str | None:
    """A horizontal bar per summary row: ``metric`` with its standard deviation over seeds."""
    rows = [r for r in rows if metric in r]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    y = np.arange(len(rows))
    colors = ["tab:blue" if r["kind"] == "chiral" else "tab:gray" for r in rows]
    ax.barh(
        y,
        [r[metric] for r in rows],
        xerr=[r.get(metric + "_std", 0.0) for r in rows],
        color=colors,
        capsize=3,
    )
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(metric + " (mean ± std over seeds)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
