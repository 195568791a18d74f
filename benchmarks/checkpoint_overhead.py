"""Checkpoint overhead of ``Trainer.fit``: blocking saves, asynchronous saves, and asynchronous saves
at most every N seconds (the runner's default) instead of every epoch.

What is measured, per mode, in one process on the same model and data: the wall time of one
:meth:`chiral_jax.train.Trainer.fit` call from an empty workdir, and the sum of its epochs' training
time (``train_seconds`` of ``metrics.jsonl``: the steps of the epoch from its first batch to the
host fetch of its last step's metrics, the first step's compilation included). The difference is
what ``fit`` spends outside its steps: a checkpoint save per epoch (and the final wait for the
last one), plus the same small costs in both modes (restore check, JSON log, the learning-curve
plot). ``overhead %`` is that difference relative to the step time (how much longer ``fit`` takes
than its steps).

* **blocking**: ``Trainer(async_save=False)``: every save returns once the checkpoint is on disk.
* **async**: ``Trainer(async_save=True)`` (the default): a save takes a host copy of the state and
  returns; orbax writes it while the next epoch trains (orbax makes a save wait for the previous
  one). On a machine with few cores the background write competes with the steps for the CPU,
  so part of its cost can move into the step time: compare the ``fit s`` columns too.
* **interval**: asynchronous saves, at most one per ``--every_seconds`` (``Trainer(
  checkpoint_every_seconds=...)``, what the experiment runner does with
  ``train.checkpoint_every_seconds``; 60 s by default) and always after the last epoch. The
  ``saves`` column counts them.

Model: :class:`chiral_jax.models.ChiralTemporalModel` as the lifting task builds it (H36M skeleton,
2-D inputs -> 3-D outputs, strided, dropout and batch norm in train mode), PyTorch-form AMSGrad,
random inputs and targets, ``--steps`` batches per epoch. The checkpoint holds the parameters,
the batch-norm statistics and AMSGrad's three moments. The modes run one after the other (blocking
first), each in a fresh temporary workdir.

Run::

    python benchmarks/checkpoint_overhead.py                     # ~1 minute on 2 cores
    python benchmarks/checkpoint_overhead.py --epochs 100 --steps 20 --width 1024
    python benchmarks/checkpoint_overhead.py --quick             # tiny sizes, a smoke test
    python benchmarks/checkpoint_overhead.py --modes async,interval --every_seconds 5
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.benchmarking import BenchmarkParser, report, run_rows, table
from chiral_jax.models import ChiralTemporalModel
from chiral_jax.train import Trainer, amsgrad_torch, read_metrics

MODES = ("blocking", "async", "interval")


def trainer_options(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """The Trainer keywords of a mode."""
    if mode == "blocking":
        return {"async_save": False}
    if mode == "async":
        return {"async_save": True}
    return {"async_save": True, "checkpoint_every_seconds": args.every_seconds}


def _make_problem(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """``(make_model, loss_fn, batches)``: random windows ``(batch, R, 34)`` -> poses ``(batch, 1, 51)``."""
    widths = tuple(int(w) for w in args.filter_widths.split(","))
    frames = int(np.prod(widths))
    spec_in, spec_out = skeletons.H36M.spec(2), skeletons.H36M.spec(3)
    rng = np.random.default_rng(args.seed)
    pool = [
        {
            "inputs": rng.normal(size=(args.batch, frames, spec_in.size)).astype(np.float32),
            "targets": rng.normal(size=(args.batch, 1, spec_out.size)).astype(np.float32),
        }
        for _ in range(args.steps)
    ]

    def make_model() -> ChiralTemporalModel:
        return ChiralTemporalModel(
            spec_in,
            spec_out,
            filter_widths=widths,
            channels=args.width,
            strided=True,
            rngs=nnx.Rngs(args.seed),
        )

    def loss_fn(model: nnx.Module, batch: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
        err = jnp.mean(jnp.square(model(batch["inputs"]) - batch["targets"]))
        return err, {}

    def batches(epoch: int) -> Iterator[dict[str, np.ndarray]]:
        order = np.random.default_rng([args.seed, epoch]).permutation(len(pool))
        return (pool[i] for i in order)

    return make_model, loss_fn, batches


def run_mode(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    make_model, loss_fn, batches = _make_problem(args)
    model = make_model()
    params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    with tempfile.TemporaryDirectory(prefix=f"ckpt_overhead_{mode}_") as workdir:
        trainer = Trainer(
            model,
            amsgrad_torch(1e-3),
            loss_fn,
            workdir=workdir,
            keep=args.keep,
            progress=False,
            **trainer_options(mode, args),
        )
        t0 = time.perf_counter()
        trainer.fit(batches, epochs=args.epochs, steps_per_epoch=args.steps)
        fit_seconds = time.perf_counter() - t0
        step_seconds = sum(r["train_seconds"] for r in read_metrics(workdir))
        ckpt_dir = os.path.join(workdir, "checkpoints", "latest", str(args.epochs))
        ckpt_bytes = sum(
            os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(ckpt_dir) for f in files
        )
        trainer.close()
    overhead = fit_seconds - step_seconds
    return {
        "mode": mode,
        "epochs": args.epochs,
        "steps": args.epochs * args.steps,
        "fit_seconds": fit_seconds,
        "step_seconds": step_seconds,
        "overhead_seconds": overhead,
        "overhead_percent": 100.0 * overhead / step_seconds,
        "params": params,
        "checkpoint_bytes": ckpt_bytes,
        "saves": len(trainer.saves),
    }


def format_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = [
        f"Model: ChiralTemporalModel width {args.width}, filter widths {args.filter_widths}, batch "
        f"{args.batch}, {rows[0]['params']:,} parameters, checkpoint "
        f"{rows[0]['checkpoint_bytes'] / 2**20:.1f} MiB, keep {args.keep}",
        "",
    ]
    lines += table(
        ("mode", "epochs", "steps", "saves", "fit s", "step s", "overhead s", "overhead %"),
        [
            (
                r["mode"],
                r["epochs"],
                r["steps"],
                r["saves"],
                f"{r['fit_seconds']:.1f}",
                f"{r['step_seconds']:.1f}",
                f"{r['overhead_seconds']:.1f}",
                f"{r['overhead_percent']:.0f}%",
            )
            for r in rows
        ],
        align="lrrrrrrr",
    )
    by_mode = {r["mode"]: r for r in rows}
    if {"blocking", "async"} <= set(by_mode):
        saved = by_mode["blocking"]["fit_seconds"] - by_mode["async"]["fit_seconds"]
        lines += [
            "",
            f"Async saves: fit {saved:.1f} s shorter than with blocking saves "
            f"({100 * saved / by_mode['blocking']['fit_seconds']:.0f}% of its time).",
        ]
    if {"blocking", "interval"} <= set(by_mode):
        saved = by_mode["blocking"]["fit_seconds"] - by_mode["interval"]["fit_seconds"]
        lines.append(
            f"Async saves every {args.every_seconds:g} s at most: fit {saved:.1f} s shorter than with "
            f"blocking saves every epoch "
            f"({100 * saved / by_mode['blocking']['fit_seconds']:.0f}% of its time)."
        )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchmarkParser(__doc__)
    parser.size("--epochs", full=30, quick=3, help="epochs per fit (one save each)")
    parser.size("--steps", full=4, quick=2, help="training steps per epoch")
    parser.size("--width", full=512, quick=16, help="hidden channels of the model")
    parser.size(
        "--filter_widths",
        full="3,3,3",
        quick="3",
        type=str,
        minimum=None,
        help="comma-separated filter widths",
    )
    parser.size("--batch", full=64, quick=8, help="windows per batch")
    parser.add_argument("--keep", type=int, default=3, help="checkpoints kept (orbax max_to_keep)")
    parser.add_argument(
        "--modes", type=str, default=",".join(MODES), help="comma-separated: " + ", ".join(MODES)
    )
    parser.add_argument(
        "--every_seconds",
        type=float,
        default=60.0,
        help="interval mode: at most one save per this many seconds",
    )
    args = parser.parse_args(argv)
    unknown = set(args.modes.split(",")) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {sorted(MODES)}")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    rows = run_rows(args.modes.split(","), lambda mode, i: run_mode(args, mode))
    report(format_table(rows, args), args.json, args=vars(args), rows=rows)
    return rows


if __name__ == "__main__":
    main()
