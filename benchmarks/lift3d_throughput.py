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
  :func:`chiral_jax.tasks.lifting.evaluate` runs it (TTA: two passes,
  :func:`chiral_jax.equivariance.flip_average` in one jit, through the harness's
  :func:`chiral_jax.benchmarking.inference_calls`). The input is already on the device. Inference
  frames/s = infer_batch * chunk / call time.
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
import math
import os
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.benchmarking import (
    CHIRAL_VS_BASELINE_GROUPS,
    CHIRAL_VS_BASELINE_RATIOS,
    BenchmarkParser,
    TimedCall,
    chiral_vs_baseline,
    chiral_vs_baseline_table,
    copy_model,
    inference_calls,
    mark,
    mib,
    report,
    run_rows,
    table,
    train_call,
)
from chiral_jax.tasks import lifting
from chiral_jax.tasks.runner import num_params
from chiral_jax.train import Trainer, amsgrad_torch

TRAIN_TARGET = 1.3  # chiral / baseline training frames/s, same width
INFER_TARGET = 1.8  # chiral single pass / baseline + TTA inference frames/s
SKELETON = skeletons.H36M
DROPOUT = 0.25
MOMENTUM = 0.9  # batch-norm momentum passed to Trainer.step (a traced value: no effect on speed)


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
        return [Row(args.channels, (3, 3))]
    rows = [Row(args.channels, (3, 3, 3)), Row(256, (3, 3, 3))]
    if args.include_243:
        # 9x the strided 27-frame step's FLOPs per window: a smaller batch keeps the row to minutes.
        rows.append(Row(args.channels, (3, 3, 3, 3, 3), batch=args.batch_243))
    return rows


def make_model(kind: str, row: Row, seed: int, dtype: Any = None) -> nnx.Module:
    """The chiral or baseline strided training net of a row, built as the lifting task builds it
    (``dtype``: compute dtype, None = float32)."""
    variant = lifting.Variant(f"{kind}_w{row.channels}", kind, row.channels)
    return lifting.make_model(
        variant, SKELETON, filter_widths=row.filter_widths, dropout=DROPOUT, seed=seed, dtype=dtype
    )


# ---------------------------------------------------------------------------------- variants


def make_variants(
    row: Row, batch: int, infer_batch: int, chunk: int, seed: int, workdir: str, bf16: bool = False
) -> tuple[dict[str, TimedCall], dict[str, int], list[Trainer]]:
    """The timed calls of a row: ``train_chiral``, ``train_baseline``, ``infer_chiral``,
    ``infer_baseline``, ``infer_baseline_tta`` (and ``train_chiral_bf16``, ``train_baseline_bf16``:
    bfloat16 compute, float32 parameters, with ``bf16``); the parameter counts; the trainers (to close)."""
    rng = np.random.default_rng(seed)
    r, j = row.receptive_field, SKELETON.num_joints
    train_batch = {
        "inputs": rng.standard_normal((batch, r, 2 * j)).astype(np.float32),
        "targets": rng.standard_normal((batch, 1, 3 * j)).astype(np.float32),
    }
    x_eval = jnp.asarray(rng.standard_normal((infer_batch, chunk + r - 1, 2 * j)).astype(np.float32))
    variants: dict[str, TimedCall] = {}
    params: dict[str, int] = {}
    eval_models: dict[str, nnx.Module] = {}
    trainers: list[Trainer] = []
    for suffix, dtype in [("", None)] + ([("_bf16", jnp.bfloat16)] if bf16 else []):
        for kind in ("chiral", "baseline"):
            model = make_model(kind, row, seed, dtype)
            if not suffix:
                params[kind] = num_params(model)
                eval_models[kind] = copy_model(model)  # the trainer's steps donate the model's arrays
            trainer = Trainer(
                model,
                amsgrad_torch(1e-3),
                lifting.mpjpe_loss(SKELETON.num_joints),
                workdir=os.path.join(workdir, f"{row.channels}_{r}_{kind}{suffix}"),
                bn_momentum=None,
                progress=False,
            )
            trainers.append(trainer)
            variants[f"train_{kind}{suffix}"] = train_call(trainer, train_batch, batch, MOMENTUM)
    # As lifting.evaluate applies the dilated net (there the state is closed over; here it is an
    # argument, so the memory analysis counts it); the baseline also flip-averaged.
    applies = {kind: lifting.dilated_apply(eval_models[kind], SKELETON) for kind in ("chiral", "baseline")}
    variants.update(inference_calls(applies, x_eval, infer_batch * chunk, SKELETON.spec(2), SKELETON.spec(3)))
    return variants, params, trainers


# ---------------------------------------------------------------------------------- measuring


BF16_GROUPS = (
    ("train_chiral", "train_baseline", "train_chiral_bf16", "train_baseline_bf16"),
    *CHIRAL_VS_BASELINE_GROUPS[1:],
)
BF16_RATIOS = {
    "train_speedup_bf16": ("train_chiral_bf16", "train_baseline_bf16"),  # chiral vs baseline, bf16
    "bf16_speedup_chiral": ("train_chiral_bf16", "train_chiral"),  # bf16 vs f32 step, chiral
    "bf16_speedup_baseline": ("train_baseline_bf16", "train_baseline"),
}


def measure_row(
    row: Row,
    batch: int,
    infer_batch: int,
    chunk: int,
    repeats: int,
    seed: int,
    workdir: str,
    bf16: bool = False,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    batch = row.batch or batch
    variants, params, trainers = make_variants(row, batch, infer_batch, chunk, seed, workdir, bf16)
    setup_s = time.perf_counter() - t0
    # The warm-up calls compile the trainers' steps. Each group's calls run back to back, in a
    # rotating order, so that the calls a ratio compares are as close in time as possible.
    groups = BF16_GROUPS if bf16 else CHIRAL_VS_BASELINE_GROUPS
    ratios = {**CHIRAL_VS_BASELINE_RATIOS, **(BF16_RATIOS if bf16 else {})}
    measured = chiral_vs_baseline(
        variants,
        params,
        repeats=repeats,
        per_s_key="frames_per_s",
        groups=groups,
        ratios=ratios,
        close=trainers,
        memory=True,
    )
    return {
        "row": row.name,
        "channels": row.channels,
        "filter_widths": list(row.filter_widths),
        "receptive_field": row.receptive_field,
        "batch": batch,
        "infer_batch": infer_batch,
        "chunk": chunk,
        **measured,
        "setup_s": setup_s,
        "wall_s": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------- report


def format_table(rows: Sequence[dict[str, Any]], repeats: int) -> list[str]:
    r0 = rows[0]
    lines = [
        f"float32, median of {repeats} interleaved repeats; speedups are medians of per-repeat ratios. "
        f"Training: Trainer.step (value_and_grad of MPJPE + AMSGrad, dropout {DROPOUT}, batch norm), "
        f"strided net, {r0['batch']} windows per step, frames/s = windows/s. Inference: dilated net, "
        f"eval mode, {r0['infer_batch']} chunks x {r0['chunk']} frames per call; TTA = flip averaging "
        "(both passes in one jit).",
        "",
    ]
    lines += chiral_vs_baseline_table(rows, per_s_key="frames_per_s", unit="fr", first="model")
    lines += [
        "",
        "XLA FLOPs per call and compiled memory footprint (MiB; arguments + outputs - donated + "
        "temporaries from the compiled program's memory_analysis(): XLA's planned device buffers, "
        "not the process RSS; the training step's includes params, AMSGrad state, the batch and the "
        "activations kept for the backward pass; the trainer donates its state, so it is counted once):",
        "",
    ]

    def gflop(r: dict[str, Any], *names: str) -> str:
        return " / ".join(f"{r['flops'][n] / 1e9:.3g}" for n in names)

    def mem(r: dict[str, Any], *names: str, field: str = "footprint") -> str:
        return " / ".join(mib(r["memory"].get(n, {}).get(field)) for n in names)

    train, infer = (
        ("train_chiral", "train_baseline"),
        ("infer_chiral", "infer_baseline", "infer_baseline_tta"),
    )
    lines += table(
        (
            "model",
            "train GFLOP chiral / baseline",
            "FLOP ratio",
            "infer GFLOP chiral / baseline / TTA",
            "FLOP ratio",
            "train MiB chiral / baseline",
            "train temp MiB chiral / baseline",
            "infer MiB chiral / baseline / TTA",
        ),
        [
            (
                r["row"],
                gflop(r, *train),
                f"{r['flop_ratio_train']:.3f}",
                gflop(r, *infer),
                f"{r['flop_ratio_infer']:.3f}",
                mem(r, *train),
                mem(r, *train, field="temp_size_in_bytes"),
                mem(r, *infer),
            )
            for r in rows
        ],
    )
    stats = [m for r in rows for m in r["memory"].values() if m]
    fields = sorted({k for m in stats for k in m} - {"footprint"})
    note = f"memory_analysis() fields in this jax: {', '.join(fields) or 'none'} (all in --json)."
    if any(m.get("peak_memory_in_bytes", 0) < m.get("temp_size_in_bytes", 0) for m in stats):
        note += (
            " Here peak_memory_in_bytes is below temp_size_in_bytes (this backend leaves the temporaries"
            " out of it), so the footprint is computed from the buffer sizes instead."
        )
    lines += ["", note]
    if all("train_speedup_bf16" in r["ratios"] for r in rows):
        lines += [
            "",
            "Training step in bfloat16 compute (float32 parameters and batch-norm statistics), same "
            "interleaved group as the float32 steps; step time chiral / baseline (the FLOP limit is ~0.5):",
            "",
        ]
        lines += table(
            (
                "model",
                "train fr/s chiral bf16",
                "train fr/s baseline bf16",
                "step time chiral / baseline f32",
                "same, bf16",
                "bf16 speedup chiral",
                "bf16 speedup baseline",
            ),
            [
                (
                    r["row"],
                    f"{r['frames_per_s']['train_chiral_bf16']:,.0f}",
                    f"{r['frames_per_s']['train_baseline_bf16']:,.0f}",
                    f"{1 / r['ratios']['train_speedup']:.3f}",
                    f"{1 / r['ratios']['train_speedup_bf16']:.3f}",
                    f"{r['ratios']['bf16_speedup_chiral']:.2f}x",
                    f"{r['ratios']['bf16_speedup_baseline']:.2f}x",
                )
                for r in rows
            ],
        )
    lines += ["", "Targets:"]
    for r in rows:
        train, infer = r["ratios"]["train_speedup"], r["ratios"]["infer_speedup_vs_tta"]
        cpu = r["cpu_time_ratios"]
        lines.append(
            f"- {r['row']}: training chiral >= {TRAIN_TARGET}x baseline: {mark(train >= TRAIN_TARGET)} "
            f"({train:.2f}x; by process CPU time {cpu['train_speedup']:.2f}x); inference chiral >= "
            f"{INFER_TARGET}x baseline+TTA: {mark(infer >= INFER_TARGET)} ({infer:.2f}x; by CPU time "
            f"{cpu['infer_speedup_vs_tta']:.2f}x)"
        )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchmarkParser(__doc__, repeats=(10, 2))
    parser.size("--batch", full=1024, quick=64, help="training windows per step")
    parser.size("--infer_batch", full=16, quick=2, help="inference chunks per call")
    parser.size("--chunk", full=64, quick=8, help="output frames per inference chunk")
    parser.size("--channels", full=1024, quick=32, help="width of the headline row")
    parser.add_argument(
        "--include_243", action="store_true", help="also the 243-frame net (W=1024, (3,3,3,3,3)); slow"
    )
    parser.size("--batch_243", full=256, help="training windows per step of the 243-frame row")
    parser.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time the training steps in bfloat16 compute (default: yes; no when --quick)",
    )
    args = parser.parse_args(argv)
    if args.bf16 is None:
        args.bf16 = not args.quick
    n_dev = len(jax.devices())
    if args.batch % n_dev or args.batch_243 % n_dev:
        parser.error(
            f"training batches must be divisible by the {n_dev} devices the trainer splits them over"
        )
    return args


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the tables and returns the rows (raw numbers)."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lift3d_throughput_") as workdir:
        out = run_rows(
            make_rows(args),
            lambda row, i: measure_row(
                row, args.batch, args.infer_batch, args.chunk, args.repeats, args.seed + i, workdir, args.bf16
            ),
            lambda row: row.name,
        )
    report(format_table(out, args.repeats), args.json, repeats=args.repeats, rows=out)
    return out


if __name__ == "__main__":
    main()
