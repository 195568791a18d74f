"""The machine a benchmark ran on: its record (:func:`machine_info`) and the report's first line."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from typing import Any

import jax

__all__ = ["machine_info", "machine_line"]


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
        "device_count": jax.device_count(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def machine_line(info: Mapping[str, Any]) -> str:
    """One line of :func:`machine_info` for a benchmark's report (with the load average)."""
    load = info.get("load_average")
    devices = info.get("device_count", 1)
    return (
        f"Machine: {info['cpu']}, {info['cpu_count']} CPUs, jax {info['jax']} "
        f"({info['platform']}: {info['device_kind']}{f' x{devices}' if devices > 1 else ''}), "
        f"Python {info['python']}"
        + (f", XLA_FLAGS={info['xla_flags']!r}" if info.get("xla_flags") else "")
        + (f", load average {', '.join(f'{x:.1f}' for x in load)}" if load else "")
    )
