"""Builds a dataset and prints a one-line JSON summary.

    python -m chiral_jax.data NAME [--manual_dir DIR] [--data_dir DIR] [--keypoints SOURCE]
                                   [--seed N] [--noise_px S]

NAME is a dataset of the registry (:data:`chiral_jax.data.registry.DATASETS`: synthetic,
cmu_mocap, h36m, humaneva). The build goes to ``--data_dir`` (TFDS's default when omitted), where
the experiments find it (their ``data.data_dir``). Output (stdout, one line):
{"name": ..., "config": ..., "splits": {"train": {"sequences": n, "frames": m}, "test": {...}},
 "num_joints": 17, ...}. A missing or malformed file exits with status 1 and a message naming the
path tried, what was expected there and where to get it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chiral_jax.data", description=__doc__.split("\n")[0])
    from chiral_jax.data.registry import DATASETS

    described = "; ".join(f"{n}: {e.description}" for n, e in DATASETS.items())
    parser.add_argument("name", help=f"the dataset ({described})")
    parser.add_argument("--manual_dir", default=None, help="folder holding the source files")
    parser.add_argument("--data_dir", default=None, help="TFDS data dir (default ~/tensorflow_datasets)")
    parser.add_argument("--keypoints", default=None, help="2D source for h36m / humaneva (default gt)")
    parser.add_argument("--seed", type=int, default=None, help="synthetic: generator seed")
    parser.add_argument("--noise_px", type=float, default=None, help="synthetic: 2D noise std, pixels")
    args = parser.parse_args(argv)

    import tensorflow_datasets as tfds

    from chiral_jax.data.builders import build, summarize
    from chiral_jax.data.errors import DatasetFileError

    if args.name not in DATASETS:
        parser.error(f"unknown dataset {args.name!r}; known: {', '.join(DATASETS)}")
    tfds.disable_progress_bar()
    t0 = time.perf_counter()
    # TFDS prints progress lines on stdout: keep stdout for the one JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            builder = build(
                args.name,
                manual_dir=args.manual_dir,
                data_dir=args.data_dir,
                keypoints=args.keypoints,
                seed=args.seed,
                noise_px=args.noise_px,
            )
        except (DatasetFileError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        summary = summarize(builder)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
