"""A benchmark's printed report and its JSON: markdown tables, led by the machine record."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chiral_jax.benchmarking.machine import machine_info, machine_line
from chiral_jax.runner.report import table

__all__ = ["chiral_vs_baseline_table", "mark", "report", "table"]


def chiral_vs_baseline_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    per_s_key: str,
    unit: str,
    name: Callable[[Mapping[str, Any]], str] = lambda r: r["row"],
    first: str = "row",
    extra: Mapping[str, Callable[[Mapping[str, Any]], str]] | None = None,
) -> list[str]:
    """The throughput table of :func:`~chiral_jax.benchmarking.chiral_vs_baseline` rows: parameters
    (chiral / baseline), the ``extra`` columns (title -> cell of a row), then ``unit``/s of the
    training steps and the inference calls (``rows[i][per_s_key]``) and the speedups (the rows'
    ``ratios``; the headline ones in bold). The TTA columns appear when the rows have the call."""
    tta = all("infer_baseline_tta" in r[per_s_key] for r in rows)
    infer = ("infer_chiral", "infer_baseline") + (("infer_baseline_tta",) if tta else ())
    columns = [first, "params chiral / baseline", *(extra or {})]
    columns += [f"train {unit}/s chiral", f"train {unit}/s baseline", "train speedup"]
    columns += [f"infer {unit}/s chiral", f"infer {unit}/s baseline"]
    columns += (
        [f"infer {unit}/s baseline+TTA", "infer speedup vs baseline", "infer speedup vs TTA"]
        if tta
        else ["infer speedup"]
    )
    cells = []
    for r in rows:
        per_s, q, p = r[per_s_key], r["ratios"], r["params"]
        cells.append(
            (
                name(r),
                f"{p['chiral']:,} / {p['baseline']:,} = {r['param_ratio']:.3f}",
                *(cell(r) for cell in (extra or {}).values()),
                *(f"{per_s[n]:,.0f}" for n in ("train_chiral", "train_baseline")),
                f"**{q['train_speedup']:.2f}x**",
                *(f"{per_s[n]:,.0f}" for n in infer),
                *((f"{q['infer_speedup']:.2f}x", f"**{q['infer_speedup_vs_tta']:.2f}x**") if tta else ()),
                *(() if tta else (f"**{q['infer_speedup']:.2f}x**",)),
            )
        )
    return table(columns, cells)


def mark(ok: bool) -> str:
    """A target's verdict in a report: ``yes`` or ``NO``."""
    return "yes" if ok else "NO"


def report(text: str | Sequence[str], json_path: str | None, **payload: Any) -> dict[str, Any]:
    """Prints a benchmark's report, :func:`~chiral_jax.benchmarking.machine_line` first, and with
    ``json_path`` writes ``{"machine": machine_info(), **payload}`` there (the numbers behind the
    text; values JSON cannot hold are written as ``str``). Returns the machine record.

    ``text``: the report's body, a string or its lines.
    """
    info = machine_info()
    body = text if isinstance(text, str) else "\n".join(text)
    print(machine_line(info) + "\n" + body, flush=True)
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": info, **payload}, f, indent=1, default=str)
    return info
