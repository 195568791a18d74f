"""Action recognition throughput: the chiral invariant net vs its plain baseline, side by side.

Per row (widths, clip shape people x frames x joints x channels, batch B; float32), measured in one
process with :func:`chiral_jax.benchmarking.time_interleaved` (calls interleaved, medians over
``--repeats`` after a warm-up):

* **training**: :class:`chiral_jax.train.Trainer` steps (jitted ``value_and_grad`` of
  :func:`chiral_jax.tasks.action.action_loss` and the task's SGD update) on a host batch of random
  clips: clips/s = B / step time;
* **inference**: the eval-mode net on a device batch (one jitted call): the chiral net, the
  baseline, and the baseline with test-time flip averaging (two passes): clips/s = B / call time.

Rows: ``default`` (the default config's widths on the synthetic clips' shape: 1 x 64 x 17 x 3),
``kinetics`` (ST-GCN's widths on a Kinetics training window: 2 x 150 x 18 x 3), ``nw_ucla`` and
``penn`` (half ST-GCN's widths, batch 16, on NW-UCLA's 52 x 20 x 3 and Penn Action's 64 x 13 x 3
clips: the sizes of ``experiments/configs/action_nw_ucla.py`` and ``action_penn.py``).

Run::

    python benchmarks/action_throughput.py            # both rows
    python benchmarks/action_throughput.py --quick    # tiny sizes, a smoke test in seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.benchmarking import report, time_interleaved
from chiral_jax.models.action import ST_GCN_WIDTHS
from chiral_jax.tasks import action
from chiral_jax.tasks.configs import load_config_file
from chiral_jax.tasks.runner import num_params
from chiral_jax.train import Trainer

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "action.py"
GROUPS = (("train_chiral", "train_baseline"), ("infer_chiral", "infer_baseline", "infer_baseline_tta"))


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


def _inference(net: nnx.Module, spec: Any, clips: jax.Array, tta: bool) -> Any:
    """``call()``: the jitted eval-mode net on ``clips`` (flip-averaged with ``tta``)."""
    graphdef, state = nnx.split(net)

    @jax.jit
    def infer(s: Any, x: jax.Array) -> jax.Array:
        m = nnx.merge(graphdef, s, copy=True)
        y = m(x)
        return 0.5 * (y + m(spec.transform(x))) if tta else y

    return lambda: infer(state, clips)


def bench_row(row: Row, repeats: int) -> dict[str, Any]:
    config = load_config_file(str(CONFIG))
    spec = skeletons.get(row.skeleton).spec(3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(row.batch, row.people, row.frames, spec.size)).astype(np.float32)
    batch = {"clips": x, "labels": rng.integers(0, row.classes, row.batch).astype(np.int32)}
    calls, params = {}, {}
    tmp = tempfile.TemporaryDirectory()
    for kind in ("chiral", "baseline"):
        variant = action.Variant(kind, kind, row.widths)
        model = action.make_model(variant, spec, row.classes, config.model)
        params[kind] = num_params(model)
        trainer = Trainer(
            model,
            action.optimizer(config.train, 100),
            action.action_loss,
            workdir=f"{tmp.name}/{kind}",
            bn_momentum=None,
            progress=False,
        )
        calls[f"train_{kind}"] = lambda t=trainer: t.step(batch)
        net = action.make_model(variant, spec, row.classes, config.model)
        net.eval()
        for tta in (False, True) if kind == "baseline" else (False,):
            calls[f"infer_{kind}" + ("_tta" if tta else "")] = _inference(net, spec, jax.device_put(x), tta)
    timings = time_interleaved(calls, repeats=repeats, groups=GROUPS)
    tmp.cleanup()
    med = timings.medians()
    return {
        **dataclasses.asdict(row),
        "params": params,
        "clips_per_s": {k: row.batch / v for k, v in med.items()},
        "times_s": {k: timings.times(k) for k in calls},
        "train_speedup": timings.ratio("train_baseline", "train_chiral"),
        "infer_speedup": timings.ratio("infer_baseline", "infer_chiral"),
        "infer_speedup_vs_tta": timings.ratio("infer_baseline_tta", "infer_chiral"),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| row | params chiral / baseline | train clips/s chiral | baseline | infer clips/s chiral | "
        "baseline | baseline + TTA |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, p = r["clips_per_s"], r["params"]
        lines.append(
            f"| {r['name']} (B={r['batch']}, {r['people']}x{r['frames']} frames) | {p['chiral']:,} / "
            f"{p['baseline']:,} | {c['train_chiral']:.0f} | {c['train_baseline']:.0f} | "
            f"{c['infer_chiral']:.0f} | {c['infer_baseline']:.0f} | {c['infer_baseline_tta']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per variant")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--rows", default=None, help="comma-separated row names (default: all)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 10)
    chosen = make_rows(args.quick)
    if args.rows:
        chosen = [r for r in chosen if r.name in args.rows.split(",")]
    rows = [bench_row(r, repeats) for r in chosen]
    report(lambda info: table(rows), args.json, rows=rows)
    return rows


if __name__ == "__main__":
    main()
