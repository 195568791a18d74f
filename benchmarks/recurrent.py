"""Chiral vs Flax LSTM: forward+backward time over a sequence, side by side.

Variants (one layer, ``--steps`` time steps, ``--batch`` sequences, ``--hidden`` units, float32; the
input is the forecaster's pose+velocity frame, Penn Action 2 x 13 joints x 2 = 52 channels):

* **flax**: ``nnx.RNN(nnx.LSTMCell(52, hidden))`` (Flax's cell: eight dense maps per step);
* **dense (our code)**: :class:`chiral_jax.nn.ChiralLSTM` with specs on which the mirror is the
  identity (``ChiralSpec.invariant``): everything is even, so it is a plain dense LSTM run by our
  implementation (fused gates, input projection hoisted out of the scan). It separates what the
  implementation gains from what the symmetry gains;
* **chiral**: :class:`chiral_jax.nn.ChiralLSTM` from the pose+velocity spec to
  ``ChiralSpec.hidden(hidden)`` (about half the multiply-adds of a dense LSTM).

Each step function is a jitted ``jax.value_and_grad`` of ``sum(outputs ** 2)`` with respect to the
parameters and the input. Timings: median over ``--repeats`` interleaved calls after a warm-up
(each repeat runs every variant once, in a rotating order; the loop is
:func:`chiral_jax.benchmarking.time_interleaved`); ratios are medians of per-repeat ratios.

Run::

    python benchmarks/recurrent.py                  # batch 256, 32 steps, hidden 1024
    python benchmarks/recurrent.py --quick          # tiny sizes, a smoke test in seconds
    python benchmarks/recurrent.py --json rec.json
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import nn
from chiral_jax.benchmarking import BenchmarkParser, report, table, time_interleaved
from chiral_jax.models import pose_velocity_spec
from chiral_jax.skeletons import PENN_ACTION
from chiral_jax.spec import ChiralSpec

DTYPE = jnp.float32
VARIANTS = ("flax", "dense_ours", "chiral")


def _build(name: str, hidden: int) -> nnx.Module:
    in_spec = pose_velocity_spec(PENN_ACTION.spec(2))
    rngs = nnx.Rngs(0)
    if name == "flax":
        return nnx.RNN(nnx.LSTMCell(in_spec.size, hidden, rngs=rngs), rngs=rngs)
    if name == "dense_ours":
        return nn.ChiralLSTM(ChiralSpec.invariant(in_spec.size), ChiralSpec.invariant(hidden), rngs=rngs)
    return nn.ChiralLSTM(in_spec, ChiralSpec.hidden(hidden), rngs=rngs)


def make_step(name: str, hidden: int) -> tuple[Callable[..., Any], Any, int]:
    """``(jitted step, params, parameter count)`` for one variant."""
    model = _build(name, hidden)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p: Any, x: jax.Array) -> jax.Array:
        out = nnx.merge(graphdef, p, rest, copy=True)(x)
        ys = out if name == "flax" else out[0]
        return jnp.sum(jnp.square(ys))

    count = sum(leaf.size for leaf in jax.tree.leaves(params))
    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1))), params, count


def measure(batch: int, steps: int, hidden: int, repeats: int) -> dict[str, Any]:
    x = jax.random.normal(jax.random.key(0), (batch, steps, 52), DTYPE)
    calls, counts = {}, {}
    for name in VARIANTS:
        fn, params, counts[name] = make_step(name, hidden)
        calls[name] = functools.partial(fn, params, x)
    timings = time_interleaved(calls, repeats=repeats)  # the warm-up call compiles
    return {
        "batch": batch,
        "steps": steps,
        "hidden": hidden,
        "repeats": repeats,
        "params": counts,
        "times_s": timings.wall,
        "median_ms": {n: 1e3 * s for n, s in timings.medians().items()},
        "ratio_vs_flax": {n: timings.time_ratio(n, "flax") for n in VARIANTS},
        "ratio_vs_dense_ours": {n: timings.time_ratio(n, "dense_ours") for n in VARIANTS},
    }


def format_table(result: dict[str, Any]) -> list[str]:
    r = result
    labels = {"flax": "flax nnx.RNN(LSTMCell)", "dense_ours": "dense (our code)", "chiral": "chiral"}
    lines = [
        f"LSTM forward+backward over {r['steps']} steps, batch {r['batch']}, 52 -> {r['hidden']} units, "
        f"float32; median of {r['repeats']} interleaved repeats (ratios: median of per-repeat ratios).",
        "",
    ]
    return lines + table(
        ("variant", "params", "median (ms)", "time / flax", "time / dense (our code)"),
        [
            (
                labels[n],
                f"{r['params'][n]:,}",
                f"{r['median_ms'][n]:.1f}",
                f"{r['ratio_vs_flax'][n]:.2f}",
                f"{r['ratio_vs_dense_ours'][n]:.2f}",
            )
            for n in VARIANTS
        ],
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Runs the benchmark, prints the table, returns the raw numbers."""
    parser = BenchmarkParser(__doc__, repeats=(7, 2), seed=None, quick_help="tiny sizes: a smoke test")
    parser.size("--batch", full=256, quick=8)
    parser.size("--steps", full=32, quick=6)
    parser.size("--hidden", full=1024, quick=32)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    result = measure(args.batch, args.steps, args.hidden, args.repeats)
    print(f"# done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    report(format_table(result), args.json, **result)
    return result


if __name__ == "__main__":
    main()
