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

import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import metrics, skeletons
from chiral_jax.data import actions as A
from chiral_jax.data.builders import load_splits
from chiral_jax.data.nw_ucla import NW_UCLA_ACTIONS, TRAIN_VIEWS, normalize_nw_ucla, sequence_view
from chiral_jax.data.penn_action import ACTIONS as PENN_ACTIONS
from chiral_jax.data.pipeline import index_batches
from chiral_jax.data.synthetic_actions import SYNTHETIC_ACTIONS
from chiral_jax.models import ActionNet, ChiralActionNet
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import runner
from chiral_jax.tasks.runner import Column, TrainingSetup

__all__ = [
    "ACTION",
    "ACTION_DATASETS",
    "ActionData",
    "ActionTask",
    "Variant",
    "evaluate",
    "load_data",
    "make_model",
    "matched_widths",
    "predict",
    "train_and_evaluate",
    "variants",
]

Array = jax.Array
ACTION_DATASETS = ("synthetic", "nw_ucla", "penn_action", "kinetics_skeleton")


@dataclasses.dataclass(frozen=True)
class ActionData:
    """Preprocessed clips of both splits.

    Attributes:
      name: ``data.name``.
      spec: the mirror on one frame's ``joints * channels`` features.
      channels: channels per joint (3).
      score_channel: the score / visibility channel (None: 3D coordinates).
      class_names: one per class index.
      train_x, test_x: (N, people, frames, joints * channels) float32.
      train_y, test_y: (N,) int32.
    """

    name: str
    spec: ChiralSpec
    channels: int
    score_channel: int | None
    class_names: tuple[str, ...]
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _class_names(clips: list[A.ActionClip], known: tuple[str, ...] | None) -> tuple[str, ...]:
    if known is not None:
        return known
    names: dict[int, str] = {}
    for c in clips:
        names.setdefault(c.label, c.label_name)
    return tuple(names.get(k, str(k)) for k in range(max(names) + 1))


def load_data(data: ml_collections.ConfigDict) -> ActionData:
    """Reads ``data.name`` through its TFDS build and preprocesses it (see the module docstring):

    * ``synthetic``: every ``data.frame_step``-th frame, cut / zero-padded to ``data.frames``;
    * ``kinetics_skeleton``: ST-GCN's normalisation, cut / zero-padded to ``data.frames`` (300);
    * ``nw_ucla``: centred and scaled (:func:`~chiral_jax.data.nw_ucla.normalize_nw_ucla`), resampled
      to ``data.frames`` (52);
    * ``penn_action``: pixels normalised per video, visibility as the score, resampled to
      ``data.frames``.
    """
    name = data.name
    if name not in ACTION_DATASETS:
        raise ValueError(f"data.name must be one of {ACTION_DATASETS}, got {name!r}")
    registry_name = "synthetic_actions" if name == "synthetic" else name
    splits = load_splits(
        registry_name,
        manual_dir=data.get("manual_dir") or None,
        data_dir=data.get("data_dir") or None,
        synthetic=dict(data.get("synthetic", {})),
        manual_dir_key="--config.data.manual_dir",
    )
    frames, score, method = int(data.frames), 2, "pad"
    if name == "synthetic":
        step = int(data.get("frame_step", 1))
        splits = {
            k: [dataclasses.replace(c, skeleton=c.skeleton[:, ::step]) for c in v] for k, v in splits.items()
        }
        spec, known = skeletons.H36M.spec(3), SYNTHETIC_ACTIONS
    elif name == "kinetics_skeleton":
        splits = {
            k: [dataclasses.replace(c, skeleton=A.normalize_stgcn(c.skeleton)) for c in v]
            for k, v in splits.items()
        }
        spec, known = skeletons.OPENPOSE18.spec(3), None
    elif name == "nw_ucla":
        norm = {"scale": str(data.get("scale", "max_abs")), "align": bool(data.get("align_view", False))}
        splits = {
            k: [dataclasses.replace(c, skeleton=normalize_nw_ucla(c.skeleton, **norm)) for c in v]
            for k, v in splits.items()
        }
        spec, known, score, method = skeletons.KINECT_V1.spec(3), NW_UCLA_ACTIONS, None, "resample"
    else:
        splits = {k: [A.clip_from_penn_action(v, PENN_ACTIONS) for v in vids] for k, vids in splits.items()}
        spec, known, method = skeletons.PENN_ACTION.spec(3), PENN_ACTIONS, "resample"
    splits = _protocol_splits(splits, name, str(data.get("protocol", "test")), data)
    if not splits.get("train") or not splits.get("test"):
        raise ValueError(
            f"{name}: no clips (train {len(splits.get('train', []))}, test {len(splits.get('test', []))})"
        )
    names = _class_names(splits["train"] + splits["test"], known)
    train_x, train_y = A.prepare_clips(splits["train"], frames, method=method, score_channel=score)
    test_x, test_y = A.prepare_clips(splits["test"], frames, method=method, score_channel=score)
    return ActionData(name, spec, 3, score, names, train_x, train_y, test_x, test_y)


PROTOCOLS = ("test", "validation")


def _protocol_splits(
    splits: dict[str, list[A.ActionClip]], name: str, protocol: str, data: ml_collections.ConfigDict
) -> dict[str, list[A.ActionClip]]:
    """``data.protocol``: ``test`` (the dataset's train / test splits) or ``validation``, carved from
    the training split only, for tuning: NW-UCLA trains on ``data.validation_train_views`` (view 1)
    and validates on ``data.validation_views`` (view 2), so view 3 is never seen; the other
    datasets hold out every clip whose index in a fixed permutation (seed 0) falls in the last
    ``data.validation_fraction`` (0.2) of the training clips."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"data.protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "test":
        return splits
    train = splits["train"]
    if name == "nw_ucla":
        fit_views = tuple(int(v) for v in data.get("validation_train_views", (1,)))
        val_views = tuple(int(v) for v in data.get("validation_views", (2,)))
        if set(fit_views + val_views) - set(TRAIN_VIEWS) or set(fit_views) & set(val_views):
            raise ValueError(
                f"nw_ucla validation views must be disjoint subsets of the training views {TRAIN_VIEWS}, got "
                f"train {fit_views}, validation {val_views}"
            )
        views = [sequence_view(c.source) for c in train]
        return {
            "train": [c for c, v in zip(train, views, strict=True) if v in fit_views],
            "test": [c for c, v in zip(train, views, strict=True) if v in val_views],
        }
    fraction = float(data.get("validation_fraction", 0.2))
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"data.validation_fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(0).permutation(len(train))
    held = set(order[len(train) - max(1, round(fraction * len(train))) :].tolist())
    return {
        "train": [c for i, c in enumerate(train) if i not in held],
        "test": [c for i, c in enumerate(train) if i in held],
    }


# ---------------------------------------------------------------------------------- models


@dataclasses.dataclass(frozen=True)
class Variant:
    """One trained configuration: ``kind`` chiral | baseline, its ``widths``, ``matched`` width |
    params, ``augment`` (mirror augmentation while training)."""

    name: str
    kind: str
    widths: tuple[int, ...]
    matched: str = "width"
    augment: bool = False


def make_model(
    variant: Variant, spec: ChiralSpec, num_classes: int, model: ml_collections.ConfigDict, seed: int = 0
) -> nnx.Module:
    kw = dict(
        widths=variant.widths, kernel_size=model.kernel_size, dropout=model.dropout, rngs=nnx.Rngs(seed)
    )
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


def _params(variant: Variant, spec: ChiralSpec, num_classes: int, model: ml_collections.ConfigDict) -> int:
    return runner.num_params(nnx.eval_shape(lambda: make_model(variant, spec, num_classes, model)))


def matched_widths(spec: ChiralSpec, num_classes: int, model: ml_collections.ConfigDict) -> tuple[int, ...]:
    """``model.widths`` scaled by the factor (steps of 1/64) whose chiral net has the parameter count
    closest to the baseline's at ``model.widths``."""
    widths = tuple(int(w) for w in model.widths)
    target = _params(Variant("b", "baseline", widths), spec, num_classes, model)

    def scaled(s: float) -> tuple[int, ...]:
        return tuple(max(2, round(w * s)) for w in widths)

    def gap(s: float) -> int:
        return abs(_params(Variant("c", "chiral", scaled(s)), spec, num_classes, model) - target)

    lo, hi = 0.5, 2.0  # parameters grow monotonically with the scale: bisect, then check neighbours
    for _ in range(7):
        mid = (lo + hi) / 2
        if _params(Variant("c", "chiral", scaled(mid)), spec, num_classes, model) < target:
            lo = mid
        else:
            hi = mid
    best = min((round(lo * 64) / 64 + k / 64 for k in range(-2, 3)), key=gap)
    return scaled(best)


def variants(
    model: ml_collections.ConfigDict, augment: bool, spec: ChiralSpec | None = None, num_classes: int = 2
) -> list[Variant]:
    """``model.kind`` chiral | baseline | both: the chiral net at equal width (and at the baseline's
    parameter count with ``model.equal_params``, which needs ``spec``); the baseline without
    mirror augmentation, and with it when ``augment``."""
    kinds = {"both": ("chiral", "baseline"), "chiral": ("chiral",), "baseline": ("baseline",)}
    if model.kind not in kinds:
        raise ValueError(f"model.kind must be chiral, baseline or both, got {model.kind!r}")
    widths = tuple(int(w) for w in model.widths)
    out: list[Variant] = []
    if "chiral" in kinds[model.kind]:
        out.append(Variant("chiral", "chiral", widths))
        if model.equal_params and spec is not None:
            out.append(Variant("chiral_params", "chiral", matched_widths(spec, num_classes, model), "params"))
    if "baseline" in kinds[model.kind]:
        out.append(Variant("baseline", "baseline", widths))
        if augment:
            out.append(Variant("baseline_aug", "baseline", widths, augment=True))
    return out


# ---------------------------------------------------------------------------------- evaluation


def predict(
    model: nnx.Module, clips: np.ndarray, spec: ChiralSpec, *, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Logits of eval-mode ``model`` for ``clips`` and for their mirror images ``(N, classes)`` each,
    in fixed-size batches (one compilation each), and the clips per second of the plain pass and
    of both passes together (flip averaging), after a warm-up."""
    model.eval()
    graphdef, state = nnx.split(model)

    @functools.partial(jax.jit, static_argnums=1)
    def apply(x: Array, mirror: bool) -> Array:
        net = nnx.merge(graphdef, state, copy=True)
        return net(spec.transform(x) if mirror else x)

    n = len(clips)
    bs = min(batch_size, n)
    pad = (-n) % bs
    x = np.concatenate([clips, np.repeat(clips[:1], pad, axis=0)]) if pad else clips
    outs, seconds = [], []
    for mirror in (False, True):
        jax.block_until_ready(apply(x[:bs], mirror))
        t0 = time.perf_counter()
        outs.append(
            np.concatenate([np.asarray(apply(x[i : i + bs], mirror)) for i in range(0, len(x), bs)])[:n]
        )
        seconds.append(time.perf_counter() - t0)
    return outs[0], outs[1], n / seconds[0], n / sum(seconds)


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
    model: nnx.Module, data: ActionData, *, tta: bool = False, batch_size: int = 256
) -> dict[str, Any]:
    """Test metrics (see the module docstring); ``tta`` adds the flip-averaged ``tta`` entry."""
    logits, mirrored, rate, rate_both = predict(model, data.test_x, data.spec, batch_size=batch_size)
    out = _scores(logits, data.test_y, data.class_names)
    out["top1_mirrored"] = _scores(mirrored, data.test_y, data.class_names)["top1"]
    out["mirror_logit_gap"] = float(np.max(np.abs(logits - mirrored)))
    out["eval_clips_per_second"] = rate
    if tta:
        # Flip-averaged scores are invariant: their mirrored-test top-1 is their top-1.
        out["tta"] = _scores(0.5 * (logits + mirrored), data.test_y, data.class_names)
        out["tta"].update(
            top1_mirrored=out["tta"]["top1"], mirror_logit_gap=0.0, eval_clips_per_second=rate_both
        )
    return out


# ---------------------------------------------------------------------------------- the task


def action_loss(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
    """Softmax cross-entropy of the class scores, and the batch's top-1 accuracy (percent)."""
    logits = model(batch["clips"])
    labels = batch["labels"]
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
    return loss, {"accuracy": 100.0 * jnp.mean(jnp.argmax(logits, -1) == labels)}


def optimizer(train: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.GradientTransformation:
    """``train.optimizer``: ``sgd`` (Nesterov momentum ``train.momentum``, weight decay
    ``train.weight_decay`` added to the gradient) or ``adamw`` (decoupled weight decay
    ``train.weight_decay``). ``train.schedule``: ``steps`` (``train.lr`` times 0.1 at each epoch of
    ``train.lr_steps``) or ``cosine`` (linear warm-up over ``train.warmup_epochs``, then cosine decay to
    0 at the last epoch)."""
    kind, sched = str(train.get("optimizer", "sgd")), str(train.get("schedule", "steps"))
    if sched == "steps":
        boundaries = {int(e) * steps_per_epoch: 0.1 for e in train.lr_steps}
        schedule = optax.piecewise_constant_schedule(train.lr, boundaries)
    elif sched == "cosine":
        total = int(train.epochs) * steps_per_epoch
        warmup = min(round(float(train.get("warmup_epochs", 0)) * steps_per_epoch), total - 1)
        schedule = optax.warmup_cosine_decay_schedule(0.0, train.lr, max(warmup, 0), total, 0.0)
    else:
        raise ValueError(f"train.schedule must be 'steps' or 'cosine', got {sched!r}")
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

    def load_data(self, config: ml_collections.ConfigDict) -> ActionData:
        self._data = load_data(config.data)  # kept for variants(): equal parameters need the spec
        return self._data

    def describe_data(self, data: ActionData) -> dict[str, Any]:
        return {
            "name": data.name,
            "train_clips": len(data.train_x),
            "test_clips": len(data.test_x),
            "clip_shape": list(data.train_x.shape[1:]),
            "classes": list(data.class_names),
        }

    def variants(self, config: ml_collections.ConfigDict) -> list[Variant]:
        data = getattr(self, "_data", None) or self.load_data(config)
        return variants(config.model, config.train.augment, data.spec, data.num_classes)

    def describe_variant(self, variant: Variant) -> dict[str, Any]:
        return {
            "name": variant.name,
            "kind": variant.kind,
            "matched": variant.matched,
            "augment": variant.augment,
            "widths": list(variant.widths),
        }

    def setup(
        self, variant: Variant, seed: int, data: ActionData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        model = make_model(variant, data.spec, data.num_classes, config.model, seed)
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
        self, model: nnx.Module, variant: Variant, data: ActionData, config: ml_collections.ConfigDict
    ) -> dict[str, Any]:
        tta = variant.kind == "baseline" and bool(config.eval.test_time_augmentation)
        return evaluate(model, data, tta=tta, batch_size=config.eval.batch_size)

    def extra_markdown(self, results: dict[str, Any]) -> str:
        rows = []
        for name in dict.fromkeys(r["name"] for r in results["models"]):
            group = [r for r in results["models"] if r["name"] == name]
            for tta in (False, True):
                src = [r["tta"] if tta else r for r in group if not tta or "tta" in r]
                if src:
                    classes = list(src[0]["per_class"])
                    rows.append(
                        (
                            name + (" + TTA" if tta else ""),
                            {c: np.mean([s["per_class"][c] for s in src]) for c in classes},
                        )
                    )
        if not rows:
            return ""
        classes = list(rows[0][1])
        if len(classes) > 20:
            return ""  # Kinetics: 400 columns do not make a table; results.json holds them
        lines = ["", "Top-1 (%) per class on the test clips (mean over seeds):", ""]
        lines.append("| model | " + " | ".join(classes) + " |")
        lines.append("|---|" + "---|" * len(classes))
        lines += [f"| {n} | " + " | ".join(f"{r[c]:.0f}" for c in classes) + " |" for n, r in rows]
        return "\n".join(lines) + "\n"

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
    return runner.results_table(results, ACTION.columns, ACTION.title(results)) + ACTION.extra_markdown(
        results
    )
