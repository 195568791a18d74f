"""Pose lifting throughput: chiral VideoPose3D vs the dense baseline, side by side in one run.

What is measured, per row (hidden width W, filter widths, receptive field R = prod(filter widths);
H36M skeleton: 17 joints, 34 input / 51 output channels; float32):

* **training**: :class:`chiral_jax.train.Trainer` steps, exactly what ``experiments/lift3d.py``
  runs: the nets of :func:`chiral_jax.tasks.lifting.make_model`, the jitted step over the split
  ``(model, optimizer)`` state (``nnx.merge`` inside the jit, train mode: dropout 0.25 and batch
  norm active), ``nnx.value_and_grad`` of :func:`chiral_jax.tasks.lifting.mpjpe_loss`, the AMSGrad
  update (``amsgrad_torch(1e-3)``), host batch of ``--batch`` windows ``(batch, R, 34)`` put on
  the device every step. Strided net: one output frame per window, so training frames/s = batch /
  step time.
* **inference**: the dilated net in eval mode on ``(--infer_batch, --chunk + R - 1, 34)`` chunks,
  as :func:`chiral_jax.tasks.lifting.predict` feeds it (16 chunks of 64 frames by default): the
  chiral net once, the baseline once, and the baseline with test-time flip averaging (TTA)
  ``0.5 * (y + T_out F(T_in x))``, each through :func:`chiral_jax.tasks.lifting.dilated_apply` as
  :func:`chiral_jax.tasks.lifting.evaluate` runs it (TTA: two passes). The input is already on the
  device. Inference frames/s = infer_batch * chunk / call time.
* **memory**: XLA's buffer assignment of each compiled program
  (``jit(f).lower(...).compile().memory_analysis()``): arguments + outputs - aliased (donated)
  + temporaries. On CPU that is the program's device memory footprint as XLA plans it (an upper
  bound of the live set; it does not count the Python process, the runtime or the host copies of
  the batch). Per training step it covers the resident state (params, batch-norm statistics,
  AMSGrad's three moments), the batch, and every activation kept for the backward pass.
* XLA FLOPs per call (``cost_analysis()``) and parameter counts, to read the time ratios against.

Timings are medians over ``--repeats`` calls after a warm-up call; the variants are interleaved
(each repeat runs the two training steps back to back, then the three inference calls, each group
in a rotating order: :func:`chiral_jax.benchmarking.time_interleaved`) so machine noise hits the
variants a ratio compares alike, and speedups are the median of per-repeat ratios. The speedups
from process CPU time (all threads) are printed beside them as a cross-check on a shared machine.
Targets (the lifting issue): training chiral >= 1.3x baseline frames/s at the same width;
inference chiral single pass >= 1.8x baseline + TTA.

Run::

    python benchmarks/lift3d_throughput.py                   # W=1024 and W=256, 27 frames
    python benchmarks/lift3d_throughput.py --include_243     # also W=1024, 243 frames (slow)
    python benchmarks/lift3d_throughput.py --quick           # tiny sizes, a smoke test in seconds
    python benchmarks/lift3d_throughput.py --repeats 20 --json lift3d.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.benchmarking import Timings, machine_info, time_interleaved, xla_flops
from chiral_jax.tasks import lifting
from chiral_jax.tasks.runner import num_params
from chiral_jax.train import Trainer, amsgrad_torch

TRAIN_TARGET = 1.3  # chiral / baseline training frames/s, same width
INFER_TARGET = 1.8  # chiral single pass / baseline + TTA inference frames/s
SKELETON = skeletons.H36M
DROPOUT = 0.25
MOMENTUM = 0.9  # batch-norm momentum passed to Trainer.step (a traced value: no effect on speed)


# ---------------------------------------------------------------------------------- shared helpers


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


# ---------------------------------------------------------------------------------- rows


@dataclasses.dataclass(frozen=True)
class Row:
    """One benchmarked configuration: hidden width and temporal filter widths."""

    channels: int
    filter_widths: tuple[int, ...]
    batch: int | None = None  # training windows per step; None: --batch

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    @property
    def name(self) -> str:
        extra = "" if self.batch is None else f", batch {self.batch}"
        return f"W={self.channels}, {self.receptive_field} frames{extra}"


def make_rows(args: argparse.Namespace) -> list[Row]:
    if args.quick:
        return [Row(args.channels or 32, (3, 3))]
    rows = [Row(args.channels or 1024, (3, 3, 3)), Row(256, (3, 3, 3))]
    if args.include_243:
        # 9x the strided 27-frame step's FLOPs per window: a smaller batch keeps the row to minutes.
        rows.append(Row(args.channels or 1024, (3, 3, 3, 3, 3), batch=args.batch_243))
    return rows


def make_model(kind: str, row: Row, seed: int) -> nnx.Module:
    """The chiral or baseline strided training net of a row, built as the lifting task builds it."""
    variant = lifting.Variant(f"{kind}_w{row.channels}", kind, row.channels)
    return lifting.make_model(variant, SKELETON, filter_widths=row.filter_widths, dropout=DROPOUT, seed=seed)


# ---------------------------------------------------------------------------------- variants


@dataclasses.dataclass
class Variant:
    """A timed call ``run() -> outputs to block on``, the frames it predicts, and its compiled
    program (for memory and FLOPs)."""

    run: Callable[[], Any]
    frames: int
    compiled: Any


class TrainVariant:
    """A :class:`Trainer` of one model, as the lifting task sets it up (its MPJPE loss): ``run()`` is
    one ``trainer.step(host_batch)``."""

    def __init__(self, model: nnx.Module, batch: dict[str, np.ndarray], workdir: str):
        self.trainer = Trainer(
            model,
            amsgrad_torch(1e-3),
            lifting.mpjpe_loss(SKELETON.num_joints),
            workdir=workdir,
            bn_momentum=None,
            progress=False,
        )
        self.batch = batch

    def compiled(self) -> Any:
        return self.trainer.compile_step(self.batch, MOMENTUM)

    def run(self) -> Any:
        metrics = self.trainer.step(self.batch, MOMENTUM)
        return metrics, self.trainer.state


def make_variants(
    row: Row, batch: int, infer_batch: int, chunk: int, seed: int, workdir: str
) -> tuple[dict[str, Variant], dict[str, int], list[Trainer]]:
    """The five timed calls of a row: ``train_chiral``, ``train_baseline``, ``infer_chiral``,
    ``infer_baseline``, ``infer_baseline_tta``; the parameter counts; the two trainers (to close)."""
    rng = np.random.default_rng(seed)
    r, j = row.receptive_field, SKELETON.num_joints
    train_batch = {
        "inputs": rng.standard_normal((batch, r, 2 * j)).astype(np.float32),
        "targets": rng.standard_normal((batch, 1, 3 * j)).astype(np.float32),
    }
    x_eval = jnp.asarray(rng.standard_normal((infer_batch, chunk + r - 1, 2 * j)).astype(np.float32))
    variants: dict[str, Variant] = {}
    params: dict[str, int] = {}
    eval_models: dict[str, nnx.Module] = {}
    trainers: list[Trainer] = []
    for kind in ("chiral", "baseline"):
        model = make_model(kind, row, seed)
        params[kind] = num_params(model)
        # The evaluation net gets copies of the weights: the trainer's steps donate (delete) the
        # arrays of the model it was given.
        graphdef, state = nnx.split(model)
        eval_models[kind] = nnx.merge(graphdef, jax.device_put(state, may_alias=False))
        tv = TrainVariant(model, train_batch, os.path.join(workdir, f"{row.channels}_{r}_{kind}"))
        trainers.append(tv.trainer)
        variants[f"train_{kind}"] = Variant(tv.run, batch, tv.compiled())
    for name, kind, tta in (
        ("infer_chiral", "chiral", False),
        ("infer_baseline", "baseline", False),
        ("infer_baseline_tta", "baseline", True),
    ):
        # As lifting.evaluate applies it (there the state is closed over; here it is an argument, so
        # the memory analysis counts it).
        apply, state = lifting.dilated_apply(eval_models[kind], SKELETON, flip_average=tta)
        jitted = jax.jit(apply)

        def run(jitted: Callable[..., Any] = jitted, state: Any = state) -> Any:
            return jitted(state, x_eval)

        variants[name] = Variant(run, infer_batch * chunk, jitted.lower(state, x_eval).compile())
    return variants, params, trainers


# ---------------------------------------------------------------------------------- measuring


GROUPS = (("train_chiral", "train_baseline"), ("infer_chiral", "infer_baseline", "infer_baseline_tta"))
RATIOS = {
    # name: (numerator time, denominator time): frames/s ratio = denominator time / numerator time
    "train_speedup": ("train_chiral", "train_baseline"),
    "infer_speedup": ("infer_chiral", "infer_baseline"),
    "infer_speedup_vs_tta": ("infer_chiral", "infer_baseline_tta"),
}


def measure_row(
    row: Row, batch: int, infer_batch: int, chunk: int, repeats: int, seed: int, workdir: str
) -> dict[str, Any]:
    t0 = time.perf_counter()
    batch = row.batch or batch
    variants, params, trainers = make_variants(row, batch, infer_batch, chunk, seed, workdir)
    setup_s = time.perf_counter() - t0
    # The warm-up calls compile the trainers' steps. Each group's calls run back to back, in a
    # rotating order, so that the calls a ratio compares are as close in time as possible.
    try:
        timings = time_interleaved({n: v.run for n, v in variants.items()}, repeats=repeats, groups=GROUPS)
    finally:
        for trainer in trainers:
            trainer.close()
    median_s = timings.medians()
    fps = {n: variants[n].frames / median_s[n] for n in variants}

    # Median of per-repeat ratios: the calls of one repeat run back to back, so a load change on the
    # machine between repeats moves numerator and denominator together.
    def ratios(t: Timings, cpu: bool) -> dict[str, float]:
        return {key: t.ratio(num, den, cpu=cpu) for key, (num, den) in RATIOS.items()}

    memory = {n: memory_stats(v.compiled) for n, v in variants.items()}
    flops = {n: xla_flops(v.compiled) for n, v in variants.items()}
    return {
        "row": row.name,
        "channels": row.channels,
        "filter_widths": list(row.filter_widths),
        "receptive_field": row.receptive_field,
        "batch": batch,
        "infer_batch": infer_batch,
        "chunk": chunk,
        "params": params,
        "param_ratio": params["chiral"] / params["baseline"],
        "times_s": timings.wall,
        "median_ms": {n: 1e3 * s for n, s in median_s.items()},
        "frames_per_s": fps,
        "ratios": ratios(timings, cpu=False),
        # The same from process CPU time (every thread): insensitive to time slicing on a shared
        # machine, but it counts the thread pool's spinning; a cross-check, not the headline.
        "cpu_times_s": timings.cpu,
        "cpu_time_ratios": ratios(timings, cpu=True),
        "ratio_of_medians": {key: median_s[den] / median_s[num] for key, (num, den) in RATIOS.items()},
        "flops": flops,
        "flop_ratio_train": flops["train_chiral"] / flops["train_baseline"],
        "flop_ratio_infer": flops["infer_chiral"] / flops["infer_baseline"],
        "memory": memory,
        "setup_s": setup_s,
        "wall_s": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------- report


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.0f}" if n >= 2**24 else f"{n / 2**20:.1f}"


def _mark(ok: bool) -> str:
    return "yes" if ok else "NO"


def format_table(rows: Sequence[dict[str, Any]], info: dict[str, Any], repeats: int) -> str:
    r0 = rows[0]
    lines = [
        f"Machine: {info['cpu']}, {info['cpu_count']} CPUs, jax {info['jax']} "
        f"({info['platform']}: {info['device_kind']}), Python {info['python']}"
        + (f", XLA_FLAGS={info['xla_flags']!r}" if info["xla_flags"] else ""),
        f"float32, median of {repeats} interleaved repeats; speedups are medians of per-repeat ratios. "
        f"Training: Trainer.step (value_and_grad of MPJPE + AMSGrad, dropout {DROPOUT}, batch norm), "
        f"strided net, {r0['batch']} windows per step, frames/s = windows/s. Inference: dilated net, "
        f"eval mode, {r0['infer_batch']} chunks x {r0['chunk']} frames per call.",
        "",
        "| model | params chiral / baseline | train fr/s chiral | train fr/s baseline | train speedup "
        "| infer fr/s chiral | infer fr/s baseline | infer fr/s baseline+TTA | infer speedup vs baseline "
        "| infer speedup vs TTA |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, q, p = r["frames_per_s"], r["ratios"], r["params"]
        lines.append(
            f"| {r['row']} | {p['chiral']:,} / {p['baseline']:,} = {r['param_ratio']:.3f} "
            f"| {f['train_chiral']:,.0f} | {f['train_baseline']:,.0f} | **{q['train_speedup']:.2f}x** "
            f"| {f['infer_chiral']:,.0f} | {f['infer_baseline']:,.0f} | {f['infer_baseline_tta']:,.0f} "
            f"| {q['infer_speedup']:.2f}x | **{q['infer_speedup_vs_tta']:.2f}x** |"
        )
    lines += [
        "",
        "XLA FLOPs per call and compiled memory footprint (MiB; arguments + outputs - donated + "
        "temporaries from the compiled program's memory_analysis(): XLA's planned device buffers, "
        "not the process RSS; the training step's includes params, AMSGrad state, the batch and the "
        "activations kept for the backward pass; the trainer donates its state, so it is counted once):",
        "",
        "| model | train GFLOP chiral / baseline | FLOP ratio | infer GFLOP chiral / baseline / TTA "
        "| FLOP ratio | train MiB chiral / baseline | train temp MiB chiral / baseline "
        "| infer MiB chiral / baseline / TTA |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fl, m = r["flops"], r["memory"]

        def mem(name: str, field: str = "footprint", m: dict[str, Any] = m) -> str:
            return _mib(m.get(name, {}).get(field))

        lines.append(
            f"| {r['row']} | {fl['train_chiral'] / 1e9:.3g} / {fl['train_baseline'] / 1e9:.3g} "
            f"| {r['flop_ratio_train']:.3f} | {fl['infer_chiral'] / 1e9:.3g} / "
            f"{fl['infer_baseline'] / 1e9:.3g} / {fl['infer_baseline_tta'] / 1e9:.3g} "
            f"| {r['flop_ratio_infer']:.3f} | {mem('train_chiral')} / {mem('train_baseline')} "
            f"| {mem('train_chiral', 'temp_size_in_bytes')} / {mem('train_baseline', 'temp_size_in_bytes')} "
            f"| {mem('infer_chiral')} / {mem('infer_baseline')} / {mem('infer_baseline_tta')} |"
        )
    stats = [m for r in rows for m in r["memory"].values() if m]
    fields = sorted({k for m in stats for k in m} - {"footprint"})
    note = f"memory_analysis() fields in this jax: {', '.join(fields) or 'none'} (all in --json)."
    if any(m.get("peak_memory_in_bytes", 0) < m.get("temp_size_in_bytes", 0) for m in stats):
        note += (
            " Here peak_memory_in_bytes is below temp_size_in_bytes (this backend leaves the temporaries"
            " out of it), so the footprint is computed from the buffer sizes instead."
        )
    lines += ["", note, "", "Targets:"]
    for r in rows:
        train, infer = r["ratios"]["train_speedup"], r["ratios"]["infer_speedup_vs_tta"]
        cpu = r["cpu_time_ratios"]
        lines.append(
            f"- {r['row']}: training chiral >= {TRAIN_TARGET}x baseline: {_mark(train >= TRAIN_TARGET)} "
            f"({train:.2f}x; by process CPU time {cpu['train_speedup']:.2f}x); inference chiral >= "
            f"{INFER_TARGET}x baseline+TTA: {_mark(infer >= INFER_TARGET)} ({infer:.2f}x; by CPU time "
            f"{cpu['infer_speedup_vs_tta']:.2f}x)"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed calls per variant (default 10; 2 quick)"
    )
    parser.add_argument(
        "--batch", type=int, default=None, help="training windows per step (default 1024; 64 quick)"
    )
    parser.add_argument(
        "--infer_batch", type=int, default=None, help="inference chunks per call (default 16; 2 quick)"
    )
    parser.add_argument(
        "--chunk", type=int, default=None, help="output frames per inference chunk (default 64; 8 quick)"
    )
    parser.add_argument(
        "--channels", type=int, default=None, help="width of the headline row (default 1024; 32 quick)"
    )
    parser.add_argument(
        "--include_243", action="store_true", help="also the 243-frame net (W=1024, (3,3,3,3,3)); slow"
    )
    parser.add_argument(
        "--batch_243", type=int, default=256, help="training windows per step of the 243-frame row"
    )
    parser.add_argument("--json", type=str, default=None, help="write the raw numbers to this path")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test that runs in seconds")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the tables and returns the rows (raw numbers)."""
    args = parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (2 if quick else 10)
    batch = args.batch or (64 if quick else 1024)
    infer_batch = args.infer_batch or (2 if quick else 16)
    chunk = args.chunk or (8 if quick else 64)
    if min(repeats, batch, infer_batch, chunk, args.batch_243) < 1:
        raise SystemExit("--repeats, --batch, --batch_243, --infer_batch and --chunk must be >= 1")
    n_dev = len(jax.devices())
    if batch % n_dev or args.batch_243 % n_dev:
        raise SystemExit(
            f"training batches must be divisible by the {n_dev} devices the trainer splits them over"
        )
    t0 = time.perf_counter()
    out = []
    with tempfile.TemporaryDirectory(prefix="lift3d_throughput_") as workdir:
        for i, row in enumerate(make_rows(args)):
            out.append(measure_row(row, batch, infer_batch, chunk, repeats, args.seed + i, workdir))
            print(f"# {row.name}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    info = machine_info()
    print(format_table(out, info, repeats))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "repeats": repeats, "rows": out}, f, indent=1)
    return out


if __name__ == "__main__":
    main()
