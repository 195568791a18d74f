"""Prediction speed of ``experiments/predict3d.py``: the chiral lifter once against the dense
baseline with test-time flip averaging (the baseline's way to be mirror-consistent), side by side.

What is timed, per row (hidden width W, filter widths, a whole sequence of ``--frames`` frames):
:meth:`chiral_jax.predict.Lifter.apply_fn` as :meth:`~chiral_jax.predict.Lifter.predict` runs it,
the dilated net in eval mode on the edge-padded sequence ``(1, T + R - 1, 34)`` already on the
device, in one jitted call: the chiral net once, the baseline once, the baseline with flip
averaging ``0.5 * (F(x) + T_out F(T_in x))`` (two passes). Frames/s = T / call time (median over
``--repeats`` interleaved calls after a warm-up: :func:`chiral_jax.benchmarking.time_interleaved`).
Reading the keypoint file, compiling and writing the npz are not included (the command prints its
own total). Weights are random (speed does not depend on them) unless ``--checkpoint WORKDIR``
names a training workdir, whose chiral and baseline runs are timed instead.

Run::

    python benchmarks/predict_speed.py                      # W=1024 and W=256, 27 frames, T=2000
    python benchmarks/predict_speed.py --quick              # tiny sizes, a smoke test in seconds
    python benchmarks/predict_speed.py --checkpoint /tmp/lift3d --json speed.json
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax import skeletons
from chiral_jax.benchmarking import report, time_interleaved
from chiral_jax.predict import Lifter, load_lifter
from chiral_jax.tasks import lifting
from chiral_jax.tasks.runner import num_params

SKELETON = skeletons.H36M
CALLS = ("chiral", "baseline", "baseline_flip")


def random_lifter(kind: str, channels: int, filter_widths: tuple[int, ...], seed: int) -> Lifter:
    """A lifter built as the lifting task builds it (:func:`chiral_jax.tasks.lifting.make_model`,
    eval mode), with random weights drawn in numpy (no per-shape initializer compilations)."""
    from flax import nnx

    variant = lifting.Variant(f"{kind}_w{channels}", kind, channels)
    abstract = nnx.eval_shape(
        lambda: lifting.make_model(variant, SKELETON, filter_widths=filter_widths, dropout=0.25)
    )
    graphdef, state = nnx.split(abstract)
    rng = np.random.default_rng(seed)

    def fill(path: tuple[Any, ...], leaf: Any) -> Any:
        name = str(path[-1])
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return jax.random.key(seed)
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            return jnp.zeros(leaf.shape, leaf.dtype)
        if name in ("var", "scale"):  # batch-norm variances and scales: positive
            return jnp.ones(leaf.shape, leaf.dtype)
        return jnp.asarray(rng.normal(0.0, 0.05, leaf.shape).astype(leaf.dtype))

    pure = jax.tree_util.tree_map_with_path(fill, nnx.to_pure_dict(state))
    nnx.replace_by_pure_dict(state, pure)
    model = nnx.merge(graphdef, state)
    model.eval()
    meta = {
        "variant": {"name": variant.name, "kind": kind, "channels": channels},
        "receptive_field": math.prod(filter_widths),
        "causal": False,
    }
    return Lifter(model, meta, SKELETON, Path("."), Path("."), 0)


def measure(lifters: dict[str, Lifter], frames: int, repeats: int, seed: int) -> dict[str, Any]:
    """Frames/s of the three calls on one random sequence of ``frames`` frames."""
    r = lifters["chiral"].receptive_field
    x = jnp.asarray(np.random.default_rng(seed).normal(0, 0.3, (1, frames + r - 1, 34)).astype(np.float32))
    fns = {
        "chiral": lifters["chiral"].apply_fn(),
        "baseline": lifters["baseline"].apply_fn(),
        "baseline_flip": lifters["baseline"].apply_fn(flip_average=True),
    }
    timings = time_interleaved({k: (lambda f=f: f(x)) for k, f in fns.items()}, repeats=repeats)
    fps = {k: frames / timings.median(k) for k in CALLS}
    return {
        "name": f"W={lifters['chiral'].metadata['variant']['channels']}, {r} frames",
        "frames": frames,
        "params": {k: num_params(lifters[k].model) for k in ("chiral", "baseline")},
        "frames_per_s": fps,
        "times_s": {k: timings.times(k) for k in CALLS},
        "chiral_vs_baseline_flip": timings.ratio("chiral", "baseline_flip"),
        "chiral_vs_baseline": timings.ratio("chiral", "baseline"),
    }


def format_table(rows: Sequence[dict[str, Any]], info: dict[str, Any], repeats: int) -> str:
    lines = [
        "# Prediction speed (experiments/predict3d.py's model call, whole sequence, float32)",
        "",
        f"Machine: {info['cpu']}, {info['cpu_count']} cores, {info['platform']}, jax {info['jax']}, "
        f"load average {info['load_average']}; median of {repeats} calls",
        "",
        "| model | frames | params chiral / dense | chiral once (frames/s) | dense once (frames/s) | "
        "dense + flip averaging (frames/s) | chiral / (dense + flip) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f = r["frames_per_s"]
        lines.append(
            f"| {r['name']} | {r['frames']} | {r['params']['chiral']:,} / {r['params']['baseline']:,} | "
            f"{f['chiral']:,.0f} | {f['baseline']:,.0f} | {f['baseline_flip']:,.0f} | "
            f"{r['chiral_vs_baseline_flip']:.2f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    p.add_argument("--widths", type=int, nargs="+", default=None, help="hidden widths (default 1024 256)")
    p.add_argument("--filter_widths", type=int, nargs="+", default=None, help="default 3 3 3")
    p.add_argument("--frames", type=int, default=None, help="sequence length (default 2000)")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per variant (default 10)")
    p.add_argument("--checkpoint", default=None, help="a lift3d WORKDIR: time its chiral and baseline runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the raw numbers here")
    return p.parse_args(argv)


def _trained(workdir: str) -> dict[str, Lifter]:
    names = sorted(p.name for p in Path(workdir).iterdir() if (p / "seed0" / "model.json").exists())
    chiral = next((n for n in names if n.startswith("chiral")), None)
    baseline = next((n for n in names if n.startswith("baseline")), None)
    if chiral is None or baseline is None:
        raise SystemExit(f"--checkpoint {workdir}: expected a chiral_* and a baseline_* run, found {names}")
    return {"chiral": load_lifter(workdir, chiral), "baseline": load_lifter(workdir, baseline)}


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the table and returns the rows."""
    args = parse_args(argv)
    widths = args.widths or ([16] if args.quick else [1024, 256])
    filter_widths = tuple(args.filter_widths or ((3, 3) if args.quick else (3, 3, 3)))
    frames = args.frames or (64 if args.quick else 2000)
    repeats = args.repeats or (2 if args.quick else 10)
    if args.checkpoint:
        sets = [_trained(args.checkpoint)]
    else:
        sets = [
            {k: random_lifter(k, w, filter_widths, args.seed) for k in ("chiral", "baseline")} for w in widths
        ]
    rows = []
    for lifters in sets:
        rows.append(measure(lifters, frames, repeats, args.seed))
        print(f"# {rows[-1]['name']}: done", file=sys.stderr, flush=True)
    report(lambda info: format_table(rows, info, repeats), args.json, repeats=repeats, rows=rows)
    return rows


if __name__ == "__main__":
    jax.config.update("jax_numpy_rank_promotion", "raise")
    main()
