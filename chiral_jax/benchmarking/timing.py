"""The interleaved timing loop (:func:`time_interleaved`) and what it measured (:class:`Timings`)."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

__all__ = ["Timings", "time_interleaved"]


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
