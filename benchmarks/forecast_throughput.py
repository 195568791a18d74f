"""Pose forecasting throughput: the chiral seq2seq forecaster vs its plain baseline, side by side in one run.

What is measured, per row (recurrent cell, layers, hidden width W, batch B; Penn Action 2D poses:
13 joints x (x, y) = 26 channels; 2 observed + 16 forecast frames; float32):

* **training**: :class:`chiral_jax.train.Trainer` steps of the nets of
  :func:`chiral_jax.tasks.forecasting.make_model` (the model config of
  ``experiments/configs/forecast2d.py``, with ``--cell``, ``--layers`` and the row's width
  overriding it): the jitted step over the split ``(model, optimizer)`` state in train mode
  (teacher forcing with the config's probability, ``train.teacher_forcing``; dropout as
  configured), ``nnx.value_and_grad`` of :func:`chiral_jax.tasks.forecasting.forecast_loss`, an
  ``optax.adam(1e-3)`` update (no gradient clipping, unlike the task's ``clip_by_global_norm``), and a host
  batch (``observed`` (B, 2, 26), ``targets`` (B, 16, 26), ``visible`` (B, 16, 13)) put on the
  device every step. Training samples/s = B / step time.
* **inference**: the eval-mode forecaster (free-running decoding) on ``(--infer_batch, 2, 26)``
  observed poses already on the device, one jitted call as
  :func:`chiral_jax.tasks.forecasting.forecast` builds it (``nnx.merge`` inside the jit; here the
  state is an argument, not closed over, and no host round trip is timed): the chiral net once,
  the baseline once, and the baseline with test-time flip averaging (TTA)
  ``0.5 * (F(x) + T F(T x))``, ``T`` the Penn Action mirror (two passes in one jit:
  :func:`chiral_jax.equivariance.flip_average` through :func:`chiral_jax.benchmarking.inference_calls`).
  Inference samples/s = infer batch / call time.
* XLA FLOPs per call (``cost_analysis()`` of each compiled program) and parameter counts, to read the
  time ratios against. XLA's cost analysis counts the body of a loop (``lax.scan``: the encoder's
  and decoder's time steps) once, not once per iteration, so the absolute FLOPs undercount the
  recurrent work; both nets have the same loops, so the chiral / baseline ratio still compares like
  with like (recurrent cells, read-out, normalisation, loss and optimizer each once).

Timings are medians over ``--repeats`` calls after a warm-up call; the variants are interleaved
(each repeat runs the two training steps back to back, then the three inference calls, each group
in a rotating order: :func:`chiral_jax.benchmarking.time_interleaved`) so machine noise hits the
variants a ratio compares alike, and speedups are the median of per-repeat ratios. The speedups
from process CPU time (all threads) are printed beside them as a cross-check on a shared machine.

Run::

    python benchmarks/forecast_throughput.py                      # 2-layer LSTM, W=256 and W=1024
    python benchmarks/forecast_throughput.py --quick              # tiny sizes, a smoke test in seconds
    python benchmarks/forecast_throughput.py --cell gru --hidden 512 --repeats 20 --json fc.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.benchmarking import (
    BenchmarkParser,
    TimedCall,
    chiral_vs_baseline,
    chiral_vs_baseline_table,
    copy_model,
    eval_apply,
    inference_calls,
    report,
    run_rows,
    table,
    train_call,
)
from chiral_jax.tasks import forecasting
from chiral_jax.tasks.configs import load_config_file
from chiral_jax.tasks.runner import num_params
from chiral_jax.train import Trainer

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "forecast2d.py"
POSE = skeletons.PENN_ACTION.spec(2)  # 13 joints x (x, y), x negated
VISIBLE_P = 0.9  # fraction of visible target joints in the random batches
KINDS = ("chiral", "baseline")


# ---------------------------------------------------------------------------------- rows


@dataclasses.dataclass(frozen=True)
class Row:
    """One benchmarked configuration: recurrent cell, stacked layers, hidden width, batch."""

    cell: str
    layers: int
    hidden: int
    batch: int
    infer_batch: int

    @property
    def name(self) -> str:
        return f"{self.layers}-layer {self.cell.upper()}, W={self.hidden}, batch {self.batch}"


def make_rows(args: argparse.Namespace) -> list[Row]:
    infer_batch = args.infer_batch or args.batch
    return [Row(args.cell, args.layers, w, args.batch, infer_batch) for w in args.hidden]


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a row takes from the forecasting config: the model section (with the row's cell, layers
    and width), the teacher-forcing probability, the observed and forecast frames."""

    model: ml_collections.ConfigDict
    teacher_forcing: float
    observed: int
    future: int


def load_setup(config_file: str, row: Row) -> Setup:
    config = load_config_file(config_file)
    model = config.model
    model.cell, model.layers, model.hidden = row.cell, row.layers, row.hidden
    return Setup(
        model, float(config.train.teacher_forcing), int(config.data.observed), int(config.data.future)
    )


def build_model(variant: forecasting.Variant, setup: Setup, seed: int) -> nnx.Module:
    """:func:`chiral_jax.tasks.forecasting.make_model` as the forecasting task calls it."""
    return forecasting.make_model(
        variant, setup.model, horizon=setup.future, teacher_forcing=setup.teacher_forcing, seed=seed
    )


# ---------------------------------------------------------------------------------- variants


def random_batch(rng: np.random.Generator, batch: int, observed: int, future: int) -> dict[str, np.ndarray]:
    """A host training batch of the forecasting task's layout (random poses and visibility)."""
    size, joints = POSE.size, POSE.num_joints
    return {
        "observed": rng.standard_normal((batch, observed, size)).astype(np.float32),
        "targets": rng.standard_normal((batch, future, size)).astype(np.float32),
        "visible": rng.random((batch, future, joints)) < VISIBLE_P,
    }


def make_variants(
    row: Row, setup: Setup, seed: int, workdir: str
) -> tuple[dict[str, TimedCall], dict[str, int], list[Trainer]]:
    """The five timed calls of a row: ``train_chiral``, ``train_baseline``, ``infer_chiral``,
    ``infer_baseline``, ``infer_baseline_tta``; the parameter counts; the two trainers (to close)."""
    rng = np.random.default_rng(seed)
    train_batch = random_batch(rng, row.batch, setup.observed, setup.future)
    x_eval = rng.standard_normal((row.infer_batch, setup.observed, POSE.size)).astype(np.float32)
    x_eval = jnp.asarray(x_eval)
    variants: dict[str, TimedCall] = {}
    params: dict[str, int] = {}
    eval_models: dict[str, nnx.Module] = {}
    trainers: list[Trainer] = []
    for kind in KINDS:
        variant = forecasting.Variant(f"{kind}_h{row.hidden}", kind, row.hidden)
        model = build_model(variant, setup, seed)
        params[kind] = num_params(model)
        eval_models[kind] = copy_model(model)  # the trainer's steps donate the model's arrays
        trainer = Trainer(
            model,
            optax.adam(1e-3),
            forecasting.forecast_loss,
            workdir=os.path.join(workdir, f"{row.cell}_{row.layers}_{row.hidden}_{kind}"),
            bn_momentum=None,
            progress=False,
        )
        trainers.append(trainer)
        variants[f"train_{kind}"] = train_call(trainer, train_batch, row.batch)
    # As forecasting.forecast builds the eval-mode call (the state an argument here, not closed over);
    # the baseline also flip-averaged with the Penn Action mirror.
    applies = {kind: eval_apply(eval_models[kind]) for kind in KINDS}
    variants.update(inference_calls(applies, x_eval, row.infer_batch, POSE, POSE))
    return variants, params, trainers


# ---------------------------------------------------------------------------------- measuring


def measure_row(row: Row, config_file: str, repeats: int, seed: int, workdir: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    setup = load_setup(config_file, row)
    variants, params, trainers = make_variants(row, setup, seed, workdir)
    setup_s = time.perf_counter() - t0
    measured = chiral_vs_baseline(
        variants, params, repeats=repeats, per_s_key="samples_per_s", close=trainers
    )
    return {
        "row": row.name,
        "cell": row.cell,
        "layers": row.layers,
        "hidden": row.hidden,
        "batch": row.batch,
        "infer_batch": row.infer_batch,
        "observed": setup.observed,
        "future": setup.future,
        "teacher_forcing": setup.teacher_forcing,
        "dropout": float(setup.model.dropout),
        **measured,
        "setup_s": setup_s,
        "wall_s": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------- report


def format_table(rows: Sequence[dict[str, Any]], repeats: int) -> list[str]:
    r0 = rows[0]
    lines = [
        f"float32, {r0['observed']} observed + {r0['future']} forecast frames, median of {repeats} "
        "interleaved repeats; speedups are medians of per-repeat ratios (samples/s chiral / baseline). "
        f"Training: Trainer.step (value_and_grad of forecast_loss + Adam, teacher forcing "
        f"{r0['teacher_forcing']}, dropout {r0['dropout']}), host batch. Inference: eval mode, "
        "free-running, one jitted call on a device batch; TTA = flip averaging (two passes, one jit).",
        "",
    ]
    lines += chiral_vs_baseline_table(
        rows,
        per_s_key="samples_per_s",
        unit="samples",
        extra={
            "FLOP ratio train / infer": lambda r: f"{r['flop_ratio_train']:.3f} / {r['flop_ratio_infer']:.3f}"
        },
    )
    lines += [
        "",
        "XLA FLOPs per compiled program (loop bodies counted once, not per time step: compare ratios, "
        "not absolute values), the single-pass inference speedup, and the speedups by process CPU time:",
        "",
    ]

    def mflop(r: dict[str, Any], *names: str) -> str:
        return " / ".join(f"{r['flops'][n] / 1e6:.4g}" for n in names)

    lines += table(
        (
            "row",
            "train MFLOP chiral / baseline",
            "infer MFLOP chiral / baseline / TTA",
            "infer speedup vs baseline",
            "CPU-time speedup train / infer vs TTA",
        ),
        [
            (
                r["row"],
                mflop(r, "train_chiral", "train_baseline"),
                mflop(r, "infer_chiral", "infer_baseline", "infer_baseline_tta"),
                f"{r['ratios']['infer_speedup']:.2f}x",
                f"{r['cpu_time_ratios']['train_speedup']:.2f}x / "
                f"{r['cpu_time_ratios']['infer_speedup_vs_tta']:.2f}x",
            )
            for r in rows
        ],
    )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchmarkParser(__doc__, repeats=(10, 2))
    parser.size("--hidden", full=[256, 1024], quick=[16], nargs="+", help="widths, a row each")
    parser.size("--layers", full=2, quick=1, help="stacked layers")
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="recurrent cell")
    parser.size("--batch", full=256, quick=32, help="training samples per step")
    parser.add_argument(
        "--infer_batch", type=int, default=None, help="inference samples per call (default: --batch)"
    )
    parser.add_argument(
        "--config", type=str, default=str(CONFIG), help="forecasting config file (its model and data)"
    )
    args = parser.parse_args(argv)
    if args.infer_batch is not None and args.infer_batch < 1:
        parser.error("--infer_batch must be >= 1")
    n_dev = len(jax.devices())
    if args.batch % n_dev:
        parser.error(f"--batch must be divisible by the {n_dev} devices the trainer splits it over")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the tables and returns the rows (raw numbers)."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="forecast_throughput_") as workdir:
        out = run_rows(
            make_rows(args),
            lambda row, i: measure_row(row, args.config, args.repeats, args.seed + i, workdir),
            lambda row: row.name,
        )
    report(format_table(out, args.repeats), args.json, repeats=args.repeats, rows=out)
    return out


if __name__ == "__main__":
    main()
