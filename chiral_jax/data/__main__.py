"""Builds a dataset and prints a one-line JSON summary.

    python -m chiral_jax.data NAME [--manual_dir DIR] [--data_dir DIR] [--keypoints SOURCE]
                                   [--seed N] [--noise_px S]

NAME is a dataset of the registry (:data:`chiral_jax.data.registry.DATASETS`: synthetic,
cmu_mocap, h36m, humaneva). The build goes to ``--data_dir`` (TFDS's default when omitted), where
the experiments find it (their ``data.data_dir``). Output (stdout, one line):
{"name": ..., "config": ..., "splits": {"train": {"sequences": n, "frames": m}, "test": {...}},
 "num_joints": 17, ...}. A user mistake (a missing or malformed file, a bad flag or value) prints
at most three lines on stderr, naming the path or flag, what was expected and where to get it, and
exits with status 2 (``--verbose``: with the traceback).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback


def main(argv: list[str] | None = None) -> int:
    """The command; returns its exit status (0, or 2 for a user mistake)."""
    from chiral_jax.data.registry import DATASETS
    from chiral_jax.tasks.cli import USAGE_EXIT, ArgumentParser, error_lines, user_error_message

    parser = ArgumentParser(prog="python -m chiral_jax.data", description=__doc__.split("\n")[0])

    described = "; ".join(f"{n}: {e.description}" for n, e in DATASETS.items())
    parser.add_argument("name", help=f"the dataset ({described})")
    parser.add_argument("--manual_dir", default=None, help="folder holding the source files")
    parser.add_argument("--data_dir", default=None, help="TFDS data dir (default ~/tensorflow_datasets)")
    parser.add_argument("--keypoints", default=None, help="2D source for h36m / humaneva (default gt)")
    parser.add_argument("--seed", type=int, default=None, help="synthetic: generator seed")
    parser.add_argument("--noise_px", type=float, default=None, help="synthetic: 2D noise std, pixels")
    parser.add_argument("--verbose", action="store_true", help="show the traceback of an input error")
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2, already printed)
        return int(done.code or 0)

    if args.name not in DATASETS:
        unknown = f"unknown dataset {args.name!r}; expected one of {', '.join(DATASETS)}"
        print("\n".join(error_lines(unknown, parser.prog)), file=sys.stderr)
        return USAGE_EXIT

    import tensorflow_datasets as tfds

    from chiral_jax.data.builders import build, summarize
    from chiral_jax.data.errors import DatasetFileError

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
            if args.verbose:
                traceback.print_exception(e)
            message = user_error_message(e) or str(e)
            print("\n".join(error_lines(message, parser.prog)), file=sys.stderr)
            return USAGE_EXIT
        summary = summarize(builder)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
