"""Runtime estimate of a lifting config from measured step times on a fixture of the real size.

The licensed datasets are not on this machine, so the HumanEva-I and limited-data recipes are sized
from fixtures with their structure and (approximately) their size: VideoPose3D-format npz files
written by :mod:`chiral_jax.data.fixtures` (synthetic content: the timing of a step does not depend
on it), built and read through the task's own data path. For every variant of the config this
times ``--steps`` training steps of the task's own :class:`~chiral_jax.train.Trainer` fed by the
task's own batches (batching and augmentation included; after one warm-up step that compiles) and
one evaluation pass over the test split (the task's
:meth:`~chiral_jax.tasks.lifting.LiftingTask.evaluate`, test-time flip averaging included), and
prints steps per epoch, seconds per step and the estimated runtime of the config's epochs x seeds
(per sweep entry for a sweep). An ESTIMATE: no checkpoint writes, compilation, TFDS build or data
reading, and on a shared machine the step time varies with the load.

Fixture sizes (frames per camera, see :func:`sizes`; the real counts may differ somewhat):

* ``humaneva``: Train/S1-S3 and Validate/S1-S3, one ``Walking`` / ``Jog`` / ``Box`` take of 360
  frames each, 3 cameras: 9,720 training windows (the real set gives ~9.5 batches of 1,024).
* ``h36m``: S1 as 30 takes of 2,050 frames and 4 cameras (~246k windows; S9 and S11 for testing
  as 2 x 30 takes of 2,250 frames), for the S1 fractions of the limited-data study.

Run::

    python benchmarks/recipe_step_time.py --config experiments/configs/lift3d_humaneva_cpu.py
    python benchmarks/recipe_step_time.py --config experiments/configs/lift3d_limited_cpu.py
    python benchmarks/recipe_step_time.py --config experiments/configs/lift3d_humaneva.py --steps 5
    python benchmarks/recipe_step_time.py --quick        # tiny sizes, a smoke test
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections

from chiral_jax.benchmarking import BenchmarkParser, cycle_epochs, report, table
from chiral_jax.data import fixtures
from chiral_jax.tasks import lifting
from chiral_jax.tasks.configs import load_config_file

_HE_TAKES = ("Walking 1 chunk0", "Jog 1 chunk0", "Box 1 chunk0")
_H36M_TAKES = 30


def sizes(name: str, scale: float = 1.0) -> dict[str, dict[str, int]]:
    """``{subject: {take: frames}}`` of the fixture of ``name`` (``scale`` shrinks it)."""
    if name == "humaneva":
        n = max(int(360 * scale), 40)
        return {
            f"{split}/S{i}": dict.fromkeys(_HE_TAKES, n) for split in ("Train", "Validate") for i in (1, 2, 3)
        }
    if name == "h36m":
        takes = max(int(_H36M_TAKES * scale), 2)
        train = {f"Action{k} 1": max(int(2050 * scale), 60) for k in range(takes)}
        test = {f"Action{k} 1": max(int(2250 * scale), 60) for k in range(takes)}
        return {"S1": train, "S9": test, "S11": test}
    raise ValueError(f"no fixture size for data.name={name!r}; expected humaneva or h36m")


def write_fixture(name: str, folder: Path, source: str, scale: float) -> None:
    writer = {"humaneva": fixtures.write_humaneva, "h36m": fixtures.write_h36m}[name]
    writer(folder, source=source, actions=sizes(name, scale))


def entries(config: ml_collections.ConfigDict) -> list[tuple[str, ml_collections.ConfigDict]]:
    """``(label, config)`` per sweep entry (one ``("", config)`` without a sweep)."""
    if not config.get("sweep"):
        return [("", config)]
    out = []
    for entry in config.sweep:
        subjects, fraction = lifting.parse_sweep_entry(entry)
        sub = ml_collections.ConfigDict(config.to_dict())
        sub.sweep = ()
        sub.data.subjects_train, sub.data.train_fraction = subjects, fraction
        out.append((entry, sub))
    return out


def time_variant(
    variant: lifting.Variant, data: lifting.LiftingData, config: ml_collections.ConfigDict, steps: int
) -> dict[str, Any]:
    s = lifting.LIFTING.setup(variant, config.seed, data, config)
    with tempfile.TemporaryDirectory(prefix="recipe_step_time_") as workdir:
        trainer = s.trainer(workdir, progress=False)  # device-resident windows: batches are indices
        next_batch = cycle_epochs(s.batches)
        jax.block_until_ready(trainer.step(next_batch()))  # compiles
        t0 = time.perf_counter()
        for _ in range(steps):  # the task's own batches: data loading and augmentation included
            out = trainer.step(next_batch())
        jax.block_until_ready(out)
        step_seconds = (time.perf_counter() - t0) / steps
        model = trainer.model
        trainer.close()
    t0 = time.perf_counter()
    lifting.LIFTING.evaluate(model, variant, data, config)
    eval_seconds = time.perf_counter() - t0
    epoch_seconds = step_seconds * s.steps_per_epoch
    return {
        "variant": variant.name,
        "steps_per_epoch": s.steps_per_epoch,
        "step_seconds": step_seconds,
        "epoch_seconds": epoch_seconds,
        "eval_seconds": eval_seconds,
        "run_seconds": epoch_seconds * s.epochs + eval_seconds,
    }


def measure(config: ml_collections.ConfigDict, steps: int) -> list[dict[str, Any]]:
    rows = []
    for label, sub in entries(config):
        data = lifting.LIFTING.load_data(sub)
        for variant in lifting.LIFTING.variants(sub, data):
            row = time_variant(variant, data, sub, steps)
            row.update(entry=label, train_windows=sum(len(s.pose_3d) for s in data.train))
            rows.append(row)
            print(
                f"# {label or '-'} {variant.name}: {row['step_seconds']:.3f} s/step",
                file=sys.stderr,
                flush=True,
            )
    return rows


def format_table(rows: list[dict[str, Any]], config: ml_collections.ConfigDict) -> list[str]:
    seeds = config.num_seeds
    lines = [
        f"Config: {config.data.name}, batch {config.train.batch_size}, {config.train.epochs} epochs, "
        f"{seeds} seed(s), filter widths {tuple(config.model.filter_widths)}",
        "",
    ]
    lines += table(
        ("entry", "variant", "train windows", "steps/epoch", "s/step", "epoch s", "eval s", "run min (est.)"),
        [
            (
                r["entry"] or "-",
                r["variant"],
                f"{r['train_windows']:,}",
                r["steps_per_epoch"],
                f"{r['step_seconds']:.3f}",
                f"{r['epoch_seconds']:.1f}",
                f"{r['eval_seconds']:.1f}",
                f"{r['run_seconds'] / 60:.1f}",
            )
            for r in rows
        ],
        align="llrrrrrr",
    )
    total = sum(r["run_seconds"] for r in rows) * seeds
    lines += [
        "",
        f"Estimated total: {total / 60:.1f} min ({seeds} seed(s); no compilation, checkpoints or "
        "data reading counted).",
    ]
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchmarkParser(__doc__, seed=None, quick_help="tiny sizes: a smoke test")
    parser.add_argument("--config", default="experiments/configs/lift3d_humaneva_cpu.py", help="config file")
    parser.size("--steps", full=20, quick=2, help="timed steps per variant")
    parser.size(
        "--scale",
        full=1.0,
        quick=0.02,
        type=float,
        minimum=None,
        help="fixture size relative to the real one",
    )
    parser.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    config = load_config_file(args.config)
    config.progress = False
    if args.epochs is not None:
        config.train.epochs = args.epochs
    if args.quick:
        config.model.width, config.model.filter_widths = 16, (3, 3)
        config.model.equal_params, config.model.kind = False, "chiral"
        config.eval.flip_average = False
        config.train.batch_size = 16
        if config.get("sweep"):
            config.sweep = tuple(config.sweep)[:1]
    with tempfile.TemporaryDirectory(prefix="recipe_fixture_") as tmp:
        write_fixture(config.data.name, Path(tmp) / "manual", config.data.keypoints or "gt", args.scale)
        config.data.manual_dir = str(Path(tmp) / "manual")
        config.data.data_dir = str(Path(tmp) / "tfds")
        rows = measure(config, args.steps)
    report(format_table(rows, config), args.json, args=vars(args), rows=rows)
    return rows


if __name__ == "__main__":
    main()
