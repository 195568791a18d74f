"""Training input pipeline: windows/s of the old host iterator and the grain pipeline, side by side.

What is measured, per row (window length R = the lifter's receptive field, with or without mirror
augmentation; ``--batch`` windows per batch, float32, ``flatten=True``: (batch, R, 34) inputs and
(batch, 1, 51) targets, as the lifting task trains):

* **old**: :meth:`chiral_jax.data.PoseWindows.batches` (``drop_remainder=True``), the host
  generator the trainers used to iterate: gather and augment on the calling thread;
* **new**: :func:`chiral_jax.data.pipeline.window_batches`, the grain ``IterDataset`` the lifting
  task feeds :class:`chiral_jax.train.Trainer` with now (its default read threads and prefetch);
* **augment**: none, or :class:`chiral_jax.data.MirrorAugment` ``(0.5, H36M -> H36M)``.

The data: ``--sequences`` random float32 sequences of (T, 17, 2) inputs and (T, 17, 3) targets,
``--frames`` frames in all; by default the size of Human3.6M's training set as VideoPose3D uses it
(subjects 1, 5, 6, 7, 8, four cameras: 600 sequences, 1,559,752 frames), so that the window gathers
read from arrays of the real size (hundreds of MB, far out of cache).

One timed call takes ``--batches`` batches from a fresh epoch: the epoch's shuffle of all windows,
the iterator's start-up and, for grain, its shut-down (closing the iterator and waiting for its
read threads to finish, so that no work spills into the next call) are included, as every epoch
pays them. The old and new calls of a row use the same epoch (the same windows: identical batches
without augmentation) and run back to back, in a rotating order
(:func:`chiral_jax.benchmarking.time_interleaved`: the machine is shared and noisy); windows/s =
batches * batch / median call time, and the ratio new/old is the median of per-repeat ratios.

Run::

    python benchmarks/data_pipeline.py                  # H36M-sized, R = 27 and 243, about 1-2 minutes
    python benchmarks/data_pipeline.py --json pipeline.json
    python benchmarks/data_pipeline.py --quick          # tiny sizes, a smoke test in seconds
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chiral_jax.benchmarking import BenchmarkParser, report, table, time_interleaved
from chiral_jax.data import MirrorAugment, PoseWindows
from chiral_jax.data.pipeline import window_batches
from chiral_jax.skeletons import H36M

H36M_TRAIN_FRAMES = 1_559_752  # VideoPose3D's Human3.6M training set: subjects 1, 5, 6, 7, 8, 4 cameras
H36M_TRAIN_SEQUENCES = 600  # 5 subjects x 30 takes x 4 cameras
SEED = 0
PATH = "host -> grain"


def make_sequences(frames: int, sequences: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``sequences`` random (T_i, 17, 2) inputs and (T_i, 17, 3) targets, ``frames`` frames in all."""
    lengths = np.full(sequences, frames // sequences)
    lengths[: frames % sequences] += 1
    rng = np.random.default_rng(seed)
    j = H36M.num_joints
    x = rng.standard_normal((frames, j, 2), dtype=np.float32)
    y = rng.standard_normal((frames, j, 3), dtype=np.float32)
    cuts = np.cumsum(lengths)[:-1]
    return np.split(x, cuts), np.split(y, cuts)


def old_call(windows: PoseWindows, batch: int, batches: int, augment: Any) -> Callable[[], int]:
    """``call()``: the next epoch's first ``batches`` batches from :meth:`PoseWindows.batches`."""
    epochs = itertools.count()

    def call() -> int:
        it = windows.batches(batch, seed=SEED, epoch=next(epochs), drop_remainder=True, augment=augment)
        return sum(len(b["inputs"]) for b in itertools.islice(it, batches))

    return call


def new_call(windows: PoseWindows, batch: int, batches: int, augment: Any) -> Callable[[], int]:
    """``call()``: the next epoch's first ``batches`` batches from the grain pipeline, then the
    iterator closed and its read threads joined (their in-flight work counts to this call)."""
    epochs = itertools.count()

    def call() -> int:
        before = set(threading.enumerate())
        ds = window_batches(windows, batch, seed=SEED, epoch=next(epochs), augment=augment)
        it = iter(ds)
        try:
            n = sum(len(next(it)["inputs"]) for _ in range(batches))
        finally:
            it.close()  # cancels the prefetched batches not started yet
        for t in threading.enumerate():
            if t not in before:
                t.join(timeout=60)
        return n

    return call


def measure(
    frames: int,
    sequences: int,
    receptive_fields: Sequence[int],
    batch: int,
    batches: int,
    repeats: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Builds the windows, times every row's old and new call interleaved; returns the rows."""
    t0 = time.perf_counter()
    inputs, targets = make_sequences(frames, sequences, seed)
    mirror = MirrorAugment(0.5, skeleton_in=H36M, skeleton_out=H36M)
    calls: dict[str, Callable[[], int]] = {}
    groups: list[tuple[str, str]] = []
    configs: dict[str, tuple[int, str, int]] = {}
    for r in receptive_fields:
        windows = PoseWindows(inputs, targets, receptive_field=r, flatten=True)
        if windows.num_batches(batch, drop_remainder=True) < batches:
            raise SystemExit(
                f"{len(windows)} windows: fewer than --batches {batches} batches of {batch}; "
                "use more --frames or fewer --batches"
            )
        for aug_name, augment in (("none", None), ("mirror p=0.5", mirror)):
            key = f"R={r}, {aug_name}"
            calls[f"old {key}"] = old_call(windows, batch, batches, augment)
            calls[f"new {key}"] = new_call(windows, batch, batches, augment)
            groups.append((f"old {key}", f"new {key}"))
            configs[key] = (r, aug_name, len(windows))
    del inputs, targets  # the windows hold their own (padded) copies
    setup_s = time.perf_counter() - t0
    print(f"# data and windows built ({setup_s:.0f} s)", file=sys.stderr, flush=True)
    timings = time_interleaved(calls, repeats=repeats, groups=groups)
    per_call = batch * batches
    rows = []
    for key, (r, aug_name, num_windows) in configs.items():
        old, new = f"old {key}", f"new {key}"
        rows.append(
            {
                "path": PATH,
                "receptive_field": r,
                "window_length": r,
                "augment": aug_name,
                "windows_in_epoch": num_windows,
                "windows_per_call": per_call,
                "times_s": {"old": timings.wall[old], "new": timings.wall[new]},
                "cpu_times_s": {"old": timings.cpu[old], "new": timings.cpu[new]},
                "windows_per_s": {
                    "old": per_call / timings.median(old),
                    "new": per_call / timings.median(new),
                },
                "ratio_new_old": timings.ratio(new, old),
                "cpu_ratio_new_old": timings.ratio(new, old, cpu=True),
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = [
        f"{args.frames:,} frames in {args.sequences} sequences (random float32, H36M skeleton, "
        f"flatten=True); batches of {args.batch} windows, {args.batches} batches per timed call "
        f"(a fresh epoch each); median of {args.repeats} interleaved repeats. old: "
        "PoseWindows.batches (host generator); new: pipeline.window_batches (grain, default read "
        "threads and prefetch). Ratio: median of per-repeat ratios.",
        "",
    ]
    return lines + table(
        ("path", "window length", "augment", "windows/s old", "windows/s new", "ratio new/old"),
        [
            (
                r["path"],
                r["window_length"],
                r["augment"],
                f"{r['windows_per_s']['old']:,.0f}",
                f"{r['windows_per_s']['new']:,.0f}",
                f"{r['ratio_new_old']:.2f}x",
            )
            for r in rows
        ],
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchmarkParser(__doc__, repeats=(9, 1))
    parser.size(
        "--frames",
        full=H36M_TRAIN_FRAMES,
        quick=6_000,
        help="frames, all sequences (full: Human3.6M's training set)",
    )
    parser.size("--sequences", full=H36M_TRAIN_SEQUENCES, quick=4, help="sequences")
    parser.add_argument(
        "--receptive_fields",
        type=str,
        default="27,243",
        help="window lengths, comma separated (default 27,243)",
    )
    parser.size("--batch", full=1024, quick=64, help="windows per batch")
    parser.size("--batches", full=24, quick=2, help="batches per timed call")
    args = parser.parse_args(argv)
    try:
        args.receptive_fields = [int(r) for r in args.receptive_fields.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--receptive_fields must be comma-separated integers, got {args.receptive_fields!r}")
    if not args.receptive_fields or min(args.receptive_fields) < 1:
        parser.error("--receptive_fields must be >= 1")
    if args.frames < args.sequences:
        parser.error("--frames must be at least --sequences")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the table and returns the rows (raw numbers)."""
    args = parse_args(argv)
    t0 = time.perf_counter()
    rows = measure(
        args.frames, args.sequences, args.receptive_fields, args.batch, args.batches, args.repeats, args.seed
    )
    print(f"# done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    sizes = {k: getattr(args, k) for k in ("frames", "sequences", "batch", "batches", "repeats")}
    report(format_table(rows, args), args.json, **sizes, rows=rows)
    return rows


if __name__ == "__main__":
    main()
