"""2D pose forecasting: chiral seq2seq LSTMs against their plain baseline (the Chirality Nets
paper's Table 3), as a :class:`~chiral_jax.runner.Task`.

Given the present pose (and its initial velocity: ``data.observed = 2``), forecast the next
``data.future`` (16) 2D poses; samples, normalisation and PCK@0.05 follow the published protocol
(:mod:`chiral_jax.data.forecasting`; the splits and recipe options in
:mod:`chiral_jax.data.forecast_data`). The runner trains the comparison (chiral at equal width and
equal parameters, the baseline without and with mirror augmentation, flip averaging) on a fixed
schedule (no checkpoint is picked on the test set). Every results table also holds two trivial
forecasts: zero velocity (the last observed pose repeated) and constant velocity.

PCK is reported twice: ``pck`` (correct: each joint's (x, y) pair) and ``pck_tprnn_code`` (the
released TP-RNN code's convention, which pairs the wrong coordinates; for comparison with the
published numbers only), see :func:`chiral_jax.metrics.pck_tprnn_code`.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import metrics, runner, skeletons
from chiral_jax.data import MirrorAugment
from chiral_jax.data.forecast_data import (
    FORECAST_DATASETS,
    ForecastData,
    clip_videos,
    forecast_batch,
    load_forecast_data,
    split_validation,
)
from chiral_jax.data.forecasting import Video2D
from chiral_jax.data.pipeline import index_batches
from chiral_jax.models import ChiralPoseForecaster, PoseForecaster
from chiral_jax.runner import Column, TrainingSetup, Variant
from chiral_jax.spec import ChiralSpec
from chiral_jax.train.schedules import run_schedule

__all__ = [
    "FORECASTING",
    "FORECAST_DATASETS",
    "ForecastData",
    "ForecastingTask",
    "Variant",
    "Video2D",
    "clip_videos",
    "evaluate",
    "load_data",
    "make_model",
    "pck_fields",
    "split_validation",
    "train_and_evaluate",
    "trivial_forecasts",
    "variants",
]

Array = jax.Array
SKELETON = skeletons.PENN_ACTION
POSE = SKELETON.spec(2)  # 13 joints x (x, y), x negated
VISIBILITY = SKELETON.spec(1, negated=())  # the joint permutation alone, for visibility masks
MIRROR = {"observed": POSE, "targets": POSE, "visible": VISIBILITY}
LOSSES = ("mse", "l1", "dist", "welsch")
WELSCH_SCALE = 0.1  # the PCK@0.05 threshold in the protocol's normalised coordinates

load_data = load_forecast_data


def make_model(
    variant: Variant,
    model: ml_collections.ConfigDict,
    *,
    horizon: int,
    teacher_forcing: float = 0.5,
    seed: int = 0,
    spec: ChiralSpec = POSE,
) -> nnx.Module:
    """The forecaster of a variant: a stacked LSTM or GRU (``model.cell``) of ``model.num_layers``
    layers and ``variant.width`` units, dropout ``model.dropout`` between layers, residual decoding;
    the ground truth is fed back with probability ``teacher_forcing`` per sample and step while
    training. ``model.velocity``, ``model.zero_head``, ``model.normalize`` and (chiral LSTMs)
    ``model.recurrent_init`` / ``model.forget_bias`` are the forecasters' arguments of the same
    names; ``spec``: the pose's mirror (Penn Action 2D by default)."""
    if model.cell not in ("lstm", "gru"):
        raise ValueError(f"model.cell must be lstm or gru, got {model.cell!r}")
    kw = dict(
        hidden=variant.width,
        num_layers=model.num_layers,
        cell=model.cell,
        horizon=horizon,
        teacher_forcing=teacher_forcing,
        velocity=model.get("velocity", "initial"),
        zero_head=model.get("zero_head", False),
        normalize=model.get("normalize", True),
        dropout_rate=model.dropout,
        rngs=nnx.Rngs(seed),
    )
    if variant.kind == "chiral":
        rec = dict(
            recurrent_init=model.get("recurrent_init", "lecun"), forget_bias=model.get("forget_bias", 1.0)
        )
        return ChiralPoseForecaster(spec, **kw, **rec)
    return PoseForecaster(spec, **kw)


def variants(model: ml_collections.ConfigDict, augment: bool) -> list[Variant]:
    """The comparison of ``model.kind`` at ``model.width`` units (:func:`~chiral_jax.runner.comparison_grid`;
    chiral widths even)."""
    build = lambda kind, w: make_model(Variant("", kind, w), model, horizon=1)  # noqa: E731
    return runner.comparison_grid(
        model.kind,
        model.width,
        augment=augment,
        equal_params=model.equal_params,
        params=lambda kind, w: runner.num_params(nnx.eval_shape(lambda: build(kind, w))),
        multiple=2,
        baseline_without_augment=model.get("baseline_without_augment", False),
    )


def pck_fields(pred: np.ndarray, target: np.ndarray, visible: np.ndarray) -> dict[str, Any]:
    """PCK@0.05 per step and averaged, correct and under the TP-RNN code's convention (percent)."""
    s, t = pred.shape[:2]
    p, y = pred.reshape(s, t, -1, 2), target.reshape(s, t, -1, 2)
    out: dict[str, Any] = {}
    for key, fn in (("pck", metrics.pck_per_step), ("pck_tprnn_code", metrics.pck_tprnn_code)):
        steps = np.asarray(fn(p, y, visible), np.float64)
        out[key] = steps.tolist()
        out[key + "_avg"] = float(np.nanmean(steps))
    return out


def trivial_forecasts(data: ForecastData) -> dict[str, dict[str, Any]]:
    """PCK of the zero-velocity and constant-velocity forecasts on the test samples."""
    b = forecast_batch(data.test, slice(None), data.observed)
    last = b["observed"][:, -1:]
    steps = np.arange(1, data.future + 1, dtype=np.float32)[None, :, None]
    velocity = last - b["observed"][:, -2:-1] if data.observed > 1 else np.zeros_like(last)
    return {
        "zero_velocity": pck_fields(np.repeat(last, data.future, axis=1), b["targets"], b["visible"]),
        "constant_velocity": pck_fields(last + steps * velocity, b["targets"], b["visible"]),
    }


def evaluate(model: nnx.Module, data: ForecastData, *, flip_average: bool = False) -> dict[str, Any]:
    """PCK fields (:func:`pck_fields`) of the free-running forecasts of ``model`` on the test
    samples, and its samples per second."""
    b = forecast_batch(data.test, slice(None), data.observed)
    apply = runner.eval_function(model, flip=(POSE, POSE) if flip_average else None)
    pred, seconds = runner.batched_apply(apply, b["observed"], 1024)
    return {**pck_fields(pred, b["targets"], b["visible"]), "eval_samples_per_second": len(pred) / seconds}


def forecast_loss(
    model: nnx.Module, batch: dict[str, Array], kind: str = "mse"
) -> tuple[Array, dict[str, Array]]:
    """The forecast error over the visible target joints, every step and joint weighted alike.
    ``kind``: ``"mse"`` (squared distance), ``"l1"`` (absolute error per coordinate), ``"dist"``
    (Euclidean distance per joint, what PCK thresholds) or ``"welsch"`` (``1 - exp(-d^2 / (2 s^2))``
    with ``s`` the PCK threshold: a smooth PCK, a joint far off costs a bounded amount)."""
    pred = model(batch["observed"], batch["targets"])
    b, t = pred.shape[:2]
    diff = (pred - batch["targets"]).reshape(b, t, -1, 2)
    sq = jnp.sum(jnp.square(diff), axis=-1)
    dist = jnp.sqrt(sq + 1e-12)
    per_joint = {
        "mse": sq,
        "l1": jnp.sum(jnp.abs(diff), axis=-1),
        "dist": dist,
        "welsch": -jnp.expm1(-sq / (2 * WELSCH_SCALE**2)),
    }[kind]
    vis = batch["visible"].astype(sq.dtype)
    count = jnp.maximum(jnp.sum(vis), 1.0)
    return jnp.sum(per_joint * vis) / count, {"pck": 100 * jnp.sum((dist < 0.1) * vis) / count}


class ForecastingTask(runner.Task):
    """2D pose forecasting with seq2seq recurrent nets."""

    name = "Forecasting"
    summary_keys = ("pck_avg", "pck_tprnn_code_avg", "pck", "pck_tprnn_code", "eval_samples_per_second")
    columns = (
        Column("PCK@0.05 avg (%)", "pck_avg"),
        Column("PCK, TP-RNN code (%)", "pck_tprnn_code_avg"),
        Column("eval samples/s", "eval_samples_per_second", ".0f"),
    )
    primary_metric = "pck_avg"
    final_metrics = ("train_loss",)

    def load_data(self, config: ml_collections.ConfigDict) -> ForecastData:
        return load_forecast_data(config.data)

    def describe_data(self, data: ForecastData) -> dict[str, Any]:
        sizes = {"train_samples": len(data.train["poses"]), "test_samples": len(data.test["poses"])}
        return {
            "name": data.name,
            **sizes,
            **{k: getattr(data, k) for k in ("videos", "observed", "future", "evaluated_on")},
        }

    def variants(self, config: ml_collections.ConfigDict, data: ForecastData) -> list[Variant]:
        return variants(config.model, config.train.augment)

    def describe_variant(self, variant: Variant) -> dict[str, Any]:
        return {**variant.describe(), "hidden": variant.width}  # "hidden": the unit count (older records)

    def setup(
        self, variant: Variant, seed: int, data: ForecastData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        t = config.train
        model = make_model(
            variant, config.model, horizon=data.future, teacher_forcing=t.teacher_forcing, seed=seed
        )
        bs, n = t.batch_size, len(data.train["poses"])
        steps = n // bs
        if steps == 0:
            raise ValueError(f"{n} training samples: fewer than one batch of {bs}")
        augment = MirrorAugment(MIRROR) if variant.augment else None

        def batches(epoch: int) -> Any:
            return index_batches(
                lambda ids: forecast_batch(data.train, ids, data.observed),
                n,
                bs,
                seed=seed,
                epoch=epoch,
                augment=augment,
                fields=("observed", "targets", "visible"),
                process_index=jax.process_index(),
                process_count=jax.process_count(),
            )

        kind = t.get("loss", "mse")
        if kind not in LOSSES:
            raise ValueError(f"train.loss must be one of {LOSSES}, got {kind!r}")
        lr = run_schedule(t, steps * t.epochs)
        wd = t.get("weight_decay", 0.0)
        adam = optax.adamw(lr, weight_decay=wd) if wd else optax.adam(lr)  # decoupled decay
        tx = optax.chain(optax.clip_by_global_norm(t.clip_norm), adam)
        loss = functools.partial(forecast_loss, kind=kind)
        return TrainingSetup(model, tx, loss, batches, steps, t.epochs, bn_momentum=None)

    def evaluate(
        self,
        model: nnx.Module,
        variant: Variant,
        data: ForecastData,
        config: ml_collections.ConfigDict,
        *,
        flip_average: bool = False,
    ) -> dict[str, Any]:
        return evaluate(model, data, flip_average=flip_average)

    def extra_results(self, data: ForecastData, config: ml_collections.ConfigDict) -> dict[str, Any]:
        return {"trivial": trivial_forecasts(data)}

    def extra_markdown(self, results: dict[str, Any]) -> str:
        rows = [(r["name"], r) for r in results["summary"]]
        rows += [(name.replace("_", " "), r) for name, r in results["trivial"].items()]
        steps = len(rows[0][1]["pck"])
        shown = sorted({1, 2, 4, 8, steps} & set(range(1, steps + 1)))
        header = ["model", *(f"step {k}" for k in shown), "average", "TP-RNN code avg"]
        cells = [
            [
                name,
                *(f"{r['pck'][k - 1]:.1f}" for k in shown),
                f"{r['pck_avg']:.1f}",
                f"{r['pck_tprnn_code_avg']:.1f}",
            ]
            for name, r in rows
        ]
        intro = (
            "PCK@0.05 (%) per forecast step (mean over seeds); the last column under the released "
            "TP-RNN code's coordinate pairing, for comparison with published numbers:"
        )
        return "\n".join(["", intro, "", *runner.table(header, cells)]) + "\n"

    def title(self, results: dict[str, Any]) -> str:
        d = results["data"]
        split = d.get("evaluated_on", "test")
        return (
            f"Forecasting results: {d['name']} ({d['train_samples']} train / {d['test_samples']} {split} "
            f"samples, {d['observed']} observed + {d['future']} forecast frames)"
        )


FORECASTING = ForecastingTask()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Every variant x seed of ``config``; writes results.json / results.md / plots in ``workdir``."""
    return runner.run(FORECASTING, config, workdir)


def results_table(results: dict[str, Any]) -> str:
    """``results.md`` of a forecasting run: the summary table and the per-step table."""
    return runner.report(FORECASTING, results)
