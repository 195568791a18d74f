"""Summaries over seeds: one row per variant and per flip-averaging setting, for scalar metrics,
per-step lists and any nested breakdown (per action, per class, per subject x action)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["TTA_SUFFIX", "groups", "summarize", "summarize_breakdown"]

Record = dict[str, Any]
TTA_SUFFIX = " + TTA"
"""Appended to a variant's name for its flip-averaged row."""


def groups(runs: Sequence[Record]) -> Iterator[tuple[str, list[Record], list[Record]]]:
    """``(row name, the variant's runs, the records to average)`` per variant (in run order) and
    per flip-averaging setting: the plain records, then (when the runs have one) their ``"tta"``
    entries as ``"<name> + TTA"``."""
    for name in dict.fromkeys(r["name"] for r in runs):
        group = [r for r in runs if r["name"] == name]
        yield name, group, group
        with_tta = [r["tta"] for r in group if "tta" in r]
        if with_tta:
            yield name + TTA_SUFFIX, group, with_tta


def summarize(runs: Sequence[Record], keys: Sequence[str]) -> list[Record]:
    """Mean and standard deviation over seeds of ``keys``, per variant and flip-averaging setting.

    A list-valued metric (e.g. PCK per forecast step) is averaged element by element. A key the
    flip-averaged records lack (e.g. training time) is taken from the plain runs.
    """
    rows = []
    for name, group, src in groups(runs):
        row: Record = {
            "name": name,
            "kind": group[0]["kind"],
            "params": group[0]["params"],
            "seeds": len(group),
        }
        for k in keys:
            vals = [s[k] for s in src if s.get(k) is not None]
            if not vals and src is not group:
                vals = [r[k] for r in group if r.get(k) is not None]
            if vals and isinstance(vals[0], list | tuple):
                row[k] = np.mean(vals, axis=0).tolist()
                row[k + "_std"] = np.std(vals, axis=0).tolist()
            elif vals:
                row[k] = float(np.mean(vals))
                row[k + "_std"] = float(np.std(vals))
        rows.append(row)
    return rows


def _mean_tree(trees: Sequence[Any]) -> Any:
    """Mean over ``trees`` (nested dicts of numbers of one layout) with a ``<key>_std`` beside each
    number; a key missing from some trees is averaged over those that have it."""
    out: dict[str, Any] = {}
    for key, first in trees[0].items():
        present = [t[key] for t in trees if key in t]
        if isinstance(first, dict):
            out[key] = _mean_tree(present)
        else:
            out[key], out[key + "_std"] = float(np.mean(present)), float(np.std(present))
    return out


def summarize_breakdown(runs: Sequence[Record], field: str) -> list[Record]:
    """Per variant and flip-averaging row, the mean and standard deviation over seeds of every
    number in the nested dict ``field`` of the runs (e.g. ``per_subject_action``:
    ``{subject: {action: {"mpjpe_mm", ...}}}``): ``[{"name", "seeds", field: {...}}]``."""
    rows = []
    for name, _, src in groups(runs):
        trees = [s[field] for s in src if field in s]
        if trees:
            rows.append({"name": name, "seeds": len(trees), field: _mean_tree(trees)})
    return rows
