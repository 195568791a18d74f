"""XLA's planned memory of a compiled program (``memory_analysis()``)."""

from __future__ import annotations

from typing import Any

__all__ = ["MEMORY_FIELDS", "memory_stats", "mib"]

MEMORY_FIELDS = (
    "argument_size_in_bytes",
    "output_size_in_bytes",
    "alias_size_in_bytes",
    "temp_size_in_bytes",
    "generated_code_size_in_bytes",
    "peak_memory_in_bytes",
)


def memory_stats(compiled: Any) -> dict[str, int]:
    """The compiled program's memory analysis (the fields this jax version has) and ``footprint``
    = arguments + outputs - aliased + temporaries (bytes); empty when the backend gives none."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # not implemented on some backends / versions
        return {}
    if stats is None:
        return {}
    out = {f: int(getattr(stats, f)) for f in MEMORY_FIELDS if getattr(stats, f, None) is not None}
    if {"argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes"} <= out.keys():
        out["footprint"] = (
            out["argument_size_in_bytes"]
            + out["output_size_in_bytes"]
            - out.get("alias_size_in_bytes", 0)
            + out["temp_size_in_bytes"]
        )
    return out


def mib(n: float | None) -> str:
    """Bytes as MiB for a table cell: no decimals from 16 MiB up, one below, ``n/a`` for None."""
    if n is None:
        return "n/a"
    return f"{n / 2**20:.0f}" if n >= 2**24 else f"{n / 2**20:.1f}"
