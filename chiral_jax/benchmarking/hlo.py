"""What XLA says about a compiled program: its cost analysis, and the memory traffic of its
top-level instructions by kind (a model read from the optimized HLO text)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from chiral_jax.benchmarking.report import table

__all__ = [
    "COST_KEYS",
    "TRAFFIC_KINDS",
    "cost_analysis",
    "hlo_traffic",
    "shape_bytes",
    "traffic_table",
    "xla_flops",
]

COST_KEYS = ("flops", "bytes accessed", "transcendentals")
TRAFFIC_KINDS = ("matmul", "reduction", "elementwise", "copy")

_BYTES = {"f64": 8, "f32": 4, "s32": 4, "u32": 4, "bf16": 2, "f16": 2, "s16": 2, "u16": 2}
_INSTRUCTION = re.compile(r"\s*(?:ROOT )?%([\w.\-]+) = (\(.*?\)|\S+) ([\w\-]+)\((.*?)\)(?:,|$)")
_FREE_OPS = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast", "while", "call", "conditional"}


def cost_analysis(compiled: Any, keys: Sequence[str] = COST_KEYS) -> dict[str, float]:
    """``keys`` of a compiled executable's cost analysis (a dict, or a list of dicts in older JAX);
    NaN where it has none."""
    cost = compiled.cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else {}
    return {k: float((cost or {}).get(k, float("nan"))) for k in keys}


def xla_flops(compiled: Any) -> float:
    """``flops`` from a compiled executable's cost analysis (NaN without one)."""
    return cost_analysis(compiled, ("flops",))["flops"]


def shape_bytes(shape: str) -> int:
    """Bytes of an HLO shape string (``f32[2,3]{1,0}``, or a tuple of them); 1 byte per element of
    a type not listed (``pred``, ``u8``, ``s8``)."""
    total = 0
    for dtype, dims in re.findall(r"([a-z]+\d*)\[([\d,]*)\]", shape):
        total += _BYTES.get(dtype, 1) * math.prod(int(d) for d in dims.split(",") if d)
    return total


def hlo_traffic(hlo: str) -> dict[str, dict[str, float]]:
    """Per kind of top-level instruction of a compiled program (XLA's optimized HLO text,
    ``compiled.as_text()``): how many there are and the bytes their operands and results take (each
    instruction reads its operands and writes its result once: a model of the memory traffic, not a
    measurement).

    Kinds: ``matmul`` (a dot, or a fusion holding one), ``reduction`` (a fusion holding a reduce),
    ``elementwise`` (every other fusion and op), ``copy``. Loop bodies (``while``) are left out.
    """
    entry = hlo[hlo.find("\nENTRY") :]
    entry = entry[: entry.find("\n}")]
    shapes: dict[str, str] = {}
    out = {k: {"count": 0, "bytes_in": 0.0, "bytes_out": 0.0} for k in TRAFFIC_KINDS}
    for line in entry.splitlines()[1:]:
        m = _INSTRUCTION.match(line)
        if not m:
            continue
        name, shape, op, operands = m.groups()
        shapes[name] = shape
        if op in _FREE_OPS:
            continue
        if op == "fusion":
            called = re.search(r"calls=%?([\w.\-]+)", line)
            body = ""
            if called:
                start = hlo.find(f"%{called.group(1)} ")
                body = hlo[start : hlo.find("\n}", start)] if start >= 0 else ""
            kind = "matmul" if " dot(" in body else "reduction" if " reduce(" in body else "elementwise"
        else:
            kind = {"dot": "matmul", "copy": "copy", "reduce": "reduction"}.get(op, "elementwise")
        row = out[kind]
        row["count"] += 1
        row["bytes_in"] += sum(shape_bytes(shapes.get(o, "")) for o in re.findall(r"%([\w.\-]+)", operands))
        row["bytes_out"] += shape_bytes(shape)
    return out


def traffic_table(
    a: dict[str, dict[str, float]],
    b: dict[str, dict[str, float]],
    names: tuple[str, str] = ("chiral", "baseline"),
) -> list[str]:
    """A markdown table comparing two :func:`hlo_traffic` results (``a`` / ``b``, called ``names``):
    per kind the counts, MB read, MB written and the ratio of all bytes."""
    n = f"{names[0]} / {names[1]}"
    rows = []
    for k in TRAFFIC_KINDS:
        x, y = a[k], b[k]
        total = (x["bytes_in"] + x["bytes_out"]) / max(y["bytes_in"] + y["bytes_out"], 1.0)
        rows.append(
            (
                k,
                f"{x['count']} / {y['count']}",
                f"{x['bytes_in'] / 1e6:.0f} / {y['bytes_in'] / 1e6:.0f}",
                f"{x['bytes_out'] / 1e6:.0f} / {y['bytes_out'] / 1e6:.0f}",
                f"{total:.3f}",
            )
        )
    return table(("kind", f"count {n}", f"MB read {n}", f"MB written {n}", f"bytes {n}"), rows)
