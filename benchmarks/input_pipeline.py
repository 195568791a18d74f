"""Input pipeline vs training step: host windows, device-resident windows and the step, side by side.

Per receptive field (27 and 243 frames) and with / without mirror augmentation, one run times,
interleaved (:func:`chiral_jax.benchmarking.time_interleaved`: the calls a ratio compares run back
to back in a rotating order):

* **host**: one batch of :meth:`chiral_jax.data.PoseWindows.batches` (the host gather, and the host
  mirror of the flipped windows with :class:`~chiral_jax.data.MirrorAugment`), ``--batch`` windows;
* **device**: one batch of :class:`chiral_jax.data.device_windows.DeviceWindows`: the host draws the
  indices and flips, they go to the device, the jitted gather + mirror runs there (what a training
  step does before its net), ``--batch`` windows, blocked on;
* **step**: one :class:`chiral_jax.train.Trainer` step of the chiral strided net (width
  ``--channels``, dropout 0.25, batch norm, AMSGrad) fed by the device path, ``--step_batch``
  windows (``--step_batch_243`` at 243 frames);

on random poses of ``--frames`` frames (17 joints, default Human3.6M's 1,464,400 training frames) in
``--sequences`` sequences. Windows/s = windows per call / median call time; throughput ratios are
medians of per-repeat ratios. Targets (the issue): device path >= 3x the step's windows/s at 243
frames; augmentation < 5% of a step (the device step with flips vs without).

Run::

    python benchmarks/input_pipeline.py                 # W=1024, H36M-sized data (minutes)
    python benchmarks/input_pipeline.py --quick         # tiny sizes, a smoke test
    python benchmarks/input_pipeline.py --json pipe.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from chiral_jax import skeletons
from chiral_jax.benchmarking import (
    BenchmarkParser,
    cycle_epochs,
    mark,
    report,
    run_rows,
    table,
    time_interleaved,
)
from chiral_jax.data import MirrorAugment, PoseWindows
from chiral_jax.data.device_windows import DeviceWindows
from chiral_jax.tasks import lifting
from chiral_jax.train import Trainer, amsgrad_torch

SKELETON = skeletons.H36M
DEVICE_TARGET = 3.0  # device path windows/s over the step's, 243 frames
AUGMENT_TARGET = 0.05  # the step's extra time with flips


def make_windows(frames: int, sequences: int, receptive_field: int, seed: int) -> PoseWindows:
    """Random 2D/3D poses of ``frames`` frames in ``sequences`` sequences, flat windows."""
    rng = np.random.default_rng(seed)
    j = SKELETON.num_joints
    lengths = np.full(sequences, frames // sequences)
    lengths[: frames % sequences] += 1
    x = rng.standard_normal((frames, j, 2), dtype=np.float32)
    y = rng.standard_normal((frames, j, 3), dtype=np.float32)
    cuts = np.cumsum(lengths)[:-1]
    return PoseWindows(np.split(x, cuts), np.split(y, cuts), receptive_field=receptive_field, flatten=True)


def measure(
    filter_widths: tuple[int, ...], args: argparse.Namespace, workdir: str, step_batch: int
) -> dict[str, Any]:
    """Every call of one receptive field; windows/s and ratios."""
    r = int(np.prod(filter_widths))
    t0 = time.perf_counter()
    windows = make_windows(args.frames, args.sequences, r, args.seed)
    aug = MirrorAugment(0.5, skeleton_in=SKELETON, skeleton_out=SKELETON)
    dev = {False: DeviceWindows(windows)}
    dev[True] = dev[False].with_augment(aug)
    calls: dict[str, Callable[[], Any]] = {}
    sizes: dict[str, int] = {}
    trainers = []
    for a in (False, True):
        tag = "aug" if a else "noaug"
        calls[f"host_{tag}"] = cycle_epochs(
            lambda e, a=a: windows.batches(
                args.batch, seed=args.seed, epoch=e, drop_remainder=True, augment=aug if a else None
            )
        )
        gather = jax.jit(dev[a].gather)
        next_ids = cycle_epochs(lambda e, a=a: dev[a].index_batches(args.batch, seed=args.seed, epoch=e))
        calls[f"device_{tag}"] = lambda gather=gather, next_ids=next_ids, a=a: gather(
            dev[a].arrays, jax.device_put(next_ids())
        )
        variant = lifting.Variant(f"chiral_w{args.channels}", "chiral", args.channels)
        model = lifting.make_model(
            variant, SKELETON, filter_widths=filter_widths, dropout=0.25, seed=args.seed
        )
        trainer = Trainer(
            model,
            amsgrad_torch(1e-3),
            lifting.mpjpe_loss(SKELETON.num_joints),
            workdir=f"{workdir}/{r}_{tag}",
            bn_momentum=None,
            progress=False,
            device_data=dev[a],
        )
        trainers.append(trainer)
        next_step_ids = cycle_epochs(lambda e, a=a: dev[a].index_batches(step_batch, seed=args.seed, epoch=e))

        def step(trainer: Trainer = trainer, next_step_ids: Callable[[], Any] = next_step_ids) -> Any:
            return trainer.step(next_step_ids(), 0.9), trainer.state

        calls[f"step_{tag}"] = step
        sizes.update({f"host_{tag}": args.batch, f"device_{tag}": args.batch, f"step_{tag}": step_batch})
    setup_s = time.perf_counter() - t0
    try:
        timings = time_interleaved(calls, repeats=args.repeats)
    finally:
        for trainer in trainers:
            trainer.close()
    med = timings.medians()
    wps = {n: sizes[n] / med[n] for n in calls}

    def throughput_ratio(num: str, den: str) -> float:  # windows/s of num over den's
        return sizes[num] / sizes[den] * timings.ratio(num, den)

    ratios = {}
    for tag in ("noaug", "aug"):
        ratios[f"device_over_step_{tag}"] = throughput_ratio(f"device_{tag}", f"step_{tag}")
        ratios[f"host_over_step_{tag}"] = throughput_ratio(f"host_{tag}", f"step_{tag}")
        ratios[f"device_over_host_{tag}"] = throughput_ratio(f"device_{tag}", f"host_{tag}")
    ratios["augment_step_cost"] = timings.time_ratio("step_aug", "step_noaug") - 1.0
    return {
        "frames": r,
        "filter_widths": list(filter_widths),
        "windows": len(windows),
        "batch": args.batch,
        "step_batch": step_batch,
        "device_bytes": DeviceWindows.nbytes(windows),
        "windows_per_s": wps,
        "median_ms": {n: 1e3 * s for n, s in med.items()},
        "times_s": timings.wall,
        "ratios": ratios,
        "setup_s": setup_s,
        "wall_s": time.perf_counter() - t0,
    }


def format_table(rows: Sequence[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = [
        f"{args.frames:,} frames in {args.sequences} sequences, pipeline batches of {args.batch} windows; "
        f"step: chiral strided net W={args.channels}, float32, fed by the device path; median of "
        f"{args.repeats} interleaved repeats, ratios are medians of per-repeat ratios.",
        "",
    ]
    cells = []
    for r in rows:
        w, q = r["windows_per_s"], r["ratios"]
        for tag, label in (("noaug", "no"), ("aug", "mirror")):
            cells.append(
                (
                    r["frames"],
                    label,
                    f"{w[f'host_{tag}']:,.0f}",
                    f"{w[f'device_{tag}']:,.0f}",
                    f"{w[f'step_{tag}']:,.0f} (batch {r['step_batch']})",
                    f"**{q[f'device_over_step_{tag}']:.1f}x**",
                    f"{q[f'host_over_step_{tag}']:.1f}x",
                    f"{q[f'device_over_host_{tag}']:.1f}x",
                )
            )
    lines += table(
        (
            "frames",
            "augment",
            "host windows/s",
            "device windows/s",
            "step windows/s",
            "device / step",
            "host / step",
            "device / host",
        ),
        cells,
    )
    lines += ["", "Targets:"]
    for r in rows:
        q = r["ratios"]
        worst = min(q["device_over_step_noaug"], q["device_over_step_aug"])
        cost = q["augment_step_cost"]
        lines.append(
            f"- {r['frames']} frames: device path >= {DEVICE_TARGET:g}x the step: "
            f"{mark(worst >= DEVICE_TARGET)} ({worst:.1f}x); augmentation < "
            f"{AUGMENT_TARGET:.0%} of a step: {mark(cost < AUGMENT_TARGET)} ({cost:+.1%})"
        )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = BenchmarkParser(__doc__, repeats=(5, 2), quick_help="tiny sizes: a smoke test in seconds")
    p.size("--frames", full=1_464_400, quick=20_000, help="training frames")
    p.size("--sequences", full=600, quick=20, help="sequences they are cut into")
    p.size("--batch", full=1024, quick=64, help="pipeline windows per batch")
    p.size("--channels", full=1024, quick=16, help="the step's hidden width")
    p.size("--step_batch", full=1024, quick=32, help="step windows, 27 frames")
    p.size("--step_batch_243", full=256, quick=32, help="step windows, 243 frames")
    p.add_argument("--only_27", action="store_true", help="skip the 243-frame row (27 and 9 when quick)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    short, long = ((3, 3), (3, 3, 3)) if args.quick else ((3, 3, 3), (3, 3, 3, 3, 3))
    configs = [(short, args.step_batch)] + ([] if args.only_27 else [(long, args.step_batch_243)])
    with tempfile.TemporaryDirectory(prefix="input_pipeline_") as workdir:
        rows = run_rows(
            configs, lambda c, i: measure(c[0], args, workdir, c[1]), lambda c: f"{int(np.prod(c[0]))} frames"
        )
    report(format_table(rows, args), args.json, args=vars(args), rows=rows)
    return rows


if __name__ == "__main__":
    main()
