"""Action recognition throughput: the chiral invariant net vs its plain baseline, side by side.

Per row (widths, clip shape people x frames x joints x channels, batch B; float32), measured in one
process with :func:`chiral_jax.benchmarking.time_interleaved` (calls interleaved, medians over
``--repeats`` after a warm-up):

* **training**: :class:`chiral_jax.train.Trainer` steps (jitted ``value_and_grad`` of
  :func:`chiral_jax.tasks.action.action_loss` and the task's SGD update) on a host batch of random
  clips: clips/s = B / step time;
* **inference**: the eval-mode net on a device batch (one jitted call): the chiral net, the
  baseline, and the baseline with test-time flip averaging (two passes in one jit,
  :func:`chiral_jax.equivariance.flip_average` through :func:`chiral_jax.benchmarking.inference_calls`):
  clips/s = B / call time; speedups are chiral over baseline (medians of per-repeat ratios).

Rows: ``default`` (the default config's widths on the synthetic clips' shape: 1 x 64 x 17 x 3),
``kinetics`` (ST-GCN's widths on a Kinetics training window: 2 x 150 x 18 x 3), ``nw_ucla`` and
``penn`` (half ST-GCN's widths, batch 16, on NW-UCLA's 52 x 20 x 3 and Penn Action's 64 x 13 x 3
clips: the sizes of ``experiments/configs/action_nw_ucla.py`` and ``action_penn.py``).

Run::

    python benchmarks/action_throughput.py            # both rows
    python benchmarks/action_throughput.py --quick    # tiny sizes, a smoke test in seconds
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from chiral_jax import skeletons
from chiral_jax.benchmarking import (
    BenchmarkParser,
    chiral_vs_baseline,
    chiral_vs_baseline_table,
    eval_apply,
    inference_calls,
    report,
    run_rows,
    train_call,
)
from chiral_jax.models.action import ST_GCN_WIDTHS
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import action
from chiral_jax.tasks.configs import load_config_file
from chiral_jax.tasks.runner import num_params
from chiral_jax.train import Trainer

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "action.py"


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    widths: tuple[int, ...]
    people: int
    frames: int
    skeleton: str
    batch: int
    classes: int


def make_rows(quick: bool) -> list[Row]:
    if quick:
        return [Row("quick", (4, 4, 6, 6), 2, 16, "openpose18", 4, 5)]
    default = tuple(load_config_file(str(CONFIG)).model.widths)
    half = tuple(w // 2 for w in ST_GCN_WIDTHS)
    return [
        Row("default", default, 1, 64, "h36m", 32, 6),
        Row("kinetics", ST_GCN_WIDTHS, 2, 150, "openpose18", 8, 400),
        # The 2-core configs' sizes (their docstrings' runtime estimates come from these rows).
        Row("nw_ucla", half, 1, 52, "kinect_v1", 16, 10),
        Row("penn", half, 1, 64, "penn_action", 16, 15),
    ]


def bench_row(row: Row, repeats: int) -> dict[str, Any]:
    config = load_config_file(str(CONFIG))
    spec = skeletons.get(row.skeleton).spec(3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(row.batch, row.people, row.frames, spec.size)).astype(np.float32)
    batch = {"clips": x, "labels": rng.integers(0, row.classes, row.batch).astype(np.int32)}
    calls, params, applies, trainers = {}, {}, {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("chiral", "baseline"):
            variant = action.Variant(kind, kind, row.widths)
            model = action.make_model(variant, spec, row.classes, config.model)
            params[kind] = num_params(model)
            trainer = Trainer(
                model,
                action.optimizer(config.train, 100),
                action.action_loss,
                workdir=f"{tmp}/{kind}",
                bn_momentum=None,
                progress=False,
            )
            trainers.append(trainer)
            calls[f"train_{kind}"] = train_call(trainer, batch, row.batch)
            applies[kind] = eval_apply(action.make_model(variant, spec, row.classes, config.model))
        # The class scores are invariant: the flip average mirrors the clips only.
        scores = ChiralSpec.invariant(row.classes)
        calls.update(inference_calls(applies, jax.device_put(x), row.batch, spec, scores))
        measured = chiral_vs_baseline(calls, params, repeats=repeats, per_s_key="clips_per_s", close=trainers)
    return {**dataclasses.asdict(row), **measured}


def format_table(rows: list[dict[str, Any]], repeats: int) -> list[str]:
    lines = [
        f"float32, median of {repeats} interleaved repeats (clips/s = batch / median time; speedups: "
        "medians of per-repeat ratios, chiral over baseline). TTA = flip averaging (two passes, one jit).",
        "",
    ]
    return lines + chiral_vs_baseline_table(
        rows,
        per_s_key="clips_per_s",
        unit="clips",
        name=lambda r: f"{r['name']} (B={r['batch']}, {r['people']}x{r['frames']} frames)",
    )


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = BenchmarkParser(__doc__, repeats=(10, 2), seed=None, quick_help="tiny sizes (smoke test)")
    parser.add_argument("--rows", default=None, help="comma-separated row names (default: all)")
    args = parser.parse_args(argv)
    chosen = make_rows(args.quick)
    if args.rows:
        chosen = [r for r in chosen if r.name in args.rows.split(",")]
    rows = run_rows(chosen, lambda r, i: bench_row(r, args.repeats), lambda r: r.name)
    report(format_table(rows, args.repeats), args.json, repeats=args.repeats, rows=rows)
    return rows


if __name__ == "__main__":
    main()
