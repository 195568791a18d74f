"""The chiral-vs-baseline row: timed calls (training steps, inference passes, the baseline's test-time
flip average), measured interleaved, and the ratios the benchmarks report; the loop over rows."""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import jax

from chiral_jax.benchmarking.hlo import xla_flops
from chiral_jax.benchmarking.memory import memory_stats
from chiral_jax.benchmarking.timing import time_interleaved
from chiral_jax.equivariance import flip_average

__all__ = [
    "CHIRAL_VS_BASELINE_GROUPS",
    "CHIRAL_VS_BASELINE_RATIOS",
    "TimedCall",
    "chiral_vs_baseline",
    "compare_calls",
    "copy_model",
    "cycle_epochs",
    "eval_apply",
    "inference_calls",
    "run_rows",
    "train_call",
]

R = TypeVar("R")


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
"""The interleaving groups of the chiral-vs-baseline benchmarks: the training steps back to back,
then the three inference calls."""

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

    def ratio_table(cpu: bool) -> dict[str, float]:
        return {key: timings.ratio(num, den, cpu=cpu) for key, (num, den) in ratios.items()}

    return {
        "times_s": timings.wall,
        "median_ms": {n: 1e3 * s for n, s in median_s.items()},
        per_s_key: {n: calls[n].items / median_s[n] for n in calls},
        "ratios": ratio_table(cpu=False),
        "cpu_times_s": timings.cpu,
        "cpu_time_ratios": ratio_table(cpu=True),
        "ratio_of_medians": {key: median_s[den] / median_s[num] for key, (num, den) in ratios.items()},
        "flops": {
            n: xla_flops(c.compiled) if c.compiled is not None else float("nan") for n, c in calls.items()
        },
    }


def chiral_vs_baseline(
    calls: Mapping[str, TimedCall],
    params: Mapping[str, int],
    *,
    repeats: int,
    per_s_key: str,
    groups: Sequence[Sequence[str]] = CHIRAL_VS_BASELINE_GROUPS,
    ratios: Mapping[str, tuple[str, str]] = CHIRAL_VS_BASELINE_RATIOS,
    close: Iterable[Any] = (),
    memory: bool = False,
) -> dict[str, Any]:
    """One chiral-vs-baseline row: :func:`compare_calls` of ``calls`` (``train_chiral``,
    ``train_baseline``, ``infer_chiral``, ``infer_baseline``, ``infer_baseline_tta`` by default),
    then ``close()`` of every object in ``close`` (trainers), even when timing fails.

    Returns :func:`compare_calls`' dict with ``params`` (per kind), ``param_ratio`` (chiral /
    baseline), ``flop_ratio_train`` and ``flop_ratio_infer`` (chiral / baseline, where both calls
    are there) and, with ``memory``, ``memory`` (:func:`memory_stats` per compiled call).
    """
    try:
        measured = compare_calls(calls, repeats=repeats, groups=groups, ratios=ratios, per_s_key=per_s_key)
    finally:
        for c in close:
            c.close()
    out: dict[str, Any] = {"params": dict(params), "param_ratio": params["chiral"] / params["baseline"]}
    out.update(measured)
    flops = measured["flops"]
    for what in ("train", "infer"):
        if f"{what}_chiral" in flops and f"{what}_baseline" in flops:
            out[f"flop_ratio_{what}"] = flops[f"{what}_chiral"] / flops[f"{what}_baseline"]
    if memory:
        out["memory"] = {
            n: memory_stats(c.compiled) if c.compiled is not None else {} for n, c in calls.items()
        }
    return out


def train_call(trainer: Any, batch: Any, items: int, *step_args: Any) -> TimedCall:
    """A :class:`TimedCall` of ``trainer.step(batch, *step_args)`` (blocking on the metrics and the
    new state), with the compiled step (:meth:`~chiral_jax.train.Trainer.compile_step`)."""

    def run() -> Any:
        return trainer.step(batch, *step_args), trainer.state

    return TimedCall(run, items, trainer.compile_step(batch, *step_args))


def copy_model(model: Any) -> Any:
    """A copy of an ``nnx.Module`` with buffers of its own: a trainer's steps donate (delete) the
    arrays of the model it was given, so an evaluation net built beside it needs copies."""
    from flax import nnx

    graphdef, state = nnx.split(model)
    return nnx.merge(graphdef, jax.device_put(state, may_alias=False))


def eval_apply(model: Any) -> tuple[Callable[[Any, Any], Any], Any]:
    """``(apply, state)``: ``apply(state, x)`` runs the eval-mode ``model`` (an ``nnx.Module``, put in
    eval mode) with its state an argument (``nnx.merge`` inside), as the tasks' jitted inference does."""
    from flax import nnx

    model.eval()
    graphdef, state = nnx.split(model)

    def apply(state: Any, x: Any) -> Any:
        return nnx.merge(graphdef, state, copy=True)(x)

    return apply, state


def inference_calls(
    applies: Mapping[str, tuple[Callable[[Any, Any], Any], Any]],
    x: Any,
    items: int,
    in_spec: Any,
    out_spec: Any,
    *,
    flip: Sequence[str] = ("baseline",),
) -> dict[str, TimedCall]:
    """Jitted inference calls on the device input ``x``: ``infer_<kind>`` per ``applies`` entry
    (``kind -> (apply(state, x), state)``, e.g. :func:`eval_apply`), and ``infer_<kind>_tta`` for each
    kind in ``flip``: the test-time flip average :func:`chiral_jax.equivariance.flip_average` of it
    (``0.5 * (F(x) + T_out F(T_in x))``, both passes in one jit). The state is an argument of the
    compiled program, so its memory analysis counts it."""
    calls: dict[str, TimedCall] = {}

    def timed(name: str, fn: Callable[[Any, Any], Any], state: Any) -> None:
        jitted = jax.jit(fn)
        calls[name] = TimedCall(functools.partial(jitted, state, x), items, jitted.lower(state, x).compile())

    for kind, (apply, state) in applies.items():
        timed(f"infer_{kind}", apply, state)
    for kind in flip:
        apply, state = applies[kind]

        def averaged(s: Any, x: Any, apply: Callable[[Any, Any], Any] = apply) -> Any:
            return flip_average(functools.partial(apply, s), in_spec, out_spec)(x)

        timed(f"infer_{kind}_tta", averaged, state)
    return calls


def run_rows(
    rows: Iterable[R], measure: Callable[[R, int], dict[str, Any]], label: Callable[[R], str] = str
) -> list[dict[str, Any]]:
    """``measure(row, index)`` for every row, in order, each announced on stderr when done (with the
    seconds since the first began); returns the measured rows."""
    t0 = time.perf_counter()
    out = []
    for i, row in enumerate(rows):
        out.append(measure(row, i))
        print(f"# {label(row)}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return out


def cycle_epochs(make: Callable[[int], Iterable[Any]]) -> Callable[[], Any]:
    """``next()`` of ``make(epoch)``'s iterator, moving on to the next epoch when one ends."""
    state: dict[str, Any] = {"epoch": 0}
    state["it"] = iter(make(0))

    def call() -> Any:
        try:
            return next(state["it"])
        except StopIteration:
            state["epoch"] += 1
            state["it"] = iter(make(state["epoch"]))
            return next(state["it"])

    return call
