"""The lifting tasks' tables and study: the HumanEva layout of errors by subject and action, and
the limited-data sweep (entries ``"S1:0.1"``: training subjects and fraction)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import ml_collections
import numpy as np

from chiral_jax import runner
from chiral_jax.runner import SweepPoint

__all__ = ["parse_sweep_entry", "run_sweep", "subject_action_markdown", "sweep_points", "sweep_table"]

SWEEP_METRICS = (("mpjpe_mm", "MPJPE (mm)"), ("p_mpjpe_mm", "P-MPJPE (mm)"))


def _short_subject(subject: str) -> str:
    return subject.split("/")[-1]


def subject_action_markdown(rows: Sequence[dict[str, Any]], actions: Sequence[str] = ()) -> str:
    """The paper's HumanEva table layout: one row per model, columns action x subject (P-MPJPE,
    then MPJPE, in mm; mean ± std over seeds). ``actions``: the configured action names (e.g.
    ``Walk``) used as column labels for the action types they select (``Walking``)."""
    if not rows:
        return ""
    cells = sorted({(a, s) for r in rows for s, acts in r["per_subject_action"].items() for a in acts})
    order = {a: i for i, a in enumerate(dict.fromkeys(a for a, _ in cells))}

    def label(action: str) -> str:
        for a in actions:
            if action == a or action.startswith(a):
                return a
        return action

    def rank(action: str) -> tuple[int, str]:
        names = [label(action)]
        for i, a in enumerate(actions):
            if names[0] == a:
                return i, action
        return len(actions) + order[action], action

    cells.sort(key=lambda c: (rank(c[0]), _short_subject(c[1])))
    header = " | ".join(f"{label(a)} {_short_subject(s)}" for a, s in cells)
    out = []
    for key, title in (("p_mpjpe_mm", "P-MPJPE (mm)"), ("mpjpe_mm", "MPJPE (mm)")):
        out += ["", f"## {title} by subject and action", "", f"| model | {header} | average |"]
        out.append("|---|" + "---|" * (len(cells) + 1))
        for r in rows:
            t = r["per_subject_action"]
            vals, texts = [], []
            for a, s in cells:
                c = t.get(s, {}).get(a)
                if c is None:
                    texts.append("-")
                    continue
                vals.append(c[key])
                std = f" ± {c[key + '_std']:.1f}" if r["seeds"] > 1 else ""
                texts.append(f"{c[key]:.1f}{std}")
            avg = f"{np.mean(vals):.1f}" if vals else "-"
            out.append(f"| {r['name']} | " + " | ".join(texts) + f" | {avg} |")
    return "\n".join(out) + "\n"


def parse_sweep_entry(entry: str) -> tuple[tuple[str, ...], float]:
    """``"S1:0.01"`` -> (("S1",), 0.01); ``"S1,S5,S6"`` -> (("S1", "S5", "S6"), 1.0)."""
    subjects, _, fraction = entry.partition(":")
    names = tuple(s.strip() for s in subjects.split(",") if s.strip())
    try:
        value = float(fraction) if fraction else 1.0
    except ValueError:
        raise ValueError(
            f"sweep entry {entry!r}: expected 'S1,S5:0.1' (subjects, optional fraction)"
        ) from None
    if not names or not 0.0 < value <= 1.0:
        raise ValueError(f"sweep entry {entry!r}: expected subjects and a fraction in (0, 1]")
    return names, value


SWEEP_METRICS = (("mpjpe_mm", "MPJPE (mm)"), ("p_mpjpe_mm", "P-MPJPE (mm)"))


def sweep_points(entries: Sequence[str]) -> list[SweepPoint]:
    """The runner's sweep points of ``config.sweep`` entries: training subjects and fraction as
    overrides, run in ``<subjects>_<fraction>`` folders."""
    points = []
    for entry in entries:
        subjects, fraction = parse_sweep_entry(entry)
        overrides = {"data.subjects_train": subjects, "data.train_fraction": fraction}
        points.append(SweepPoint(entry, "+".join(subjects) + f"_{fraction:g}", overrides))
    return points


def run_sweep(task: runner.Task, config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """The limited-data study: one comparison of ``task`` per ``config.sweep`` entry in
    ``workdir/<subjects>_<fraction>``; writes ``sweep.json``, ``sweep.md`` and ``sweep.png``
    (:func:`~chiral_jax.runner.sweep`: MPJPE and P-MPJPE against training frames, one line per model)."""
    os.makedirs(workdir, exist_ok=True)
    points = sweep_points(config.sweep)
    return runner.sweep(task, config, workdir, points, x_key="train_frames", metrics=SWEEP_METRICS)


def sweep_table(sweep: dict[str, Any]) -> str:
    """``sweep.md`` of a limited-data study."""
    return runner.sweep_table(sweep, SWEEP_METRICS)
