"""Skeleton action recognition as a :class:`~chiral_jax.tasks.runner.Task`: the mirror-invariant
chiral net against its plain baseline (the Chirality Nets paper's Table 4).

Data (``data.name``): ``synthetic`` (the built-in labelled motions, registry
``synthetic_actions``), ``nw_ucla``, ``penn_action`` or ``kinetics_skeleton``, each read through its
TFDS build and preprocessed into one ``(clips, people, frames, joints * channels)`` array per split
(:func:`load_data`; rules in :mod:`chiral_jax.data.actions`); ``data.protocol=validation`` carves a
validation split from the training data instead (NW-UCLA: view 1 trains, view 2 validates).
Training batches take a random ``data.train_window`` of frames and the moves of ``data.augment``
per clip (by default ST-GCN's small rotation / scale / translation; for 3D clips also a rotation
about the vertical axis, :mod:`chiral_jax.data.rotate`); the ``baseline_aug`` variant also mirrors
each clip with probability 1/2.

Variants (``model.kind``): ``chiral`` (:class:`~chiral_jax.models.ChiralActionNet`; with
``model.equal_params`` also ``chiral_params``, its widths scaled to the baseline's parameter count)
and ``baseline`` (:class:`~chiral_jax.models.ActionNet`, equal widths; ``baseline_aug`` with mirror
augmentation when ``train.augment``). Optimizer (:func:`optimizer`): SGD with Nesterov momentum 0.9
and step decay (the default) or AdamW with cosine decay; softmax cross-entropy.

Evaluation on the test split, whole clips of ``data.frames`` frames: top-1 / top-5 (percent),
top-1 per class name, top-1 on the mirrored test clips (``top1_mirrored``), the largest logit change
under the mirror over the test set (``mirror_logit_gap``: 0 up to rounding for the chiral nets) and
clips per second; baselines add ``tta`` (logits averaged over the clip and its mirror image).
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

from chiral_jax import metrics, runner
from chiral_jax.data import actions as A
from chiral_jax.data.action_data import ACTION_DATASETS, ActionData, load_action_data
from chiral_jax.data.pipeline import index_batches
from chiral_jax.models import ActionNet, ChiralActionNet, ChiralGraphActionNet, GraphActionNet
from chiral_jax.runner import Column, TrainingSetup, Variant
from chiral_jax.spec import ChiralSpec
from chiral_jax.train.schedules import epoch_schedule

__all__ = [
    "ACTION",
    "ACTION_DATASETS",
    "ActionData",
    "ActionTask",
    "Variant",
    "evaluate",
    "load_data",
    "make_model",
    "train_and_evaluate",
    "variants",
]

Array = jax.Array
load_data = load_action_data


def make_model(
    variant: Variant,
    spec: ChiralSpec,
    num_classes: int,
    model: ml_collections.ConfigDict,
    seed: int = 0,
    parents: tuple[int, ...] | None = None,
) -> nnx.Module:
    """The net of a variant: ``model.architecture`` ``"per_frame"`` (the default:
    :class:`~chiral_jax.models.ChiralActionNet` / :class:`~chiral_jax.models.ActionNet`) or
    ``"graph"`` (:class:`~chiral_jax.models.ChiralGraphActionNet` / ``GraphActionNet``, which need
    the skeleton's ``parents``)."""
    kw = dict(
        widths=variant.widths, kernel_size=model.kernel_size, dropout=model.dropout, rngs=nnx.Rngs(seed)
    )
    architecture = model.get("architecture", "per_frame")
    if architecture == "graph":
        if parents is None:
            raise ValueError(
                "model.architecture='graph' needs a skeleton with a kinematic tree; this dataset has none"
            )
        learn = bool(model.get("learn_adjacency", True))
        kw["strides"] = tuple(model.get("strides", ())) or None
        kw["bones"] = bool(model.get("bones", False))
        if variant.kind == "chiral":
            return ChiralGraphActionNet(
                spec, parents, num_classes, invariance_mode=model.invariance_mode, learn_adjacency=learn, **kw
            )
        return GraphActionNet(spec.num_joints, spec.dim, parents, num_classes, learn_adjacency=learn, **kw)
    if architecture != "per_frame":
        raise ValueError(f"model.architecture must be 'per_frame' or 'graph', got {architecture!r}")
    motion = bool(model.get("motion", False))
    if variant.kind == "chiral":
        return ChiralActionNet(
            spec,
            num_classes,
            invariance_layer=model.invariance_layer,
            invariance_mode=model.invariance_mode,
            motion=motion,
            **kw,
        )
    return ActionNet(spec.size, num_classes, motion_dim=spec.dim if motion else 0, **kw)


def variants(
    model: ml_collections.ConfigDict,
    augment: bool,
    spec: ChiralSpec,
    num_classes: int,
    parents: tuple[int, ...] | None = None,
) -> list[Variant]:
    """The comparison of ``model.kind`` at the per-layer widths ``model.width``
    (:func:`~chiral_jax.runner.comparison_grid`; equal parameters by scaling every width together)."""
    build = lambda kind, w: make_model(Variant("", kind, w), spec, num_classes, model, parents=parents)  # noqa: E731
    return runner.comparison_grid(
        model.kind,
        tuple(int(w) for w in model.width),
        augment=augment,
        equal_params=model.equal_params,
        params=lambda kind, w: runner.num_params(nnx.eval_shape(lambda: build(kind, w))),
        baseline_without_augment=model.get("baseline_without_augment", False),
    )


def _scores(logits: np.ndarray, labels: np.ndarray, names: tuple[str, ...]) -> dict[str, Any]:
    k5 = min(5, logits.shape[1])
    correct = np.argmax(logits, axis=1) == labels
    per_class = {
        names[c]: 100.0 * float(np.mean(correct[labels == c]))
        for c in range(len(names))
        if np.any(labels == c)
    }
    return {
        "top1": 100.0 * metrics.top_k_accuracy(logits, labels, 1),
        "top5": 100.0 * metrics.top_k_accuracy(logits, labels, k5),
        "per_class": per_class,
    }


def evaluate(
    model: nnx.Module, data: ActionData, *, flip_average: bool = False, batch_size: int = 256
) -> dict[str, Any]:
    """Test metrics (see the module docstring); ``flip_average``: those of the logits averaged over
    each clip and its mirror image (invariant: their mirrored-test top-1 is their top-1)."""
    x = data.test_x
    if flip_average:
        logits_spec = ChiralSpec.invariant(data.num_classes)
        apply = runner.eval_function(model, flip=(data.spec, logits_spec))
        logits, seconds = runner.batched_apply(apply, x, batch_size)
        out = _scores(logits, data.test_y, data.class_names)
        return {
            **out,
            "top1_mirrored": out["top1"],
            "mirror_logit_gap": 0.0,
            "eval_clips_per_second": len(x) / seconds,
        }
    logits, seconds = runner.batched_apply(runner.eval_function(model), x, batch_size)
    mirror = runner.eval_function(model, lambda net, clips: net(data.spec.transform(clips)))
    mirrored, _ = runner.batched_apply(mirror, x, batch_size)
    out = _scores(logits, data.test_y, data.class_names)
    out["top1_mirrored"] = _scores(mirrored, data.test_y, data.class_names)["top1"]
    out["mirror_logit_gap"] = float(np.max(np.abs(logits - mirrored)))
    out["eval_clips_per_second"] = len(x) / seconds
    return out


def action_loss(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
    """Softmax cross-entropy of the class scores, and the batch's top-1 accuracy (percent)."""
    logits = model(batch["clips"])
    labels = batch["labels"]
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
    return loss, {"accuracy": 100.0 * jnp.mean(jnp.argmax(logits, -1) == labels)}


def optimizer(train: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.GradientTransformation:
    """``train.optimizer``: ``sgd`` (Nesterov momentum ``train.momentum``, weight decay
    ``train.weight_decay`` added to the gradient) or ``adamw`` (decoupled weight decay
    ``train.weight_decay``), on :func:`~chiral_jax.train.schedules.epoch_schedule`."""
    kind, schedule = str(train.get("optimizer", "sgd")), epoch_schedule(train, steps_per_epoch)
    if kind == "sgd":
        return optax.chain(
            optax.add_decayed_weights(train.weight_decay),
            optax.sgd(schedule, momentum=train.momentum, nesterov=True),
        )
    if kind == "adamw":
        return optax.adamw(schedule, weight_decay=train.weight_decay)
    raise ValueError(f"train.optimizer must be 'sgd' or 'adamw', got {kind!r}")


class ActionTask(runner.Task):
    """Skeleton action recognition: chiral invariant nets against plain ones."""

    name = "Action recognition"
    summary_keys = ("top1", "top5", "top1_mirrored", "mirror_logit_gap", "eval_clips_per_second")
    columns = (
        Column("top-1 (%)", "top1"),
        Column("top-5 (%)", "top5"),
        Column("top-1 mirrored test (%)", "top1_mirrored"),
        Column("max logit change under mirror", "mirror_logit_gap", ".2g"),
        Column("eval clips/s", "eval_clips_per_second", ".0f"),
    )
    primary_metric = "top1"
    final_metrics = ("train_loss", "train_accuracy")
    breakdowns = ("per_class",)

    def load_data(self, config: ml_collections.ConfigDict) -> ActionData:
        return load_action_data(config.data)

    def describe_data(self, data: ActionData) -> dict[str, Any]:
        return {
            "name": data.name,
            "train_clips": len(data.train_x),
            "test_clips": len(data.test_x),
            "clip_shape": list(data.train_x.shape[1:]),
            "classes": list(data.class_names),
        }

    def variants(self, config: ml_collections.ConfigDict, data: ActionData) -> list[Variant]:
        return variants(config.model, config.train.augment, data.spec, data.num_classes, data.parents)

    def describe_variant(self, variant: Variant) -> dict[str, Any]:
        return {**variant.describe(), "widths": list(variant.widths)}  # "widths": older records' name

    def setup(
        self, variant: Variant, seed: int, data: ActionData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        model = make_model(variant, data.spec, data.num_classes, config.model, seed, data.parents)
        bs, n = config.train.batch_size, len(data.train_x)
        steps = n // bs
        if steps == 0:
            raise ValueError(f"{n} training clips: fewer than one batch of {bs} (lower train.batch_size)")
        frames = data.train_x.shape[2]
        window = int(config.data.get("train_window", 0)) or frames
        augment = functools.partial(
            _augment,
            window=min(window, frames),
            channels=data.channels,
            spec=data.spec if variant.augment else None,
            score_channel=data.score_channel,
            random_move=bool(config.data.get("random_move", True)),
            moves=dict(config.data.get("augment") or {}),
        )

        def batches(epoch: int) -> Any:
            return index_batches(
                lambda ids: {"clips": data.train_x[ids], "labels": data.train_y[ids]},
                n,
                bs,
                seed=seed,
                epoch=epoch,
                augment=augment,
                fields=("clips", "labels"),
                process_index=jax.process_index(),
                process_count=jax.process_count(),
            )

        tx = optimizer(config.train, steps)
        return TrainingSetup(model, tx, action_loss, batches, steps, config.train.epochs, bn_momentum=None)

    def evaluate(
        self,
        model: nnx.Module,
        variant: Variant,
        data: ActionData,
        config: ml_collections.ConfigDict,
        *,
        flip_average: bool = False,
    ) -> dict[str, Any]:
        return evaluate(model, data, flip_average=flip_average, batch_size=config.eval.batch_size)

    def extra_markdown(self, results: dict[str, Any]) -> str:
        rows = results.get("summary_by_class", [])
        classes = [c for c in rows[0]["per_class"] if not c.endswith("_std")] if rows else []
        if not rows or len(classes) > 20:  # Kinetics: 400 columns make no table (results.json has them)
            return ""
        cells = [[r["name"], *(f"{r['per_class'][c]:.0f}" for c in classes)] for r in rows]
        lines = ["", "Top-1 (%) per class on the test clips (mean over seeds):", ""]
        return "\n".join([*lines, *runner.table(["model", *classes], cells)]) + "\n"

    def title(self, results: dict[str, Any]) -> str:
        d = results["data"]
        return (
            f"Action recognition results: {d['name']} ({d['train_clips']} train / {d['test_clips']} "
            f"test clips of {d['clip_shape'][1]} frames, {len(d['classes'])} classes)"
        )


def _augment(
    batch: dict[str, np.ndarray],
    rng: np.random.Generator,
    *,
    random_move: bool,
    moves: dict[str, Any],
    **kw: Any,
) -> dict[str, np.ndarray]:
    """``data.augment`` holds :func:`~chiral_jax.data.actions.augment_clips`' move options
    (``rotation_deg``, ``scale``, ``translation``, ``coords``, ``vertical_rotation``,
    ``vertical_axis``, ``tilt``); ``data.random_move`` False turns every move off."""
    moves = dict(moves)
    if "scale" in moves:
        moves["scale"] = tuple(float(v) for v in moves["scale"])
    if not random_move:
        moves.update(rotation_deg=0.0, scale=(1.0, 1.0), translation=0.0, vertical_rotation=0.0, tilt=0.0)
    return {**batch, "clips": A.augment_clips(batch["clips"], rng, **kw, **moves)}


ACTION = ActionTask()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Every variant x seed of ``config``; writes results.json / results.md / plots in ``workdir``."""
    return runner.run(ACTION, config, workdir)


def results_table(results: dict[str, Any]) -> str:
    """``results.md`` of an action run: the summary table and the per-class table."""
    return runner.report(ACTION, results)
