"""Sweeps: one comparison per point of config overrides (e.g. the limited-data study), with a
table and a plot of the metrics against a size of the data."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any

import ml_collections
import numpy as np

from chiral_jax.runner.comparison import Task, machine_description, run
from chiral_jax.runner.report import mean_std, table

__all__ = ["SweepPoint", "sweep", "sweep_table"]

Record = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: its ``entry`` label, its run ``folder`` under the sweep's workdir and
    the config ``overrides`` (dotted key -> value)."""

    entry: str
    folder: str
    overrides: dict[str, Any]


def _with_overrides(
    config: ml_collections.ConfigDict, overrides: dict[str, Any]
) -> ml_collections.ConfigDict:
    sub = ml_collections.ConfigDict(config.to_dict())
    if "sweep" in sub:
        sub.sweep = ()
    for key, value in overrides.items():
        *path, leaf = key.split(".")
        node = sub
        for part in path:
            node = node[part]
        node[leaf] = value
    return sub


def sweep(
    task: Task,
    config: ml_collections.ConfigDict,
    workdir: str,
    points: Sequence[SweepPoint],
    *,
    x_key: str,
    metrics: Sequence[tuple[str, str]],
) -> Record:
    """Runs :func:`~chiral_jax.runner.comparison.run` once per point in ``workdir/<folder>`` (each with
    its results.json / results.md, resumable) and writes ``sweep.json`` (one point per entry and
    summary row, with the data's ``x_key``, e.g. training frames), ``sweep.md`` and ``sweep.png``
    (``metrics``: ``(key, title)`` pairs, each against ``x_key``, one line per model)."""
    out_points = []
    for p in points:
        results = run(task, _with_overrides(config, p.overrides), os.path.join(workdir, p.folder))
        for row in results["summary"]:
            out_points.append({"entry": p.entry, x_key: results["data"][x_key], **row})
    out = {
        "machine": machine_description(),
        "entries": [p.entry for p in points],
        "x_key": x_key,
        "points": out_points,
    }
    with open(os.path.join(workdir, "sweep.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(workdir, "sweep.md"), "w") as f:
        f.write(sweep_table(out, metrics))
    _plot_sweep(out_points, x_key, metrics, os.path.join(workdir, "sweep.png"))
    return out


def sweep_table(sweep_results: Record, metrics: Sequence[tuple[str, str]]) -> str:
    """``sweep.md``: per metric, one row per entry (its label and ``x_key``) and one column per
    model (mean ± std over seeds)."""
    points, x_key = sweep_results["points"], sweep_results.get("x_key", "train_frames")
    names = list(dict.fromkeys(p["name"] for p in points))
    entries = list(dict.fromkeys(p["entry"] for p in points))
    by = {(p["entry"], p["name"]): p for p in points}
    lines = [f"Machine: {sweep_results['machine']}", ""]
    label = x_key.replace("train_", "").replace("_", " ")
    for key, title in metrics:
        lines += [f"## Test {title} against training data", ""]
        rows = []
        for e in entries:
            cells = [mean_std(by[(e, n)], key) if (e, n) in by else "-" for n in names]
            x = next(p[x_key] for p in points if p["entry"] == e)
            rows.append([e, f"{x:,}", *cells])
        lines += [*table(["training data", label, *names], rows, align=" r"), ""]
    seeds = max((p["seeds"] for p in points), default=0)
    lines.append(f"Seeds per point: {seeds} (± is the standard deviation over seeds).")
    return "\n".join(lines) + "\n"


def _plot_sweep(points: Sequence[Record], x_key: str, metrics: Sequence[tuple[str, str]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for ax, (key, title) in zip(axes[0], metrics, strict=True):
        for name in dict.fromkeys(p["name"] for p in points):
            rows = sorted((p for p in points if p["name"] == name and key in p), key=lambda p: p[x_key])
            x = [p[x_key] for p in rows]
            y = np.array([p[key] for p in rows])
            err = np.array([p.get(key + "_std", 0.0) for p in rows])
            style = "--" if name.endswith("+ TTA") else "-"
            ax.errorbar(x, y, yerr=err, marker="o", linestyle=style, capsize=3, label=name)
        ax.set_xscale("log")
        ticks = {p[x_key]: p["entry"] for p in points}  # label each point with its entry
        ax.set_xticks(list(ticks), [f"{e}\n{f:,}" for f, e in ticks.items()], fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel(f"training data and {x_key.replace('train_', '')} (log)")
        ax.set_ylabel(f"test {title} (mean ± std over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
