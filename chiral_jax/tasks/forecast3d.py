"""3D motion forecasting: chiral seq2seq forecasters against their plain baseline, as a
:class:`~chiral_jax.runner.Task` written only against the runner.

Samples are windows of root-relative camera-frame 3D poses (H36M-17, metres) of the lifting
datasets (``data.name``: ``synthetic`` or ``cmu_mocap``, read through the registry's TFDS builds):
every ``data.frame_step``-th frame, ``data.observed`` frames given and ``data.future`` forecast, a
window starting every ``data.sample_stride`` (subsampled) frames. The mirror of a camera-frame pose
is ``X -> -X`` with left and right swapped (``H36M.spec(3)``), so the chiral forecaster (the 2D
task's seq2seq nets on that spec) is exactly equivariant. Metrics: the mean per-joint position
error per forecast step and over all steps (mm); the zero-velocity forecast (the last observed pose
repeated) is the trivial row.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import runner, skeletons
from chiral_jax.data import MirrorAugment
from chiral_jax.data.lifting_data import load_lifting_splits
from chiral_jax.data.pipeline import index_batches
from chiral_jax.runner import Column, TrainingSetup, Variant
from chiral_jax.tasks.forecasting import make_model as make_forecaster
from chiral_jax.train.schedules import run_schedule

__all__ = ["FORECAST3D", "Forecast3DData", "Forecast3DTask", "load_data", "mpjpe_per_step", "windows_of"]

Array = jax.Array
SKELETON = skeletons.H36M
POSE = SKELETON.spec(3)
DATASETS = ("synthetic", "cmu_mocap")


@dataclasses.dataclass(frozen=True)
class Forecast3DData:
    """``train`` / ``test``: (S, observed + future, J * 3) float32 pose windows (metres)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    observed: int
    future: int


def windows_of(poses: list[np.ndarray], length: int, step: int, stride: int) -> np.ndarray:
    """``(S, length, J * 3)`` windows of every ``step``-th frame of each ``(T, J, 3)`` sequence,
    one starting every ``stride`` subsampled frames (sequences shorter than ``length`` give none)."""
    out = []
    for p in poses:
        x = p[::step].reshape(-1, p.shape[1] * 3)
        out += [x[s : s + length] for s in range(0, len(x) - length + 1, stride)]
    return np.asarray(out, np.float32).reshape(-1, length, POSE.size)


def load_data(data: ml_collections.ConfigDict) -> Forecast3DData:
    """The windows of ``data.name``'s train and test splits (see the module docstring)."""
    if data.name not in DATASETS:
        raise ValueError(f"data.name must be synthetic or cmu_mocap, got {data.name!r}")
    train, test, _ = load_lifting_splits(data)
    n = data.observed + data.future
    kw = dict(length=n, step=data.frame_step, stride=data.sample_stride)
    tr, te = windows_of([s.pose_3d for s in train], **kw), windows_of([s.pose_3d for s in test], **kw)
    if not len(tr) or not len(te):
        raise ValueError(f"{data.name}: no windows of {n} frames (train {len(tr)}, test {len(te)})")
    return Forecast3DData(data.name, tr, te, data.observed, data.future)


def mpjpe_per_step(pred: Any, target: Any) -> Any:
    """(S, steps, J * 3) x 2 -> (steps,) mean per-joint position error (the inputs' units)."""
    d = (pred - target).reshape(*pred.shape[:2], -1, 3)
    return jnp.mean(jnp.linalg.norm(d, axis=-1), axis=(0, 2))


def _errors(pred: np.ndarray, target: np.ndarray) -> dict[str, Any]:  # in mm
    steps = 1000 * np.asarray(mpjpe_per_step(pred, target), np.float64)
    return {"mpjpe_mm": float(steps.mean()), "mpjpe_per_step": steps.tolist()}


def _loss(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
    err = jnp.mean(mpjpe_per_step(model(batch["observed"], batch["targets"]), batch["targets"]))
    return err, {"mpjpe_mm": 1000 * err}


class Forecast3DTask(runner.Task):
    """3D motion forecasting (see the module docstring)."""

    name = "3D motion forecasting"
    summary_keys = ("mpjpe_mm", "mpjpe_per_step", "eval_samples_per_second")
    columns = (Column("MPJPE (mm)", "mpjpe_mm"), Column("eval samples/s", "eval_samples_per_second", ".0f"))
    primary_metric = "mpjpe_mm"
    final_metrics = ("train_mpjpe_mm",)

    def load_data(self, config: ml_collections.ConfigDict) -> Forecast3DData:
        return load_data(config.data)

    def describe_data(self, data: Forecast3DData) -> dict[str, Any]:
        return {
            "name": data.name,
            "train_samples": len(data.train),
            "test_samples": len(data.test),
            "observed": data.observed,
            "future": data.future,
        }

    def _model(
        self, variant: Variant, config: ml_collections.ConfigDict, seed: int = 0, horizon: int = 1
    ) -> Any:
        tf = config.train.teacher_forcing
        return make_forecaster(
            variant, config.model, horizon=horizon, teacher_forcing=tf, seed=seed, spec=POSE
        )

    def variants(self, config: ml_collections.ConfigDict, data: Forecast3DData) -> list[Variant]:
        m = config.model
        return runner.comparison_grid(
            m.kind,
            m.width,
            augment=config.train.augment,
            equal_params=m.equal_params,
            params=lambda kind, w: runner.num_params(
                nnx.eval_shape(lambda: self._model(Variant("", kind, w), config))
            ),
            multiple=2,
            baseline_without_augment=m.baseline_without_augment,
        )

    def setup(
        self, variant: Variant, seed: int, data: Forecast3DData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        t, obs = config.train, data.observed
        steps = len(data.train) // t.batch_size
        if steps == 0:
            raise ValueError(f"{len(data.train)} training windows: fewer than one batch of {t.batch_size}")
        augment = MirrorAugment({"observed": POSE, "targets": POSE}) if variant.augment else None

        def batches(epoch: int) -> Any:
            return index_batches(
                lambda ids: {"observed": data.train[ids, :obs], "targets": data.train[ids, obs:]},
                len(data.train),
                t.batch_size,
                seed=seed,
                epoch=epoch,
                augment=augment,
                fields=("observed", "targets"),
                process_index=jax.process_index(),
                process_count=jax.process_count(),
            )

        tx = optax.chain(
            optax.clip_by_global_norm(t.clip_norm), optax.adam(run_schedule(t, steps * t.epochs))
        )
        model = self._model(variant, config, seed, data.future)
        return TrainingSetup(model, tx, _loss, batches, steps, t.epochs, bn_momentum=None)

    def evaluate(
        self,
        model: nnx.Module,
        variant: Variant,
        data: Forecast3DData,
        config: ml_collections.ConfigDict,
        *,
        flip_average: bool = False,
    ) -> dict[str, Any]:
        apply = runner.eval_function(model, flip=(POSE, POSE) if flip_average else None)
        pred, seconds = runner.batched_apply(apply, data.test[:, : data.observed], 1024)
        return {
            **_errors(pred, data.test[:, data.observed :]),
            "eval_samples_per_second": len(pred) / seconds,
        }

    def extra_results(self, data: Forecast3DData, config: ml_collections.ConfigDict) -> dict[str, Any]:
        last = np.repeat(data.test[:, data.observed - 1 : data.observed], data.future, axis=1)
        return {"trivial": {"zero_velocity": _errors(last, data.test[:, data.observed :])}}

    def extra_markdown(self, results: dict[str, Any]) -> str:
        rows = [*results["summary"], {"name": "zero velocity", **results["trivial"]["zero_velocity"]}]
        shown = sorted({1, 2, 4, 8, results["data"]["future"]} & set(range(1, results["data"]["future"] + 1)))
        cells = [
            [r["name"], *(f"{r['mpjpe_per_step'][k - 1]:.1f}" for k in shown), f"{r['mpjpe_mm']:.1f}"]
            for r in rows
        ]
        header = ["model", *(f"step {k}" for k in shown), "average"]
        intro = "Mean per-joint position error (mm) per forecast step (mean over seeds):"
        return "\n".join(["", intro, "", *runner.table(header, cells)]) + "\n"

    def title(self, results: dict[str, Any]) -> str:
        d = results["data"]
        sizes = f"{d['train_samples']} train / {d['test_samples']} test windows"
        return f"3D motion forecasting results: {d['name']} ({sizes}, {d['observed']} + {d['future']} frames)"


FORECAST3D = Forecast3DTask()
