"""Helpers shared by the benchmark scripts and the demo: the interleaved timing loop, the machine
they ran on, XLA's FLOPs and memory, and the chiral-vs-baseline measurement (:func:`compare_calls`)
the lifting and forecasting throughput benchmarks share.

Not imported by ``import chiral_jax``: ``from chiral_jax.benchmarking import time_interleaved``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

__all__ = [
    "CHIRAL_VS_BASELINE_GROUPS",
    "CHIRAL_VS_BASELINE_RATIOS",
    "TimedCall",
    "Timings",
    "compare_calls",
    "machine_info",
    "machine_line",
    "memory_stats",
    "time_interleaved",
    "xla_flops",
]


@dataclasses.dataclass(frozen=True)
class Timings:
    """What :func:`time_interleaved` measured: per call name, one wall-clock and one process CPU time
    (seconds, every thread of the process) per repeat, in repeat order."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]

    @property
    def names(self) -> list[str]:
        return list(self.wall)

    def times(self, name: str, *, cpu: bool = False) -> list[float]:
        return (self.cpu if cpu else self.wall)[name]

    def median(self, name: str, *, cpu: bool = False) -> float:
        """Median seconds per call of ``name``."""
        return statistics.median(self.times(name, cpu=cpu))

    def medians(self, *, cpu: bool = False) -> dict[str, float]:
        """Median seconds per call, every name."""
        return {name: self.median(name, cpu=cpu) for name in self.wall}

    def ratio(self, num: str, den: str, *, cpu: bool = False) -> float:
        """How many times faster ``num`` runs than ``den`` (a throughput ratio, > 1 when ``num`` is
        faster): the median over repeats of ``time(den) / time(num)``."""
        a, b = self.times(num, cpu=cpu), self.times(den, cpu=cpu)
        return statistics.median(d / n for n, d in zip(a, b, strict=True))

    def time_ratio(self, num: str, den: str, *, cpu: bool = False) -> float:
        """``num``'s time as a fraction of ``den``'s (< 1 when ``num`` is faster): the median over
        repeats of ``time(num) / time(den)``. With an even number of repeats this is not exactly
        ``1 / ratio(num, den)`` (a median of two middle values)."""
        a, b = self.times(num, cpu=cpu), self.times(den, cpu=cpu)
        return statistics.median(n / d for n, d in zip(a, b, strict=True))


def _timed(call: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one call, up to its outputs being ready."""
    c0, t0 = time.process_time(), time.perf_counter()
    jax.block_until_ready(call())
    return time.perf_counter() - t0, time.process_time() - c0


def time_interleaved(
    calls: Mapping[str, Callable[[], Any]],
    *,
    repeats: int,
    groups: Sequence[Sequence[str]] | None = None,
    warmup: int = 1,
) -> Timings:
    """Times ``calls`` (name -> ``call()``, which returns what to block on) interleaved.

    Every call first runs ``warmup`` times untimed (in ``calls``' order; compilation and caches).
    Then each of the ``repeats`` runs every call once: group by group (``groups``: lists of names
    covering every call once; default: one group of all of them), and inside a group in an order
    rotated by one each repeat (repeat ``r`` starts at the group's ``r % len(group)``-th name). A
    call is timed until ``jax.block_until_ready`` of what it returns, in wall-clock and in process
    CPU time (every thread).

    Why interleave: these benchmarks run on shared, noisy machines, where the load changes over
    seconds. Timing variant A for a minute and then variant B would fold those changes into the
    A/B comparison. Run back to back, the calls a ratio compares see nearly the same load; the
    rotation spreads the position effects (caches, thermal state, the previous call's leftovers)
    over all of them; and :meth:`Timings.ratio`, the median of per-repeat ratios, lets a load change
    between two repeats move numerator and denominator together instead of skewing either median.
    Put the calls a ratio compares in the same group.

    Returns:
      :class:`Timings` with ``repeats`` wall and CPU times per name.
    """
    names = list(calls)
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    groups = [names] if groups is None else [list(g) for g in groups]
    flat = [n for g in groups for n in g]
    if sorted(flat) != sorted(names) or any(not g for g in groups):
        raise ValueError(f"groups {groups} must name every call in {names} exactly once, none empty")
    for name in names:
        for _ in range(warmup):
            _timed(calls[name])
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for group in groups:
            shift = r % len(group)
            for name in group[shift:] + group[:shift]:
                w, c = _timed(calls[name])
                wall[name].append(w)
                cpu[name].append(c)
    return Timings(wall, cpu)


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


# ---------------------------------------------------------------------------------- chiral vs baseline


@dataclasses.dataclass
class TimedCall:
    """One timed call of a chiral-vs-baseline benchmark: ``run() -> what to block on``, the items
    (frames, windows, samples) it processes, and its compiled program (for FLOPs and memory)."""

    run: Callable[[], Any]
    items: int
    compiled: Any = None


CHIRAL_VS_BASELINE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("train_chiral", "train_baseline"),
    ("infer_chiral", "infer_baseline", "infer_baseline_tta"),
)
"""The interleaving groups of the lifting and forecasting benchmarks: the training steps back to
back, then the three inference calls."""

CHIRAL_VS_BASELINE_RATIOS: dict[str, tuple[str, str]] = {
    # name: (numerator, denominator): throughput ratio = denominator time / numerator time
    "train_speedup": ("train_chiral", "train_baseline"),
    "infer_speedup": ("infer_chiral", "infer_baseline"),
    "infer_speedup_vs_tta": ("infer_chiral", "infer_baseline_tta"),
}


def compare_calls(
    calls: Mapping[str, TimedCall],
    *,
    repeats: int,
    groups: Sequence[Sequence[str]] = CHIRAL_VS_BASELINE_GROUPS,
    ratios: Mapping[str, tuple[str, str]] = CHIRAL_VS_BASELINE_RATIOS,
    per_s_key: str = "per_s",
) -> dict[str, Any]:
    """Times ``calls`` interleaved (:func:`time_interleaved`) and derives what the chiral-vs-baseline
    benchmarks report.

    Returns a dict: ``times_s`` (wall seconds per repeat), ``median_ms``, ``per_s_key`` (items / median
    seconds), ``ratios`` (throughput ratios, medians of per-repeat ratios, per ``ratios`` entry),
    ``cpu_times_s`` and ``cpu_time_ratios`` (the same from process CPU time: insensitive to time
    slicing on a shared machine but counting the thread pool's spinning; a cross-check),
    ``ratio_of_medians`` and ``flops`` (XLA's count per compiled call, NaN without one).
    """
    timings = time_interleaved({n: c.run for n, c in calls.items()}, repeats=repeats, groups=groups)
    median_s = timings.medians()

    def table(cpu: bool) -> dict[str, float]:
        return {key: timings.ratio(num, den, cpu=cpu) for key, (num, den) in ratios.items()}

    return {
        "times_s": timings.wall,
        "median_ms": {n: 1e3 * s for n, s in median_s.items()},
        per_s_key: {n: calls[n].items / median_s[n] for n in calls},
        "ratios": table(cpu=False),
        "cpu_times_s": timings.cpu,
        "cpu_time_ratios": table(cpu=True),
        "ratio_of_medians": {key: median_s[den] / median_s[num] for key, (num, den) in ratios.items()},
        "flops": {
            n: xla_flops(c.compiled) if c.compiled is not None else float("nan") for n, c in calls.items()
        },
    }


def machine_line(info: Mapping[str, Any]) -> str:
    """One line of :func:`machine_info` for a benchmark's report (with the load average)."""
    load = info.get("load_average")
    return (
        f"Machine: {info['cpu']}, {info['cpu_count']} CPUs, jax {info['jax']} "
        f"({info['platform']}: {info['device_kind']}), Python {info['python']}"
        + (f", XLA_FLAGS={info['xla_flags']!r}" if info.get("xla_flags") else "")
        + (f", load average {', '.join(f'{x:.1f}' for x in load)}" if load else "")
    )


def report(format_report: Callable[[dict[str, Any]], str], json_path: str | None, **payload: Any) -> dict:
    """Prints a benchmark's report and writes its raw numbers; returns :func:`machine_info`.

    ``format_report(info)`` makes the printed text (tables led by :func:`machine_line`); with
    ``json_path`` the file gets ``{"machine": info, **payload}``, the numbers behind the text.
    """
    info = machine_info()
    print(format_report(info))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": info, **payload}, f, indent=1)
    return info


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
