"""Chiral vs dense layers: forward+backward time, XLA FLOPs and parameter counts, side by side.

What is measured, per layer (VideoPose3D shapes, a batch of ``--batch`` windows, float32):

* a jitted ``jax.value_and_grad`` of ``sum(y ** 2)`` with respect to ``(params, x)`` -- one
  forward+backward step of the layer alone;
* **dense**: a plain layer with a dense ``(in, out)`` kernel (``(k, in, out)`` for convs) and a dense
  bias, through :func:`chiral_jax.functional.conv1d_dense` with ``impl="matmul"`` (slices + one
  matmul, what the chiral path uses) and, for convs, also ``impl="xla"``
  (``lax.conv_general_dilated``). Time ratios are taken against the *fastest* dense implementation
  of each row (named in the table);
* **chiral (arrays)**: :func:`chiral_jax.functional.linear` / ``conv1d`` on the free parameters
  (default ``path="even_odd"``), plain channel arrays in and out: split, two half-size
  contractions, merge -- what a user calling one layer on plain arrays pays;
* **chiral (even/odd)**: the same layer on :class:`chiral_jax.basis.EvenOdd` input and output, the way a
  network chains layers (split once at the input, merge once at the output). For the 34-channel
  input rows this means a pre-split pose, which a network would split itself at O(34) cost.

Timings are medians over ``--repeats`` calls after a warm-up call; the variants are interleaved
(each repeat runs every variant once, in a rotating order) so machine noise hits them alike, and
time ratios are the median of the per-repeat ratios (robust to load changes between repeats; the
loop is :func:`chiral_jax.benchmarking.time_interleaved`). FLOPs come from XLA's cost analysis of
the compiled step (``jit(f).lower(...).compile().cost_analysis()``).
Targets (docs/design.md section 5): FLOPs <= 0.55x dense, time <= 0.6x the fastest dense.

Run::

    python benchmarks/layers.py                      # full size, prints a markdown table
    python benchmarks/layers.py --repeats 20 --json layers.json
    python benchmarks/layers.py --quick              # tiny sizes, a smoke test in seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from chiral_jax import functional, tying
from chiral_jax.basis import EvenOdd, to_even_odd
from chiral_jax.benchmarking import (
    BenchmarkParser,
    mark,
    report,
    run_rows,
    table,
    time_interleaved,
    xla_flops,
)
from chiral_jax.skeletons import H36M
from chiral_jax.spec import ChiralSpec

FLOP_TARGET = 0.55
TIME_TARGET = 0.6
DTYPE = jnp.float32


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmarked layer: ``linear`` on ``(batch, c_in)`` or ``conv1d`` on ``(batch, frames, c_in)``."""

    name: str
    kind: str  # "linear" or "conv1d"
    in_spec: ChiralSpec
    out_spec: ChiralSpec
    kernel_size: int = 1
    dilation: int = 1
    frames: int = 1

    @property
    def c_in(self) -> int:
        return self.in_spec.size

    @property
    def c_out(self) -> int:
        return self.out_spec.size

    @property
    def frames_out(self) -> int:
        return self.frames - self.dilation * (self.kernel_size - 1)

    def input_shape(self, batch: int) -> tuple[int, ...]:
        if self.kind == "linear":
            return (batch, self.c_in)
        return (batch, self.frames, self.c_in)

    def shape_str(self, batch: int) -> str:
        if self.kind == "linear":
            return f"({batch}, {self.c_in}) -> ({batch}, {self.c_out})"
        return f"({batch}, {self.frames}, {self.c_in}) -> ({batch}, {self.frames_out}, {self.c_out})"


def make_cases(hidden: int) -> list[Case]:
    """The VideoPose3D layers: 2D pose (17 joints x 2 = 34 channels) in, ``hidden`` features.

    Frames per row keep the run short while matching the shapes the model sees: 3 frames -> 1 for the
    k=3 input conv (the strided training model), 9 -> 3 for the dilation-3 conv, 1 frame for k=1.
    """
    pose = H36M.spec(2)
    h = ChiralSpec.hidden(hidden)
    return [
        Case(f"linear {pose.size}->{hidden}", "linear", pose, h),
        Case(f"linear {hidden}->{hidden}", "linear", h, h),
        Case(f"conv1d {pose.size}->{hidden} k=3", "conv1d", pose, h, kernel_size=3, frames=3),
        Case(f"conv1d {hidden}->{hidden} k=3 d=3", "conv1d", h, h, kernel_size=3, dilation=3, frames=9),
        Case(f"conv1d {hidden}->{hidden} k=1", "conv1d", h, h, kernel_size=1, frames=1),
    ]


# ---------------------------------------------------------------------------------- step functions


def _sum_sq(y: jax.Array | EvenOdd) -> jax.Array:
    # The even/odd basis is orthonormal: the sum of squares is the same in both bases.
    return sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree_util.tree_leaves(y))


def _step(apply: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``(params, x) -> (loss, (d params, d x))`` for ``loss = sum(apply(params, x) ** 2)``."""
    return jax.value_and_grad(lambda p, x: _sum_sq(apply(p, x)), argnums=(0, 1))


Variant = tuple[Callable[..., Any], tuple[Any, ...]]
"""A step function and the arguments it is timed on."""


def make_variants(case: Case, batch: int, key: jax.Array) -> dict[str, Variant]:
    """Step functions and their arguments: ``dense_matmul``, ``dense_xla`` (convs),
    ``chiral_arrays``, ``chiral_even_odd``."""
    k_x, k_c, k_d = jax.random.split(key, 3)
    x = jax.random.normal(k_x, case.input_shape(batch), DTYPE)
    x_eo = to_even_odd(x, case.in_spec)
    x_eo = EvenOdd(jnp.asarray(x_eo.even), jnp.asarray(x_eo.odd))
    bias_c = jnp.zeros((case.out_spec.num_even,), DTYPE)
    bias_d = jnp.zeros((case.c_out,), DTYPE)
    variants: dict[str, Variant] = {}
    if case.kind == "linear":
        kernel_c = tying.init_linear(k_c, case.in_spec, case.out_spec, dtype=DTYPE)
        kernel_d = jax.nn.initializers.lecun_normal()(k_d, (case.c_in, case.c_out), DTYPE)

        def dense(p: Any, h: jax.Array) -> jax.Array:
            return jnp.matmul(h, p[0]) + p[1].reshape(1, -1)

        def chiral(p: Any, h: Any) -> Any:
            return functional.linear(h, p[0], case.in_spec, case.out_spec, p[1])

        variants["dense_matmul"] = (_step(dense), ((kernel_d, bias_d), x))
    else:
        k = case.kernel_size
        kernel_c = tying.init_conv(k_c, case.in_spec, case.out_spec, k, dtype=DTYPE)
        kernel_d = jax.nn.initializers.lecun_normal()(k_d, (k, case.c_in, case.c_out), DTYPE)

        def dense_impl(impl: str) -> Callable[[Any, jax.Array], jax.Array]:
            def dense(p: Any, h: jax.Array) -> jax.Array:
                return functional.conv1d_dense(h, p[0], p[1], dilation=case.dilation, impl=impl)

            return dense

        def chiral(p: Any, h: Any) -> Any:
            return functional.conv1d(h, p[0], case.in_spec, case.out_spec, p[1], dilation=case.dilation)

        variants["dense_matmul"] = (_step(dense_impl("matmul")), ((kernel_d, bias_d), x))
        variants["dense_xla"] = (_step(dense_impl("xla")), ((kernel_d, bias_d), x))
    variants["chiral_arrays"] = (_step(chiral), ((kernel_c, bias_c), x))
    variants["chiral_even_odd"] = (_step(chiral), ((kernel_c, bias_c), x_eo))
    return variants


# ---------------------------------------------------------------------------------- measuring


def measure_case(case: Case, batch: int, repeats: int, key: jax.Array) -> dict[str, Any]:
    """Compiles every variant, then times them interleaved; returns the raw numbers of one row."""
    variants = make_variants(case, batch, key)
    calls: dict[str, Callable[[], Any]] = {}
    flops: dict[str, float] = {}
    for name, (fn, args) in variants.items():
        compiled = jax.jit(fn).lower(*args).compile()
        flops[name] = xla_flops(compiled)
        calls[name] = functools.partial(compiled, *args)
    timings = time_interleaved(calls, repeats=repeats)
    times = timings.wall
    median_ms = {name: 1e3 * s for name, s in timings.medians().items()}
    fastest = min((n for n in calls if n.startswith("dense")), key=lambda n: median_ms[n])

    k = case.kernel_size
    if case.kind == "linear":
        params_chiral = tying.num_free_linear(case.in_spec, case.out_spec)
    else:
        params_chiral = tying.num_free_conv(case.in_spec, case.out_spec, k)
    params_chiral += tying.num_free_bias(case.out_spec)
    params_dense = k * case.c_in * case.c_out + case.c_out
    return {
        "layer": case.name,
        "kind": case.kind,
        "c_in": case.c_in,
        "c_out": case.c_out,
        "kernel_size": k,
        "dilation": case.dilation,
        "frames_in": case.frames if case.kind == "conv1d" else None,
        "frames_out": case.frames_out if case.kind == "conv1d" else None,
        "batch": batch,
        "shape": case.shape_str(batch),
        "params_chiral": params_chiral,
        "params_dense": params_dense,
        "param_ratio": params_chiral / params_dense,
        "flops": flops,
        "flop_ratio_arrays": flops["chiral_arrays"] / flops["dense_matmul"],
        "flop_ratio_even_odd": flops["chiral_even_odd"] / flops["dense_matmul"],
        "times_s": times,
        "median_ms": median_ms,
        "fastest_dense": fastest,
        "time_ratio_arrays": timings.time_ratio("chiral_arrays", fastest),
        "time_ratio_even_odd": timings.time_ratio("chiral_even_odd", fastest),
        "ratio_of_medians_arrays": median_ms["chiral_arrays"] / median_ms[fastest],
        "ratio_of_medians_even_odd": median_ms["chiral_even_odd"] / median_ms[fastest],
    }


# ---------------------------------------------------------------------------------- report


def format_table(rows: Sequence[dict[str, Any]], repeats: int) -> list[str]:
    lines = [
        f"Forward+backward (value_and_grad of sum(y**2) w.r.t. params and x), float32, median of "
        f"{repeats} interleaved repeats. Ratios: chiral / fastest dense (time; median of per-repeat "
        "ratios), chiral / dense matmul (XLA FLOPs).",
        "",
    ]

    def cell(r: dict[str, Any], name: str) -> str:
        if name not in r["median_ms"]:
            return "n/a"
        s = f"{r['median_ms'][name]:.1f}"
        return f"**{s}**" if name == r["fastest_dense"] else s

    lines += table(
        (
            "layer",
            "shape (in -> out)",
            "params chiral/dense",
            "dense GFLOP",
            "FLOP ratio arrays / even-odd",
            "dense matmul (ms)",
            "dense XLA conv (ms)",
            "chiral arrays (ms)",
            "chiral even/odd (ms)",
            "time ratio arrays",
            "time ratio even/odd",
        ),
        [
            (
                r["layer"],
                r["shape"],
                f"{r['params_chiral']:,}/{r['params_dense']:,} = {r['param_ratio']:.3f}",
                f"{r['flops']['dense_matmul'] / 1e9:.3g}",
                f"{r['flop_ratio_arrays']:.3f} / {r['flop_ratio_even_odd']:.3f}",
                cell(r, "dense_matmul"),
                cell(r, "dense_xla"),
                cell(r, "chiral_arrays"),
                cell(r, "chiral_even_odd"),
                f"{r['time_ratio_arrays']:.2f}",
                f"{r['time_ratio_even_odd']:.2f}",
            )
            for r in rows
        ],
    )
    lines += ["", "Fastest dense implementation in **bold**.", "", "Targets:"]
    for r in rows:
        flops_ok = (r["flop_ratio_arrays"] <= FLOP_TARGET, r["flop_ratio_even_odd"] <= FLOP_TARGET)
        time_ok = (r["time_ratio_arrays"] <= TIME_TARGET, r["time_ratio_even_odd"] <= TIME_TARGET)
        lines.append(
            f"- {r['layer']}: FLOPs <= {FLOP_TARGET}: arrays {mark(flops_ok[0])}, even/odd "
            f"{mark(flops_ok[1])}; time <= {TIME_TARGET}: arrays {mark(time_ok[0])}, even/odd "
            f"{mark(time_ok[1])}"
        )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchmarkParser(__doc__, repeats=(15, 3))
    parser.size("--batch", full=1024, quick=32, help="windows per batch")
    parser.size("--hidden", full=1024, quick=128, minimum=2, help="hidden channels")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the table and returns the rows (raw numbers)."""
    args = parse_args(argv)
    key = jax.random.key(args.seed)
    rows = run_rows(
        make_cases(args.hidden),
        lambda case, i: measure_case(case, args.batch, args.repeats, jax.random.fold_in(key, i)),
        lambda case: case.name,
    )
    report(format_table(rows, args.repeats), args.json, repeats=args.repeats, rows=rows)
    return rows


if __name__ == "__main__":
    main()
