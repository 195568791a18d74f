"""The lifting tasks' tables and study: the HumanEva layout of errors by subject and action, and
the limited-data sweep's entries (``"S1:0.1"``: training subjects and fraction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chiral_jax.runner import SweepPoint

__all__ = ["parse_sweep_entry", "subject_action_markdown", "sweep_points"]


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
