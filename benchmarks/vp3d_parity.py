"""Parity with PyTorch VideoPose3D: the project's nets and PyTorch ports trained side by side.

For each dataset (the built-in synthetic set, CMU motion capture) and seed, this trains four nets
on the SAME training windows, in the same order (the lifting task's windows and batches:
``PoseWindows.from_sequences`` + ``window_batches`` of ``(seed, epoch)``; the baseline's mirror
augmentation is drawn there, so both dense nets see the same flips) with VideoPose3D's recipe
(AMSGrad in PyTorch's form, lr 1e-3 x0.95 per epoch, batch-norm momentum 0.1 -> 0.001):

* the project's baseline (``chiral_jax.models.TemporalModel``) and the PyTorch port of VideoPose3D's
  temporal net (``benchmarks/torch_ports/videopose3d.py``: PyTorch layers, default init,
  ``torch.optim.Adam(amsgrad=True)``);
* the project's chiral net (``ChiralTemporalModel``, ReLU on the negation-free hidden spec) and the
  PyTorch port of the chirality layers (tied even/odd blocks, mirrored-batch batch norm).

The project's nets train through the project's :class:`~chiral_jax.train.Trainer` (the lifting
task's loss and :func:`~chiral_jax.train.amsgrad_torch` with the staircase per-epoch decay), the
ports through a plain PyTorch loop. Both are evaluated by :func:`chiral_jax.tasks.lifting.evaluate`
(the dilated net over whole test sequences, the same MPJPE code; the PyTorch net runs inside it
through ``jax.pure_callback``). Printed: per-epoch training MPJPE (train mode, the epoch's mean
loss) mean ± std over seeds for each implementation, final test MPJPE, the difference of the means
against twice its standard error (the verdict), and the time per training step of all four nets
on one batch, interleaved (:func:`chiral_jax.benchmarking.time_interleaved`).

Known differences the flags switch for diagnosis: the project's trainer sets the batch-norm
momentum per step (``step / total_steps``), VideoPose3D once per epoch (``--torch-bn-schedule``);
the project's chiral dropout drops even/odd coordinates, the port's drops channels
(``--torch-dropout-basis``); ``--torch-init project`` starts the ports from the project's initial
weights (isolating the training mechanics from the initialization).

Run::

    python benchmarks/vp3d_parity.py --json vp3d_parity.json   # docs/performance.md's table
    python benchmarks/vp3d_parity.py --torch-bn-schedule step --torch-dropout-basis even_odd
    python benchmarks/vp3d_parity.py --epochs 8 --max-steps 0  # whole epochs (longer)
    python benchmarks/vp3d_parity.py --quick                   # smoke test

The defaults (width 128, 27 frames, batch 256, 4 epochs of their first 40 batches, 3 seeds, both
datasets) took 18 min on the 2-core CPU machine at load average 12-16 (other jobs running).

Needs PyTorch (``pip install -e ".[parity]"``).
"""

from __future__ import annotations

import argparse
import inspect
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import torch
from flax import nnx

# torch_ports beside this script (appended: nothing installed is shadowed)
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
from torch_ports import videopose3d as tp

from chiral_jax.benchmarking import BenchmarkParser, mark, report, table, time_interleaved
from chiral_jax.data import MirrorAugment, PoseWindows
from chiral_jax.data.fixtures import TINY_SYNTHETIC
from chiral_jax.data.pipeline import window_batches
from chiral_jax.models import ChiralTemporalModel, TemporalModel
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import lifting
from chiral_jax.tasks.configs import load_config_file
from chiral_jax.train import Trainer, amsgrad_torch

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "lift3d.py"
NETS = ("baseline", "chiral")
IMPLS = ("project", "torch")
QUICK_SYNTHETIC = TINY_SYNTHETIC


# ---------------------------------------------------------------------------------- data


def load(args: argparse.Namespace, name: str) -> lifting.LiftingData:
    """The lifting task's splits of ``name`` (its TFDS build, made on first use)."""
    c = load_config_file(str(CONFIG))
    c.data.name = name
    c.data.data_dir = args.data_dir
    c.data.manual_dir = args.cmu_dir if name == "cmu_mocap" else ""
    if args.quick:
        c.data.synthetic = ml_collections.ConfigDict(QUICK_SYNTHETIC)
    return lifting.LIFTING.load_data(c)


def make_windows(data: lifting.LiftingData, receptive_field: int) -> PoseWindows:
    """The training windows exactly as ``LiftingTask.setup`` builds them."""
    return PoseWindows.from_sequences(
        data.train, receptive_field=receptive_field, flatten=True, with_intrinsics=False
    )


def batch_fn(
    windows: PoseWindows, data: lifting.LiftingData, args: argparse.Namespace, seed: int, augment: bool
) -> Callable[[int], Any]:
    """``epoch -> host batches`` (the task's ``window_batches``; ``--max-steps`` cuts epochs short)."""
    sk = data.skeleton
    aug = MirrorAugment(0.5, skeleton_in=sk, skeleton_out=sk) if augment else None

    def batches(epoch: int) -> Any:
        it = window_batches(windows, args.batch_size, seed=seed, epoch=epoch, augment=aug)
        for i, b in enumerate(it):
            if args.max_steps and i >= args.max_steps:
                return
            yield b

    return batches


def steps_per_epoch(windows: PoseWindows, args: argparse.Namespace) -> int:
    steps = windows.num_batches(args.batch_size, drop_remainder=True)
    if steps == 0:
        raise ValueError(f"{len(windows)} training windows: fewer than one batch of {args.batch_size}")
    return min(steps, args.max_steps) if args.max_steps else steps


# ---------------------------------------------------------------------------------- models


def _init_kwargs(cls: type, init: str) -> dict[str, Any]:
    """``init=`` for the project's nets when asked for and supported ("default": the model's own)."""
    if init == "default":
        return {}
    if "init" not in inspect.signature(cls.__init__).parameters:
        raise ValueError(f"--project-init {init}: {cls.__name__} has no init argument in this checkout")
    return {"init": init}


def project_model(net: str, data: lifting.LiftingData, args: argparse.Namespace, seed: int) -> nnx.Module:
    """The strided training net as ``lifting.make_model`` builds it (plus ``--project-init``)."""
    sk = data.skeleton
    kw: dict[str, Any] = dict(
        filter_widths=args.filter_widths,
        dropout=args.dropout,
        dropout_bits="byte",
        strided=True,
        rngs=nnx.Rngs(seed),
    )
    if net == "baseline":
        kw |= _init_kwargs(TemporalModel, args.project_init)
        j = sk.num_joints
        return TemporalModel(j * 2, j * 3, channels=args.channels, activation="relu", **kw)
    kw |= _init_kwargs(ChiralTemporalModel, args.project_init)
    hidden = ChiralSpec.hidden(args.channels)
    return ChiralTemporalModel(sk.spec(2), sk.spec(3), channels=hidden, activation="relu", **kw)


def torch_model(
    net: str, data: lifting.LiftingData, args: argparse.Namespace, seed: int
) -> tp.TemporalModel | tp.ChiralTemporalModel:
    """The PyTorch port, seeded (``--torch-init project``: the project's initial weights)."""
    torch.manual_seed(seed)
    sk = data.skeleton
    kw = dict(filter_widths=args.filter_widths, channels=args.channels, dropout=args.dropout)
    if net == "baseline":
        model = tp.TemporalModel(sk.num_joints * 2, sk.num_joints * 3, **kw)
    else:
        model = tp.ChiralTemporalModel(sk.spec(2), sk.spec(3), dropout_basis=args.torch_dropout_basis, **kw)
        x = torch.randn(2, 2 * model.receptive_field, sk.spec(2).size)
        err = max(tp.equivariance_error(model, x), tp.equivariance_error(model, x, strided=True))
        if err > 1e-4:
            raise AssertionError(f"the PyTorch chiral port is not equivariant: error {err:.3g}")
    if args.torch_init == "project":
        tp.copy_from_project(model, project_model(net, data, args, seed))
    return model


def torch_windowed_apply(model: torch.nn.Module, out_features: int) -> Callable[[jax.Array], jax.Array]:
    """The eval-mode dilated PyTorch net as a JAX function (``jax.pure_callback``), for
    :func:`lifting.evaluate`'s ``windowed_apply``: (B, chunk + R - 1, Cin) -> (B, chunk, Cout)."""
    model.eval()
    r = model.receptive_field

    def host(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.array(x, np.float32)), strided=False).numpy()

    def apply(x: jax.Array) -> jax.Array:
        shape = jax.ShapeDtypeStruct((x.shape[0], x.shape[1] - r + 1, out_features), jnp.float32)
        return jax.pure_callback(host, shape, x)

    return apply


# ---------------------------------------------------------------------------------- training


def train_project(
    net: str, data: lifting.LiftingData, windows: PoseWindows, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    """The project's net through the project's Trainer; per-epoch training MPJPE and test metrics."""
    model = project_model(net, data, args, seed)
    steps = steps_per_epoch(windows, args)
    train_cfg = ml_collections.ConfigDict(
        {"lr": args.lr, "lr_decay": args.lr_decay, "lr_decay_steps": steps, "lr_decay_every": "epoch"}
    )
    batches = batch_fn(windows, data, args, seed, augment=net == "baseline" and args.augment)
    with tempfile.TemporaryDirectory() as workdir:
        trainer = Trainer(
            model,
            amsgrad_torch(lifting.learning_rate(train_cfg, steps)),
            lifting.mpjpe_loss(data.skeleton.num_joints),
            workdir=workdir,
            bn_momentum=(0.1, 0.001),
            progress=False,
            checkpoint_every_seconds=1e9,  # one save, after the last epoch
        )
        t0 = time.perf_counter()
        history = trainer.fit(batches, epochs=args.epochs, steps_per_epoch=steps)
        seconds = time.perf_counter() - t0
        trained = trainer.model
    ev = lifting.evaluate(trained, data.test, data.skeleton, receptive_field=math.prod(args.filter_widths))
    return {
        "train_mpjpe_mm": [r["train_mpjpe_mm"] for r in history],
        "test_mpjpe_mm": ev["mpjpe_mm"],
        "test_p_mpjpe_mm": ev["p_mpjpe_mm"],
        "train_seconds": seconds,
    }


def train_torch(
    net: str, data: lifting.LiftingData, windows: PoseWindows, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    """The PyTorch port with VideoPose3D's loop; per-epoch training MPJPE and test metrics."""
    model = torch_model(net, data, args, seed)
    optimizer = tp.make_optimizer(model, args.lr)
    steps = steps_per_epoch(windows, args)
    batches = batch_fn(windows, data, args, seed, augment=net == "baseline" and args.augment)
    j = data.skeleton.num_joints
    curve = []
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        curve.append(
            tp.train_epoch(
                model,
                optimizer,
                batches(epoch),
                num_joints=j,
                epoch=epoch,
                epochs=args.epochs,
                lr=args.lr,
                lr_decay=args.lr_decay,
                steps_per_epoch=steps,
                bn_schedule=args.torch_bn_schedule,
            )
        )
    seconds = time.perf_counter() - t0
    ev = lifting.evaluate(
        None,  # type: ignore[arg-type]  (windowed_apply replaces the model)
        data.test,
        data.skeleton,
        receptive_field=model.receptive_field,
        windowed_apply=torch_windowed_apply(model, 3 * j),
    )
    return {
        "train_mpjpe_mm": curve,
        "test_mpjpe_mm": ev["mpjpe_mm"],
        "test_p_mpjpe_mm": ev["p_mpjpe_mm"],
        "train_seconds": seconds,
    }


# ---------------------------------------------------------------------------------- timing


def time_steps(data: lifting.LiftingData, windows: PoseWindows, args: argparse.Namespace) -> dict[str, Any]:
    """Seconds per training step of the four nets on one batch, interleaved (after warm-ups that
    compile the project's steps); the batch-norm momentum is held at VideoPose3D's initial 0.1."""
    batch = next(iter(batch_fn(windows, data, args, 0, augment=False)(0)))
    j = data.skeleton.num_joints
    calls: dict[str, Callable[[], Any]] = {}
    keep: list[Any] = []
    with tempfile.TemporaryDirectory() as workdir:
        for net in NETS:
            trainer = Trainer(
                project_model(net, data, args, 0),
                amsgrad_torch(args.lr),
                lifting.mpjpe_loss(j),
                workdir=f"{workdir}/{net}",
                progress=False,
            )
            model = torch_model(net, data, args, 0)
            model.train()
            opt = tp.make_optimizer(model, args.lr)
            keep.append(trainer)
            calls[f"project_{net}"] = lambda t=trainer: t.step(batch, 0.9)
            calls[f"torch_{net}"] = lambda m=model, o=opt: float(tp.train_step(m, o, batch, j))
        timings = time_interleaved(
            calls, repeats=args.timing_repeats, groups=[[f"{i}_{n}" for i in IMPLS] for n in NETS], warmup=3
        )
        for t in keep:
            t.close()
    return {
        "batch_size": args.batch_size,
        "median_ms": {k: 1e3 * v for k, v in timings.medians().items()},
        "cpu_median_ms": {k: 1e3 * v for k, v in timings.medians(cpu=True).items()},
        "torch_over_project": {n: timings.ratio(f"project_{n}", f"torch_{n}") for n in NETS},
        "torch_threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------------------------- summary


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return float(np.mean(values)), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Mean ± std over seeds of the curves and final errors of one (dataset, net) pair, and the
    verdict: agreement when the difference of the mean test MPJPEs is within twice its standard
    error (``sqrt(s_project^2 / n + s_torch^2 / n)``), and likewise epoch by epoch for the curves."""
    out: dict[str, Any] = {}
    for impl, rs in runs.items():
        curves = np.array([r["train_mpjpe_mm"] for r in rs])
        out[impl] = {
            "seeds": len(rs),
            "train_curve_mean": curves.mean(0).tolist(),
            "train_curve_std": (curves.std(0, ddof=1) if len(rs) > 1 else np.zeros(curves.shape[1])).tolist(),
            "test_mpjpe_mm": _mean_std([r["test_mpjpe_mm"] for r in rs]),
            "test_p_mpjpe_mm": _mean_std([r["test_p_mpjpe_mm"] for r in rs]),
            "train_seconds": _mean_std([r["train_seconds"] for r in rs]),
        }
    p, t = out["project"], out["torch"]
    n = p["seeds"]

    def within(mp: float, sp: float, mt: float, st: float) -> tuple[float, float, bool]:
        se = math.sqrt((sp**2 + st**2) / n) if n > 1 else 0.0
        return mt - mp, 2 * se, abs(mt - mp) <= 2 * se

    d, tol, ok = within(*p["test_mpjpe_mm"], *t["test_mpjpe_mm"])
    epochs = [
        within(a, b, c, e)
        for a, b, c, e in zip(
            p["train_curve_mean"],
            p["train_curve_std"],
            t["train_curve_mean"],
            t["train_curve_std"],
            strict=True,
        )
    ]
    out["verdict"] = {
        "test_difference_mm": d,
        "test_two_se_mm": tol,
        "test_agree": ok,
        "curve_epochs_agree": [e[2] for e in epochs],
        "curve_difference_mm": [e[0] for e in epochs],
    }
    return out


def format_report(results: dict[str, Any], args: argparse.Namespace) -> list[str]:
    lines = []
    fw = args.filter_widths
    lines.append(
        f"Width {args.channels}, filter widths {fw} ({math.prod(fw)} frames), batch {args.batch_size}, "
        f"{args.epochs} epochs, seeds {args.seeds}, lr {args.lr} x{args.lr_decay}/epoch, "
        f"dropout {args.dropout}, baseline augmentation {args.augment}; project init {args.project_init}, "
        f"PyTorch port: init {args.torch_init}, BN schedule per {args.torch_bn_schedule}, "
        f"dropout on {args.torch_dropout_basis}."
    )
    for ds, per_net in results["datasets"].items():
        e = args.epochs
        shown = list(range(e)) if e <= 8 else sorted({0, 1, 4, 9, e - 1} & set(range(e)))
        lines += [
            "",
            f"### {ds} ({per_net['train_windows']:,} training windows, {per_net['steps']} steps/epoch)",
            "",
        ]
        lines.append("Training MPJPE (mm, train mode, mean ± std over seeds) by epoch:")
        lines.append("")
        curves = []
        for net in NETS:
            for impl in IMPLS:
                r = per_net["summary"][net][impl]
                m, sd = r["test_mpjpe_mm"]
                curves.append(
                    (
                        net,
                        impl,
                        *(f"{r['train_curve_mean'][i]:.1f} ± {r['train_curve_std'][i]:.1f}" for i in shown),
                        f"{m:.1f} ± {sd:.1f}",
                    )
                )
        columns = ("net", "impl", *(str(i + 1) for i in shown), "test MPJPE (mm)")
        lines += table(columns, curves, align="ll" + "r" * (len(shown) + 1))
        lines.append("")
        verdicts = []
        for net in NETS:
            v = per_net["summary"][net]["verdict"]
            verdicts.append(
                (
                    net,
                    f"{v['test_difference_mm']:+.1f}",
                    f"{v['test_two_se_mm']:.1f}",
                    mark(v["test_agree"]),
                    f"{sum(v['curve_epochs_agree'])}/{len(v['curve_epochs_agree'])}",
                )
            )
        lines += table(
            ("net", "test Δ (torch - project, mm)", "2 SE (mm)", "test agrees", "curve epochs agreeing"),
            verdicts,
            align="lrrlr",
        )
    t = results["step_time"]
    lines += [
        "",
        f"Time per training step (batch {t['batch_size']}, median ms, interleaved; "
        f"PyTorch with {t['torch_threads']} threads):",
        "",
    ]
    lines += table(
        ("net", "project (JAX)", "PyTorch", "PyTorch time / project time"),
        [
            (
                net,
                f"{t['median_ms'][f'project_{net}']:.2f}",
                f"{t['median_ms'][f'torch_{net}']:.2f}",
                f"{t['torch_over_project'][net]:.2f}",
            )
            for net in NETS
        ],
        align="lrrr",
    )
    lines.append(f"\nWall time of the benchmark: {results['wall_seconds']:.0f} s.")
    return lines


# ---------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = BenchmarkParser(
        __doc__,
        repeats=(10, 2),
        repeats_flags=("--timing-repeats", "--repeats"),
        seed=None,
        quick_help="tiny sizes: a smoke test",
    )
    p.size(
        "--datasets",
        full="synthetic,cmu_mocap",
        quick="synthetic",
        type=str,
        minimum=None,
        help="comma-separated: synthetic, cmu_mocap",
    )
    p.add_argument("--cmu-dir", default="/work/shared/data/cmu_mocap", help="CMU subject folders (02/, 03/)")
    p.add_argument("--data-dir", default="", help="TFDS data dir ('': TFDS's default)")
    p.size("--channels", full=128, quick=16)
    p.size(
        "--filter-widths", full="3,3,3", quick="3,3", type=str, minimum=None, help="e.g. 3,3,3 (27 frames)"
    )
    p.size("--batch-size", full=256, quick=32)
    p.size("--epochs", full=4, quick=2)
    p.size("--seeds", full=3, quick=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", type=float, default=0.95, help="per epoch (staircase), as VideoPose3D")
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument(
        "--no-augment", dest="augment", action="store_false", help="no mirror augmentation (baseline)"
    )
    p.add_argument("--nets", default="baseline,chiral", help="comma-separated: baseline, chiral")
    p.size("--max-steps", full=40, quick=4, minimum=0, help="cut each epoch to its first N batches (0: all)")
    p.add_argument("--project-init", default="default", help="init= of the project's nets (default: theirs)")
    p.add_argument("--torch-init", choices=("torch", "project"), default="torch")
    p.add_argument("--torch-bn-schedule", choices=("epoch", "step"), default="epoch")
    p.add_argument("--torch-dropout-basis", choices=("channel", "even_odd"), default="channel")
    p.add_argument(
        "--torch-threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)"
    )
    args = p.parse_args(argv)
    args.filter_widths = tuple(int(w) for w in args.filter_widths.split(","))
    args.datasets = tuple(d.strip() for d in args.datasets.split(",") if d.strip())
    args.nets = tuple(n.strip() for n in args.nets.split(",") if n.strip())
    for d in args.datasets:
        if d not in ("synthetic", "cmu_mocap"):
            raise ValueError(f"--datasets: expected synthetic and/or cmu_mocap, got {d!r}")
    if set(args.nets) != set(NETS):
        raise ValueError(f"--nets: this benchmark compares both nets, got {args.nets}")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    t0 = time.perf_counter()
    results: dict[str, Any] = {"datasets": {}}
    r = math.prod(args.filter_widths)
    first: tuple[lifting.LiftingData, PoseWindows] | None = None
    for ds in args.datasets:
        data = load(args, ds)
        windows = make_windows(data, r)
        first = first or (data, windows)
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {net: {i: [] for i in IMPLS} for net in NETS}
        for seed in range(args.seeds):
            for net in NETS:
                runs[net]["project"].append(train_project(net, data, windows, args, seed))
                runs[net]["torch"].append(train_torch(net, data, windows, args, seed))
                last = {i: runs[net][i][-1]["test_mpjpe_mm"] for i in IMPLS}
                print(
                    f"{ds} seed {seed} {net}: test MPJPE project {last['project']:.1f}, "
                    f"torch {last['torch']:.1f} mm",
                    flush=True,
                )
        results["datasets"][ds] = {
            "train_windows": len(windows),
            "steps": steps_per_epoch(windows, args),
            "runs": runs,
            "summary": {net: summarize(runs[net]) for net in NETS},
        }
    assert first is not None
    results["step_time"] = time_steps(*first, args)
    results["wall_seconds"] = time.perf_counter() - t0
    args_out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()}
    report(format_report(results, args), args.json, args=args_out, results=results)
    return results


if __name__ == "__main__":
    main()
