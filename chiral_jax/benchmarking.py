"""Helpers shared by the benchmark scripts and the demo: the machine they ran on, XLA's FLOPs."""

from __future__ import annotations

import os
import platform
from typing import Any

import jax

__all__ = ["machine_info", "xla_flops"]


def machine_info() -> dict[str, Any]:
    """CPU model, core count, Python and JAX versions, device kind, XLA flags and the load average
    (benchmarks on a shared machine should say how busy it was)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
        if model:
            cpu = f"{cpu} ({model})"
    except OSError:
        pass
    dev = jax.devices()[0]
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "device_kind": dev.device_kind,
        "platform": dev.platform,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def xla_flops(compiled: Any) -> float:
    """``flops`` from a compiled executable's cost analysis (a dict, or a list of dicts in older JAX)."""
    cost = compiled.cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else {}
    return float((cost or {}).get("flops", float("nan")))
