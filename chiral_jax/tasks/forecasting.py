"""2D pose forecasting as a :class:`~chiral_jax.tasks.runner.Task`: chiral seq2seq LSTMs against
their plain baseline (the Chirality Nets paper's Table 3).

Given the present pose (and its initial velocity: ``data.observed = 2``), forecast the next
``data.future`` (16) 2D poses; samples, normalisation and PCK@0.05 follow the published protocol
(:mod:`chiral_jax.data.forecasting`). Variants: the chiral forecaster at equal width and at equal
parameters, the baseline without and with mirror augmentation (each also with test-time flip
averaging). Training runs a fixed schedule (no checkpoint is picked on the test set). Every
results table also holds two trivial forecasts: zero velocity (the last observed pose repeated)
and constant velocity.

PCK is reported twice: ``pck`` (correct: each joint's (x, y) pair) and ``pck_tprnn_code`` (the
released TP-RNN code's convention, which pairs the wrong coordinates; for comparison with the
published numbers only), see :func:`chiral_jax.metrics.pck_tprnn_code`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import metrics, skeletons
from chiral_jax.data.builders import load_splits
from chiral_jax.data.forecasting import Video2D, forecast_samples, reversed_video, videos_from_sequences
from chiral_jax.data.pipeline import index_batches
from chiral_jax.models import ChiralPoseForecaster, PoseForecaster
from chiral_jax.tasks import runner
from chiral_jax.tasks.runner import Column, TrainingSetup

__all__ = [
    "FORECASTING",
    "ForecastData",
    "ForecastingTask",
    "Variant",
    "Video2D",
    "clip_videos",
    "load_data",
    "make_model",
    "results_table",
    "split_validation",
    "train_and_evaluate",
    "trivial_forecasts",
    "variants",
]

Array = jax.Array
Batch = dict[str, np.ndarray]
FORECAST_DATASETS = ("synthetic", "cmu_mocap", "penn_action")
SKELETON = skeletons.PENN_ACTION
POSE = SKELETON.spec(2)  # 13 joints x (x, y), x negated
VISIBILITY = SKELETON.spec(1, negated=())  # the joint permutation alone, for visibility masks


# ---------------------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True)
class ForecastData:
    """Forecasting samples of both splits (see :func:`~chiral_jax.data.forecasting.forecast_samples`);
    ``test`` holds the validation samples when ``evaluated_on == "validation"``."""

    name: str
    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    observed: int
    future: int
    videos: dict[str, int]
    evaluated_on: str = "test"
    """The split ``test`` holds: ``"test"``, or ``"validation"`` (held-out training videos)."""


def load_data(data: ml_collections.ConfigDict) -> ForecastData:
    """Samples of ``data.name``: Penn Action's videos, or the built-in / CMU sequences seen in the
    Penn Action layout (one video per camera view). ``data.clip_frames`` (0: off) cuts videos
    into clips first (:func:`clip_videos`); ``data.val_fraction`` (0: off) holds out a fixed random
    fraction of the training videos (:func:`split_validation`), which then replace the test split:
    tuning never sees the test videos; ``data.train_reverse`` and ``data.train_stride_factors``
    augment the training samples (:func:`_training_samples`); ``data.train_fraction`` keeps a fixed
    random fraction (seed 0) of the training samples."""
    name = data.name
    if name not in FORECAST_DATASETS:
        raise ValueError(f"data.name must be synthetic, cmu_mocap or penn_action, got {name!r}")
    if data.observed not in (1, 2):
        raise ValueError(f"data.observed must be 1 (the pose) or 2 (with its velocity), got {data.observed}")
    splits = load_splits(
        name,
        manual_dir=data.get("manual_dir") or None,
        data_dir=data.get("data_dir") or None,
        synthetic=dict(data.get("synthetic", {})),
        manual_dir_key="--config.data.manual_dir",
    )
    if name != "penn_action":
        splits = {k: videos_from_sequences(v) for k, v in splits.items()}
    if data.get("clip_frames", 0):
        splits = {k: clip_videos(v, data.clip_frames) for k, v in splits.items()}
    if data.get("val_fraction", 0.0):
        train_videos, val_videos = split_validation(splits["train"], data.val_fraction)
        splits = {"train": train_videos, "validation": val_videos}
    evaluated = "validation" if "validation" in splits else "test"
    actions = tuple(dict.fromkeys(v.action for v in splits["train"] + splits[evaluated]))
    kw = dict(observed=data.observed, future=data.future, actions=actions)
    test = forecast_samples(splits[evaluated], **kw)
    train = _training_samples(splits["train"], data, kw)
    if not 0.0 < data.train_fraction <= 1.0:
        raise ValueError(f"data.train_fraction must be in (0, 1], got {data.train_fraction}")
    if data.train_fraction < 1.0:
        n = len(train["poses"])
        keep = np.sort(np.random.default_rng(0).permutation(n)[: max(1, round(n * data.train_fraction))])
        train = {k: v[keep] for k, v in train.items()}
    if not len(train["poses"]) or not len(test["poses"]):
        raise ValueError(
            f"{name}: no samples (train {len(train['poses'])}, {evaluated} {len(test['poses'])})"
        )
    counts = {k: len(v) for k, v in splits.items()}
    return ForecastData(name, train, test, data.observed, data.future, counts, evaluated)


def _training_samples(videos: list[Any], data: ml_collections.ConfigDict, kw: dict[str, Any]) -> Batch:
    """The training samples, augmented by ``data.train_reverse`` (the videos also played backwards)
    and ``data.train_stride_factors`` (samples also at these multiples of the protocol's stride)."""
    if data.get("train_reverse", False):
        videos = list(videos) + [reversed_video(v) for v in videos]
    factors = tuple(data.get("train_stride_factors", (1.0,)))
    if not factors:
        raise ValueError("data.train_stride_factors must hold at least one factor, got ()")
    parts = [forecast_samples(videos, stride_factor=f, **kw) for f in factors]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _video_group(video_id: str) -> str:
    """The recording a video comes from: clips (``"#start"``) and camera views (the last ``/`` part
    of a sequence key ``subject/take/camera``) of one take share it; a Penn Action id is its own."""
    base = video_id.split("#", 1)[0].removesuffix("~rev")
    return base.rsplit("/", 1)[0] if "/" in base else base


def split_validation(videos: list[Any], fraction: float, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """Holds out ``fraction`` of the recordings of ``videos`` (a fixed random draw, ``seed``): every
    clip and camera view of a held-out take goes to validation, so no motion is in both parts.

    Returns:
      (train videos, validation videos), each in the input order.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"data.val_fraction must be 0 (off) or in (0, 1), got {fraction}")
    groups = sorted({_video_group(v.video_id) for v in videos})
    if len(groups) < 2:
        raise ValueError(f"data.val_fraction: {len(groups)} recording(s) in the training split, need >= 2")
    n_val = min(len(groups) - 1, max(1, round(fraction * len(groups))))
    held = {groups[i] for i in np.random.default_rng(seed).permutation(len(groups))[:n_val]}
    train = [v for v in videos if _video_group(v.video_id) not in held]
    return train, [v for v in videos if _video_group(v.video_id) in held]


def clip_videos(videos: list[Any], frames: int) -> list[Any]:
    """Cuts each video into consecutive clips of ``frames`` frames (a last, shorter clip is kept
    when it has at least half as many), each a video of its own: long motion-capture takes then
    give forecasting samples at Penn Action's time scale (the protocol's stride grows with the
    video's length)."""
    if frames < 2:
        raise ValueError(f"data.clip_frames must be 0 (whole videos) or >= 2, got {frames}")
    out = []
    for v in videos:
        for a in range(0, v.num_frames, frames):
            if v.num_frames - a >= max(2, frames // 2):
                sl = slice(a, a + frames)
                out.append(
                    dataclasses.replace(
                        v,
                        video_id=f"{v.video_id}#{a}",
                        keypoints_px=v.keypoints_px[sl],
                        visibility=v.visibility[sl],
                    )
                )
    return out


def _split(samples: dict[str, np.ndarray], ids: Any, observed: int) -> Batch:
    """A batch of samples: observed (B, observed, 26), targets (B, future, 26), visible (B, future, 13)."""
    poses = samples["poses"][ids]
    flat = poses.reshape(*poses.shape[:2], -1)
    return {
        "observed": flat[:, :observed],
        "targets": flat[:, observed:],
        "visible": samples["visible"][ids, observed:],
    }


def mirror_forecast_batch(batch: Batch, rng: np.random.Generator, p: float = 0.5) -> Batch:
    """Mirrors each sample with probability ``p``: poses by the Penn Action spec, visibility masks by
    the joint permutation."""
    flip = rng.random(len(batch["observed"])) < p
    out = dict(batch)
    for key, spec in (("observed", POSE), ("targets", POSE), ("visible", VISIBILITY)):
        x = np.array(batch[key], copy=True)
        if flip.any():
            x[flip] = spec.transform(x[flip])
        out[key] = x
    return out


# ---------------------------------------------------------------------------------- models


@dataclasses.dataclass(frozen=True)
class Variant:
    """One trained configuration: ``kind`` chiral | baseline, ``hidden`` units per layer,
    ``matched`` width | params, ``augment`` (mirror augmentation while training)."""

    name: str
    kind: str
    hidden: int
    matched: str = "width"
    augment: bool = False


def make_model(
    variant: Variant,
    model: ml_collections.ConfigDict,
    *,
    horizon: int,
    teacher_forcing: float = 0.5,
    seed: int = 0,
) -> nnx.Module:
    """The forecaster of a variant (stacked LSTM or GRU of ``model.layers`` layers, dropout
    ``model.dropout`` between layers, residual decoding; the ground truth is fed back with
    probability ``teacher_forcing`` per sample and step while training). ``model.velocity``
    (default ``"initial"``), ``model.zero_head`` (False) and ``model.normalize`` (True) are the
    forecasters' arguments of the same names."""
    kw = dict(
        hidden=variant.hidden,
        num_layers=model.layers,
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
        return ChiralPoseForecaster(POSE, **kw)
    return PoseForecaster(POSE, **kw)


def _params(variant: Variant, model: ml_collections.ConfigDict) -> int:
    abstract = nnx.eval_shape(lambda: make_model(variant, model, horizon=1))
    return runner.num_params(abstract)


def matched_width(model: ml_collections.ConfigDict) -> int:
    """The even chiral width whose parameter count is closest to the baseline's at ``model.hidden``."""
    target = _params(Variant("b", "baseline", model.hidden), model)
    guess = 2 * round(model.hidden * math.sqrt(2) / 2)
    candidates = range(max(2, guess - 8), guess + 10, 2)
    return min(candidates, key=lambda w: abs(_params(Variant("c", "chiral", w), model) - target))


def variants(model: ml_collections.ConfigDict, augment: bool) -> list[Variant]:
    """``model.kind`` chiral | baseline | both: the chiral net at equal width (and equal parameters
    with ``model.equal_params``); the baseline without augmentation, and with it when ``augment``."""
    kinds = {"both": ("chiral", "baseline"), "chiral": ("chiral",), "baseline": ("baseline",)}
    if model.kind not in kinds:
        raise ValueError(f"model.kind must be chiral, baseline or both, got {model.kind!r}")
    if model.cell not in ("lstm", "gru"):
        raise ValueError(f"model.cell must be lstm or gru, got {model.cell!r}")
    h = model.hidden
    out: list[Variant] = []
    if "chiral" in kinds[model.kind]:
        out.append(Variant(f"chiral_h{h}", "chiral", h))
        if model.equal_params:
            w = matched_width(model)
            out.append(Variant(f"chiral_h{w}", "chiral", w, matched="params"))
    if "baseline" in kinds[model.kind]:
        out.append(Variant(f"baseline_noaug_h{h}", "baseline", h))
        if augment:
            out.append(Variant(f"baseline_aug_h{h}", "baseline", h, augment=True))
    return out


# ---------------------------------------------------------------------------------- evaluation


def _pck_fields(pred: np.ndarray, target: np.ndarray, visible: np.ndarray) -> dict[str, Any]:
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
    b = _split(data.test, slice(None), data.observed)
    last = b["observed"][:, -1:]
    steps = np.arange(1, data.future + 1, dtype=np.float32)[None, :, None]
    velocity = last - b["observed"][:, -2:-1] if data.observed > 1 else np.zeros_like(last)
    return {
        "zero_velocity": _pck_fields(np.repeat(last, data.future, axis=1), b["targets"], b["visible"]),
        "constant_velocity": _pck_fields(last + steps * velocity, b["targets"], b["visible"]),
    }


def forecast(
    model: nnx.Module, observed: np.ndarray, *, flip_average: bool = False, batch_size: int = 1024
) -> tuple[np.ndarray, float]:
    """Free-running forecasts ``(S, future, 26)`` of eval-mode ``model`` for ``observed`` (S, obs, 26)
    in fixed-size batches (one compilation), and the samples per second (after a warm-up)."""
    model.eval()
    graphdef, state = nnx.split(model)

    @jax.jit
    def apply(x: Array) -> Array:
        net = nnx.merge(graphdef, state, copy=True)
        y = net(x)
        if flip_average:
            y = 0.5 * (y + POSE.transform(net(POSE.transform(x))))
        return y

    n = len(observed)
    pad = (-n) % batch_size
    x = np.concatenate([observed, np.repeat(observed[:1], pad, axis=0)]) if pad else observed
    jax.block_until_ready(apply(x[:batch_size]))
    t0 = time.perf_counter()
    out = np.concatenate([np.asarray(apply(x[i : i + batch_size])) for i in range(0, len(x), batch_size)])
    return out[:n], n / (time.perf_counter() - t0)


def evaluate(model: nnx.Module, data: ForecastData, *, flip_average: bool = False) -> dict[str, Any]:
    """PCK fields (:func:`_pck_fields`) of ``model`` on the test samples, and its samples/s."""
    b = _split(data.test, slice(None), data.observed)
    pred, rate = forecast(model, b["observed"], flip_average=flip_average)
    return {**_pck_fields(pred, b["targets"], b["visible"]), "eval_samples_per_second": rate}


# ---------------------------------------------------------------------------------- the task


LOSSES = ("mse", "l1", "dist", "welsch")
WELSCH_SCALE = 0.1  # the PCK@0.05 threshold in the protocol's normalised coordinates


def forecast_loss(
    model: nnx.Module, batch: dict[str, Array], kind: str = "mse"
) -> tuple[Array, dict[str, Array]]:
    """The forecast error over the visible target joints, every step and joint weighted alike
    (teacher forcing as the model's ``teacher_forcing``, ``train.teacher_forcing``, says while
    training). ``kind``: ``"mse"`` (squared distance, the conditional mean's loss), ``"l1"``
    (absolute error per coordinate, the median's), ``"dist"`` (Euclidean distance per joint,
    what PCK thresholds) or ``"welsch"`` (``1 - exp(-d^2 / (2 s^2))`` with ``s`` the PCK threshold:
    a smooth PCK, mode-seeking, a joint far off costs a bounded amount)."""
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
    loss = jnp.sum(per_joint * vis) / count
    pck = jnp.sum((dist < 0.1) * vis) / count
    return loss, {"pck": 100 * pck}


def learning_rate(train: ml_collections.ConfigDict, total_steps: int) -> float | optax.Schedule:
    """``train.lr``, constant (``train.lr_schedule = "constant"``, the default) or decayed to 0 over
    ``total_steps`` by a cosine (``"cosine"``)."""
    kind = train.get("lr_schedule", "constant")
    if kind == "constant":
        return train.lr
    if kind == "cosine":
        return optax.cosine_decay_schedule(train.lr, max(total_steps, 1))
    raise ValueError(f"train.lr_schedule must be constant or cosine, got {kind!r}")


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
        return load_data(config.data)

    def describe_data(self, data: ForecastData) -> dict[str, Any]:
        return {
            "name": data.name,
            "train_samples": len(data.train["poses"]),
            "test_samples": len(data.test["poses"]),
            "videos": data.videos,
            "observed": data.observed,
            "future": data.future,
            "evaluated_on": data.evaluated_on,
        }

    def variants(self, config: ml_collections.ConfigDict) -> list[Variant]:
        return variants(config.model, config.train.augment)

    def describe_variant(self, variant: Variant) -> dict[str, Any]:
        return {
            "name": variant.name,
            "kind": variant.kind,
            "hidden": variant.hidden,
            "matched": variant.matched,
            "augment": variant.augment,
        }

    def setup(
        self, variant: Variant, seed: int, data: ForecastData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        tf = config.train.teacher_forcing
        model = make_model(variant, config.model, horizon=data.future, teacher_forcing=tf, seed=seed)
        bs, n = config.train.batch_size, len(data.train["poses"])
        steps = n // bs
        if steps == 0:
            raise ValueError(f"{n} training samples: fewer than one batch of {bs}")
        augment = mirror_forecast_batch if variant.augment else None

        def batches(epoch: int) -> Any:
            return index_batches(
                lambda ids: _split(data.train, ids, data.observed),
                n,
                bs,
                seed=seed,
                epoch=epoch,
                augment=augment,
                fields=("observed", "targets", "visible"),
                process_index=jax.process_index(),
                process_count=jax.process_count(),
            )

        kind = config.train.get("loss", "mse")
        if kind not in LOSSES:
            raise ValueError(f"train.loss must be one of {LOSSES}, got {kind!r}")
        lr = learning_rate(config.train, steps * config.train.epochs)
        wd = config.train.get("weight_decay", 0.0)
        adam = optax.adamw(lr, weight_decay=wd) if wd else optax.adam(lr)  # decoupled decay
        tx = optax.chain(optax.clip_by_global_norm(config.train.clip_norm), adam)
        loss = functools.partial(forecast_loss, kind=kind)
        return TrainingSetup(model, tx, loss, batches, steps, config.train.epochs, bn_momentum=None)

    def evaluate(
        self, model: nnx.Module, variant: Variant, data: ForecastData, config: ml_collections.ConfigDict
    ) -> dict[str, Any]:
        out = evaluate(model, data)
        if variant.kind == "baseline" and config.eval.test_time_augmentation:
            out["tta"] = evaluate(model, data, flip_average=True)
        return out

    def extra_results(self, data: ForecastData, config: ml_collections.ConfigDict) -> dict[str, Any]:
        return {"trivial": trivial_forecasts(data)}

    def extra_markdown(self, results: dict[str, Any]) -> str:
        rows = [(r["name"], r) for r in results["summary"]]
        rows += [(name.replace("_", " "), r) for name, r in results["trivial"].items()]
        steps = len(rows[0][1]["pck"])
        shown = sorted({1, 2, 4, 8, steps} & set(range(1, steps + 1)))
        lines = [
            "",
            "PCK@0.05 (%) per forecast step (mean over seeds); the last column under the released "
            "TP-RNN code's coordinate pairing, for comparison with published numbers:",
            "",
            "| model | " + " | ".join(f"step {k}" for k in shown) + " | average | TP-RNN code avg |",
            "|---|" + "---|" * (len(shown) + 2),
        ]
        for name, r in rows:
            cells = " | ".join(f"{r['pck'][k - 1]:.1f}" for k in shown)
            lines.append(f"| {name} | {cells} | {r['pck_avg']:.1f} | {r['pck_tprnn_code_avg']:.1f} |")
        return "\n".join(lines) + "\n"

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
    title = FORECASTING.title(results)
    return runner.results_table(results, FORECASTING.columns, title) + FORECASTING.extra_markdown(results)
