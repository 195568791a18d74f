"""Prediction speed of ``experiments/predict3d.py``: the chiral lifter once against the dense
baseline with test-time flip averaging (the baseline's way to be mirror-consistent), side by side.

What is timed, per row (hidden width W, filter widths, a whole sequence of ``--frames`` frames): the
dilated net of :meth:`chiral_jax.predict.Lifter.apply_fn` (:func:`chiral_jax.tasks.lifting.dilated_apply`,
as :meth:`~chiral_jax.predict.Lifter.predict` runs it) in eval mode on the edge-padded sequence
``(1, T + R - 1, 34)`` already on the device, in one jitted call: the chiral net once, the baseline
once, the baseline with flip averaging ``0.5 * (F(x) + T_out F(T_in x))`` (two passes in one jit:
:func:`chiral_jax.equivariance.flip_average` through :func:`chiral_jax.benchmarking.inference_calls`).
Frames/s = T / call time (median over ``--repeats`` interleaved calls after a warm-up:
:func:`chiral_jax.benchmarking.time_interleaved`).
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax import skeletons
from chiral_jax.benchmarking import (
    BenchmarkParser,
    chiral_vs_baseline,
    inference_calls,
    report,
    run_rows,
    table,
)
from chiral_jax.models.trajectory import LifterWithTrajectory, with_root_spec
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
    # The dilated net of Lifter.apply_fn; the flip average through the harness (one jit).
    applies = {
        k: lifting.dilated_apply(lifters[k].model, lifters[k].skeleton) for k in ("chiral", "baseline")
    }
    base = lifters["baseline"]
    spec_out = base.skeleton.spec(3)
    if isinstance(base.model, LifterWithTrajectory):
        spec_out = with_root_spec(spec_out)
    infer = inference_calls(applies, x, frames, base.skeleton.spec(2), spec_out)
    calls = {"chiral": infer["infer_chiral"], "baseline": infer["infer_baseline"]}
    calls["baseline_flip"] = infer["infer_baseline_tta"]
    measured = chiral_vs_baseline(
        calls,
        {k: num_params(lifters[k].model) for k in ("chiral", "baseline")},
        repeats=repeats,
        per_s_key="frames_per_s",
        groups=[CALLS],
        ratios={
            "chiral_vs_baseline_flip": ("chiral", "baseline_flip"),
            "chiral_vs_baseline": ("chiral", "baseline"),
        },
    )
    return {
        "name": f"W={lifters['chiral'].metadata['variant']['channels']}, {r} frames",
        "frames": frames,
        **measured,
        **measured["ratios"],
    }


def format_table(rows: Sequence[dict[str, Any]], repeats: int) -> list[str]:
    lines = [
        "Prediction speed (experiments/predict3d.py's model call, whole sequence, float32).",
        "",
        f"Median of {repeats} interleaved calls; flip averaging: both passes in one jit.",
        "",
    ]
    return lines + table(
        (
            "model",
            "frames",
            "params chiral / dense",
            "chiral once (frames/s)",
            "dense once (frames/s)",
            "dense + flip averaging (frames/s)",
            "chiral / (dense + flip)",
        ),
        [
            (
                r["name"],
                r["frames"],
                f"{r['params']['chiral']:,} / {r['params']['baseline']:,}",
                *(f"{r['frames_per_s'][k]:,.0f}" for k in CALLS),
                f"{r['chiral_vs_baseline_flip']:.2f}x",
            )
            for r in rows
        ],
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = BenchmarkParser(__doc__, repeats=(10, 2), quick_help="tiny sizes (a smoke test)")
    p.size("--widths", full=[1024, 256], quick=[16], nargs="+", help="hidden widths")
    p.size("--filter_widths", full=[3, 3, 3], quick=[3, 3], nargs="+")
    p.size("--frames", full=2000, quick=64, help="sequence length")
    p.add_argument("--checkpoint", default=None, help="a lift3d WORKDIR: time its chiral and baseline runs")
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
    if args.checkpoint:
        sets = [_trained(args.checkpoint)]
    else:
        fw = tuple(args.filter_widths)
        sets = [{k: random_lifter(k, w, fw, args.seed) for k in ("chiral", "baseline")} for w in args.widths]
    rows = run_rows(
        sets,
        lambda lifters, i: measure(lifters, args.frames, args.repeats, args.seed),
        lambda lifters: f"W={lifters['chiral'].metadata['variant']['channels']}",
    )
    report(format_table(rows, args.repeats), args.json, repeats=args.repeats, rows=rows)
    return rows


if __name__ == "__main__":
    jax.config.update("jax_numpy_rank_promotion", "raise")
    main()
