"""2D -> 3D pose lifting as a :class:`~chiral_jax.tasks.runner.Task`: chiral VideoPose3D nets
against their dense baseline.

``train_and_evaluate(config, workdir)`` is what ``experiments/lift3d.py`` runs: the shared runner
trains every variant (chiral at equal width / equal parameters, per hidden-spec choice; the dense
baseline with and without mirror augmentation) and seed on windows of the training sequences (the
TFDS build of ``data.name``, fed through grain), evaluates the dilated model on whole test
sequences (MPJPE, P-MPJPE, N-MPJPE, MPJVE, per action; the baseline also with test-time flip
averaging) and writes ``workdir/results.json``, ``results.md`` and plots. ``run_sweep`` is the
limited-data study (one run per training subset). ``model.trajectory=True`` adds VideoPose3D's
trajectory model beside each pose net (:mod:`chiral_jax.tasks.lifting_trajectory`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import functional, metrics, skeletons, tying
from chiral_jax.data import MirrorAugment, PoseSequence, PoseWindows, by_actions, by_fraction, by_subjects
from chiral_jax.data.builders import load_splits
from chiral_jax.data.device_windows import DeviceWindows, fits_on_device
from chiral_jax.data.pipeline import window_batches
from chiral_jax.data.registry import DATASETS
from chiral_jax.models import ChiralTemporalModel, TemporalModel
from chiral_jax.models.trajectory import ROOT_SPEC, LifterWithTrajectory, with_root, with_root_spec
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import lifting_trajectory as traj
from chiral_jax.tasks import runner
from chiral_jax.tasks.runner import Column, TrainingSetup, machine_description, num_params
from chiral_jax.train import amsgrad_torch

__all__ = [
    "LIFTING",
    "LIFTING_TRAJECTORY",
    "LiftingData",
    "LiftingTask",
    "Variant",
    "by_subject_action",
    "compute_dtype",
    "dilated_apply",
    "evaluate",
    "learning_rate",
    "load_data",
    "machine_description",
    "make_model",
    "mpjpe_loss",
    "num_params",
    "parse_sweep_entry",
    "predict",
    "results_table",
    "run_sweep",
    "subject_action_markdown",
    "subject_action_summary",
    "sweep_table",
    "task_for",
    "train_and_evaluate",
    "variants",
]

Array = jax.Array

LIFTING_DATASETS = ("synthetic", "cmu_mocap", "h36m", "humaneva")


# ---------------------------------------------------------------------------------- data


def load_data(
    data: ml_collections.ConfigDict,
) -> tuple[list[PoseSequence], list[PoseSequence], skeletons.Skeleton]:
    """Train and test sequences for ``data.name`` and the skeleton they use.

    The sequences are read from the dataset's TFDS build in ``data.data_dir`` (TFDS's default
    when empty), which is built from the user's files on first use.

    Keys: ``name`` (synthetic | cmu_mocap | h36m | humaneva), ``manual_dir``, ``data_dir``,
    ``keypoints``, ``synthetic`` (generator options), ``subjects_train`` / ``subjects_test``
    (empty: the dataset's standard split), ``train_fraction`` (of each training take's frames,
    deterministic), ``actions`` (optional).
    """
    name = data.name
    if name not in LIFTING_DATASETS:
        raise ValueError(
            f"data.name must be {', '.join(LIFTING_DATASETS[:-1])} or {LIFTING_DATASETS[-1]}, got {name!r}"
        )
    splits = load_splits(
        name,
        manual_dir=data.get("manual_dir") or None,
        data_dir=data.get("data_dir") or None,
        keypoints=data.get("keypoints") or "gt",
        synthetic=dict(data.get("synthetic", {})),
        manual_dir_key="--config.data.manual_dir",
    )
    every = splits["train"] + splits["test"]
    train = by_subjects(every, data.subjects_train) if data.subjects_train else splits["train"]
    test = by_subjects(every, data.subjects_test) if data.subjects_test else splits["test"]
    if data.get("actions"):
        train, test = by_actions(train, data.actions), by_actions(test, data.actions)
    if data.train_fraction < 1.0:
        train = by_fraction(train, data.train_fraction, seed=0)
    if not train or not test:
        raise ValueError(
            f"{name}: empty split after filtering (train {len(train)}, test {len(test)} sequences); "
            f"check data.subjects_train={tuple(data.subjects_train)}, "
            f"data.subjects_test={tuple(data.subjects_test)}, data.train_fraction={data.train_fraction}"
        )
    return train, test, DATASETS[name].skeleton


# ---------------------------------------------------------------------------------- models


@dataclasses.dataclass(frozen=True)
class Variant:
    """One trained configuration.

    Attributes:
      name: directory and table name, e.g. ``chiral_relu_w256`` or ``baseline_aug``.
      kind: ``"chiral"`` or ``"baseline"``.
      channels: hidden width.
      hidden: chiral hidden spec: ``"plain"`` (negation-free, any activation) or ``"negated"``.
      activation: hidden activation.
      augment: mirror augmentation while training (baseline only; a chiral net's loss is
        mirror-invariant, so augmentation changes nothing but dropout draws).
      matched: ``"width"`` or ``"params"`` (chiral width x sqrt2: the baseline's parameters).
    """

    name: str
    kind: str
    channels: int
    hidden: str = "plain"
    activation: str = "relu"
    augment: bool = False
    matched: str = "width"


def variants(model: ml_collections.ConfigDict, augment: bool) -> list[Variant]:
    """The variants ``model.kind`` asks for (chiral | baseline | both)."""
    kinds = {"both": ("chiral", "baseline"), "chiral": ("chiral",), "baseline": ("baseline",)}
    if model.kind not in kinds:
        raise ValueError(f"model.kind must be chiral, baseline or both, got {model.kind!r}")
    out: list[Variant] = []
    c = model.channels
    for kind in kinds[model.kind]:
        if kind == "baseline":
            augments = (True, False) if model.get("baseline_without_augment", False) else (augment,)
            for aug in augments:
                name = f"baseline_{'aug' if aug else 'noaug'}_w{c}"
                out.append(Variant(name, "baseline", c, activation=model.baseline_activation, augment=aug))
            continue
        for hidden in model.hidden_specs:
            act = model.activation if hidden == "plain" else model.negated_activation
            widths = [("width", c)]
            if model.get("equal_params", True):
                widths.append(("params", 2 * round(c * math.sqrt(2) / 2)))
            for matched, w in widths:
                out.append(Variant(f"chiral_{hidden}_{act}_w{w}", "chiral", w, hidden, act, matched=matched))
    return out


def make_model(
    variant: Variant,
    skeleton: skeletons.Skeleton,
    *,
    filter_widths: Sequence[int],
    dropout: float,
    causal: bool = False,
    seed: int = 0,
    dtype: Any = None,
    dropout_bits: str | None = None,
    init: str = "torch",
    trajectory: bool = False,
) -> nnx.Module:
    """The strided training net of a variant (``model(x, strided=False)`` is the evaluation net).

    ``trajectory`` (config ``model.trajectory``): a :class:`LifterWithTrajectory`, the same pose net
    (same parameters and dropout draws as without the head) beside a trajectory net of its shape
    whose output is the root's camera-frame position (:data:`ROOT_SPEC` for a chiral variant),
    drawn from a stream of its own; the output is ``(..., (J + 1) * 3)``.

    ``init``: ``"torch"`` (PyTorch's ``Conv1d`` default, VideoPose3D's) or ``"lecun"`` (Flax's);
    config ``model.init`` (:func:`chiral_jax.tying.initializers`).

    ``dtype``: compute dtype (e.g. ``jnp.bfloat16``; None: float32); parameters and batch-norm
    statistics are float32 either way. ``dropout_bits``: how the dropout masks are drawn
    ("byte" | "word" | "packed": :func:`chiral_jax.functional.dropout`; None: the
    ``functional.dropout_mask_bits`` mode where the step is traced, "byte" by default).
    """
    if dropout_bits is not None:
        functional.check_mask_bits(dropout_bits, "train.dropout_bits")
    tying.initializers(init, 1, "model.init")  # names the config key when the scheme is unknown
    kwargs = dict(
        init=init,
        filter_widths=filter_widths,
        dropout=dropout,
        dropout_bits=dropout_bits,
        causal=causal,
        strided=True,
        dtype=dtype,
        activation=variant.activation,
    )
    j = skeleton.num_joints

    def net(out: ChiralSpec, rngs: nnx.Rngs) -> nnx.Module:
        if variant.kind == "baseline":
            return TemporalModel(j * 2, out.size, channels=variant.channels, rngs=rngs, **kwargs)
        hidden = ChiralSpec.hidden(variant.channels, negated=variant.hidden == "negated")
        return ChiralTemporalModel(skeleton.spec(2), out, channels=hidden, rngs=rngs, **kwargs)

    pose = net(skeleton.spec(3), nnx.Rngs(seed))
    if not trajectory:
        return pose
    return LifterWithTrajectory(pose, net(ROOT_SPEC, nnx.Rngs(jax.random.fold_in(jax.random.key(seed), 1))))


def compute_dtype(name: str) -> Any:
    """``train.dtype`` -> the models' compute dtype: "float32" -> None (float32 throughout),
    "bfloat16" -> ``jnp.bfloat16`` (float32 parameters and batch-norm statistics)."""
    dtypes = {"float32": None, "bfloat16": jnp.bfloat16}
    if name not in dtypes:
        raise ValueError(f"train.dtype must be float32 or bfloat16, got {name!r}")
    return dtypes[name]


# ---------------------------------------------------------------------------------- evaluation


def _chunks(num_frames: int, chunk: int) -> list[int]:
    """Start frames of fixed-length chunks covering ``num_frames`` (the last one moved back)."""
    starts = list(range(0, max(num_frames - chunk, 0) + 1, chunk))
    if starts[-1] + chunk < num_frames:
        starts.append(num_frames - chunk)
    return starts


def predict(
    apply: Callable[[Array], Array],
    windows: PoseWindows,
    *,
    chunk: int = 64,
    batch_size: int = 64,
) -> tuple[list[np.ndarray], float]:
    """Runs ``apply`` (the dilated net, (B, chunk + R - 1, Cin) -> (B, chunk, Cout)) over every
    test sequence in fixed-size chunks (one compilation); returns per-sequence predictions
    ``(T_i, Cout)`` and the frames per second of the prediction pass (after a warm-up)."""
    r = windows.receptive_field
    pieces: list[np.ndarray] = []
    index: list[tuple[int, int]] = []  # (sequence, start frame)
    lengths = []
    for i, seq in enumerate(windows.sequences()):
        x = seq["inputs"][0]  # (T + R - 1, Cin), edge-padded
        t = x.shape[0] - r + 1
        lengths.append(t)
        if t < chunk:  # pad short sequences at the end; the extra outputs are dropped
            x = np.concatenate([x, np.repeat(x[-1:], chunk - t, axis=0)])
        for s in _chunks(max(t, chunk), chunk):
            pieces.append(x[s : s + chunk + r - 1])
            index.append((i, s))
    inputs = np.stack(pieces)
    pad = (-len(inputs)) % batch_size
    inputs = np.concatenate([inputs, np.zeros((pad, *inputs.shape[1:]), inputs.dtype)])
    jitted = jax.jit(apply)
    jax.block_until_ready(jitted(inputs[:batch_size]))  # compile outside the timing
    t0 = time.perf_counter()
    outs = [np.asarray(jitted(inputs[b : b + batch_size])) for b in range(0, len(inputs), batch_size)]
    seconds = time.perf_counter() - t0
    out = np.concatenate(outs)
    preds = [np.zeros((max(t, chunk), out.shape[-1]), np.float32) for t in lengths]
    for (i, s), o in zip(index, out, strict=False):
        preds[i][s : s + chunk] = o
    frames = sum(lengths)
    return [p[:t] for p, t in zip(preds, lengths, strict=True)], frames / seconds


def dilated_apply(
    model: nnx.Module, skeleton: skeletons.Skeleton, *, flip_average: bool = False
) -> tuple[Callable[[Any, Array], Array], Any]:
    """``(apply, state)``: ``apply(state, x)`` runs the eval-mode dilated net of ``model`` on
    ``x`` (B, T + R - 1, J * 2) -> (B, T, J * 3) ((J + 1) * 3 with a trajectory head); with
    ``flip_average`` it returns the test-time augmentation ``0.5 * (F(x) + T_out F(T_in x))`` (the
    mirrored input's root with x negated back). Puts ``model`` in eval mode."""
    model.eval()
    graphdef, state = nnx.split(model)
    spec_in, spec_out = skeleton.spec(2), skeleton.spec(3)
    if isinstance(model, LifterWithTrajectory):
        spec_out = with_root_spec(spec_out)

    def apply(state: Any, x: Array) -> Array:
        net = nnx.merge(graphdef, state, copy=True)
        y = net(x, strided=False)
        if flip_average:
            y = 0.5 * (y + spec_out.transform(net(spec_in.transform(x), strided=False)))
        return y

    return apply, state


def evaluate(
    model: nnx.Module,
    test: Sequence[PoseSequence],
    skeleton: skeletons.Skeleton,
    *,
    receptive_field: int,
    flip_average: bool = False,
    causal: bool = False,
    chunk: int = 64,
    windowed_apply: Callable[[Array], Array] | None = None,
    batch_size: int = 64,
    trajectory: bool = False,
) -> dict[str, Any]:
    """Protocol metrics of the dilated net on whole test sequences (in millimetres).

    ``trajectory``: the net also outputs the root's position (:class:`LifterWithTrajectory`); adds
    ``trajectory_mm`` and ``mpjpe_abs_mm`` (:func:`chiral_jax.tasks.lifting_trajectory.trajectory_metrics`).

    ``flip_average``: test-time augmentation, the average of ``F(x)`` and ``T_out F(T_in x)``.
    ``windowed_apply``: another net's ``(B, chunk + R - 1, Cin) -> (B, chunk, Cout)`` in place of
    the dilated ``model`` (e.g. a transformer run on every window; it does its own flip averaging).
    """
    if windowed_apply is None:
        apply, state = dilated_apply(model, skeleton, flip_average=flip_average)
        windowed_apply = lambda x: apply(state, x)  # noqa: E731
    windows = PoseWindows.from_sequences(
        test, receptive_field=receptive_field, causal=causal, flatten=True, with_intrinsics=False
    )
    preds, fps = predict(windowed_apply, windows, chunk=chunk, batch_size=batch_size)
    j = skeleton.num_joints
    extra: dict[str, float] = {}
    if trajectory:
        preds, extra = traj.trajectory_metrics(preds, test, j)
    per_seq = [(p.reshape(-1, j, 3), s.pose_3d) for p, s in zip(preds, test, strict=True)]
    pred_all = np.concatenate([p for p, _ in per_seq])
    true_all = np.concatenate([t for _, t in per_seq])
    frame_errors = [metrics.per_joint_errors(p, t).mean(axis=-1) * 1000 for p, t in per_seq]
    return {
        "mpjpe_mm": 1000 * metrics.mpjpe(pred_all, true_all),
        "p_mpjpe_mm": 1000 * metrics.p_mpjpe(pred_all, true_all),
        "n_mpjpe_mm": 1000 * metrics.n_mpjpe(pred_all, true_all),
        "mpjve_mm": 1000
        * float(
            np.average(
                [metrics.mpjve(p, t, axis=0) for p, t in per_seq], weights=[len(t) - 1 for _, t in per_seq]
            )
        ),
        "per_action": metrics.aggregate_by_action(frame_errors, [s.action for s in test]),
        "per_subject_action": by_subject_action(per_seq, test),
        "eval_frames_per_second": fps,
        **extra,
    }


def by_subject_action(
    per_seq: Sequence[tuple[np.ndarray, np.ndarray]], test: Sequence[PoseSequence]
) -> dict[str, dict[str, dict[str, float]]]:
    """``{subject: {action type: {"mpjpe_mm", "p_mpjpe_mm", "frames"}}}`` of per-sequence
    ``(predicted, true)`` pairs ((T, J, 3) metres), frames of every take, chunk and camera of one
    action type pooled (VideoPose3D's ``--by-subject`` evaluation; the paper's HumanEva table)."""
    sums: dict[tuple[str, str], list[float]] = {}
    for (pred, true), seq in zip(per_seq, test, strict=True):
        key = (seq.subject, metrics.action_type(seq.action))
        acc = sums.setdefault(key, [0.0, 0.0, 0])
        acc[0] += float(metrics.per_joint_errors(pred, true).mean(axis=-1).sum())
        aligned = metrics.procrustes_align(pred, true)
        acc[1] += float(metrics.per_joint_errors(aligned, true).mean(axis=-1).sum())
        acc[2] += len(true)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (subject, action), (e, pe, n) in sorted(sums.items()):
        out.setdefault(subject, {})[action] = {
            "mpjpe_mm": 1000 * e / n,
            "p_mpjpe_mm": 1000 * pe / n,
            "frames": n,
        }
    return out


def subject_action_summary(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds of each run's ``per_subject_action`` (and of its
    ``tta`` entry, as a ``"<name> + TTA"`` row): ``[{"name", "seeds", "per_subject_action":
    {subject: {action: {"mpjpe_mm", "mpjpe_mm_std", "p_mpjpe_mm", "p_mpjpe_mm_std"}}}}]``."""
    rows = []
    for name in dict.fromkeys(r["name"] for r in runs):
        group = [r for r in runs if r["name"] == name]
        for tta in (False, True):
            src = [r["tta"] if tta else r for r in group if (not tta or "tta" in r)]
            src = [r["per_subject_action"] for r in src if "per_subject_action" in r]
            if not src:
                continue
            table: dict[str, dict[str, dict[str, float]]] = {}
            for subject, actions in src[0].items():
                for action in actions:
                    cell = table.setdefault(subject, {}).setdefault(action, {})
                    for k in ("mpjpe_mm", "p_mpjpe_mm"):
                        vals = [r[subject][action][k] for r in src if action in r.get(subject, {})]
                        cell[k], cell[k + "_std"] = float(np.mean(vals)), float(np.std(vals))
            rows.append(
                {"name": name + (" + TTA" if tta else ""), "seeds": len(src), "per_subject_action": table}
            )
    return rows


def _short_subject(subject: str) -> str:
    return subject.split("/")[-1]


def subject_action_markdown(rows: Sequence[dict[str, Any]], actions: Sequence[str] = ()) -> str:
    """The paper's HumanEva table layout: one row per model, columns action x subject (P-MPJPE,
    then MPJPE, in mm; mean ± std over seeds). ``actions``: the configured action names (e.g.
    ``Walk``) used as column labels for the action types they select (``Walking``)."""
    if not rows:
        return ""
    cells = sorted({(a, s) for r in rows for s, acts in r["per_subject_action"].items() for a in acts})
    order = {a: i for i, a in enumerate(dict.fromkeys(a for a, _ in cells))}

    def label(action: str) -> str:
        for a in actions:
            if action == a or action.startswith(a):
                return a
        return action

    def rank(action: str) -> tuple[int, str]:
        names = [label(action)]
        for i, a in enumerate(actions):
            if names[0] == a:
                return i, action
        return len(actions) + order[action], action

    cells.sort(key=lambda c: (rank(c[0]), _short_subject(c[1])))
    header = " | ".join(f"{label(a)} {_short_subject(s)}" for a, s in cells)
    out = []
    for key, title in (("p_mpjpe_mm", "P-MPJPE (mm)"), ("mpjpe_mm", "MPJPE (mm)")):
        out += ["", f"## {title} by subject and action", "", f"| model | {header} | average |"]
        out.append("|---|" + "---|" * (len(cells) + 1))
        for r in rows:
            t = r["per_subject_action"]
            vals, texts = [], []
            for a, s in cells:
                c = t.get(s, {}).get(a)
                if c is None:
                    texts.append("-")
                    continue
                vals.append(c[key])
                std = f" ± {c[key + '_std']:.1f}" if r["seeds"] > 1 else ""
                texts.append(f"{c[key]:.1f}{std}")
            avg = f"{np.mean(vals):.1f}" if vals else "-"
            out.append(f"| {r['name']} | " + " | ".join(texts) + f" | {avg} |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------- the task


def mpjpe_loss(num_joints: int) -> Callable[[nnx.Module, dict[str, Array]], tuple[Array, dict[str, Array]]]:
    """The training loss of the strided net: MPJPE (metres) of ``batch["targets"]``; also in mm."""

    def loss_fn(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
        pred = model(batch["inputs"], strided=True)
        shape = (*pred.shape[:-1], num_joints, 3)
        err = jnp.mean(jnp.linalg.norm(pred.reshape(shape) - batch["targets"].reshape(shape), axis=-1))
        return err, {"mpjpe_mm": 1000 * err}

    return loss_fn


@dataclasses.dataclass(frozen=True)
class LiftingData:
    """What every lifting run reads: the splits and their skeleton."""

    name: str
    train: list[PoseSequence]
    test: list[PoseSequence]
    skeleton: skeletons.Skeleton


def learning_rate(train: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.Schedule:
    """The learning-rate schedule of ``train.lr``, ``train.lr_decay`` and ``train.lr_decay_every``.

    ``lr_decay_every``:

    * ``"step"`` (the default, also when the key is absent): smooth decay by ``lr_decay`` per
      ``lr_decay_steps`` steps, ``lr * lr_decay ** (step / lr_decay_steps)`` (VideoPose3D's
      Human3.6M decay, expressed per step);
    * ``"epoch"``: ``lr_decay`` once per epoch of ``steps_per_epoch`` steps, a staircase
      (VideoPose3D's ``-lrd``, e.g. HumanEva-I's x0.996 per epoch);
    * an integer N (or its digits as a string, as a command line gives it): ``lr_decay`` every N
      steps, a staircase.
    """
    every = train.get("lr_decay_every", "step")
    if every in ("step", "", None):
        return optax.exponential_decay(
            train.lr, transition_steps=train.lr_decay_steps, decay_rate=train.lr_decay
        )
    if every == "epoch":
        steps = steps_per_epoch
    else:
        try:
            steps = int(every)
        except (TypeError, ValueError):
            steps = 0
        if steps <= 0 or str(every).strip() != str(steps):
            raise ValueError(
                f"train.lr_decay_every must be 'step', 'epoch' or a positive number of steps, got {every!r}"
            )
    return optax.exponential_decay(
        train.lr, transition_steps=steps, decay_rate=train.lr_decay, staircase=True
    )


class LiftingTask(runner.Task):
    """2D -> 3D lifting with VideoPose3D's temporal conv nets (strided training, dilated testing).

    ``trajectory``: the task of ``model.trajectory=True`` runs (:data:`LIFTING_TRAJECTORY`): its
    summary and results.md also have the trajectory head's metrics (the config builds the model).
    """

    name = "Lifting"
    summary_keys = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "eval_frames_per_second")
    columns = (
        Column("MPJPE (mm)", "mpjpe_mm"),
        Column("P-MPJPE (mm)", "p_mpjpe_mm"),
        Column("N-MPJPE (mm)", "n_mpjpe_mm"),
        Column("MPJVE (mm)", "mpjve_mm"),
        Column("eval frames/s", "eval_frames_per_second", ".0f"),
    )
    primary_metric = "mpjpe_mm"
    final_metrics = ("train_mpjpe_mm",)

    def __init__(self, trajectory: bool = False) -> None:
        if trajectory:
            self.summary_keys = (*type(self).summary_keys, *traj.TRAJECTORY_KEYS)
            self.columns = (*type(self).columns, *(Column(h, k) for h, k in traj.TRAJECTORY_COLUMNS))
            self.final_metrics = (*type(self).final_metrics, "train_trajectory_mm")

    def load_data(self, config: ml_collections.ConfigDict) -> LiftingData:
        train, test, skeleton = load_data(config.data)
        return LiftingData(config.data.name, train, test, skeleton)

    def describe_data(self, data: LiftingData) -> dict[str, Any]:
        return {
            "name": data.name,
            "train_frames": sum(len(s.pose_3d) for s in data.train),
            "test_frames": sum(len(s.pose_3d) for s in data.test),
        }

    def variants(self, config: ml_collections.ConfigDict) -> list[Variant]:
        return variants(config.model, config.train.augment)

    def describe_variant(self, variant: Variant) -> dict[str, Any]:
        return {
            "name": variant.name,
            "kind": variant.kind,
            "hidden": variant.hidden if variant.kind == "chiral" else "dense",
            "activation": variant.activation,
            "channels": variant.channels,
            "matched": variant.matched,
            "augment": variant.augment,
        }

    def model_metadata(
        self, variant: Variant, data: LiftingData, config: ml_collections.ConfigDict
    ) -> dict[str, Any]:
        """``model.json``: the variant, the skeleton, the net's shape and the 2D normalisation
        (what :mod:`chiral_jax.predict` rebuilds the model from)."""
        return {
            "task": "lifting",
            "variant": dataclasses.asdict(variant),
            "skeleton": data.skeleton.name,
            "joint_names": list(data.skeleton.joint_names),
            "filter_widths": list(config.model.filter_widths),
            "receptive_field": math.prod(config.model.filter_widths),
            "dropout": config.model.dropout,
            "causal": config.model.causal,
            "init": config.model.get("init", "torch"),
            "input": "2D keypoints (T, J, 2) in VideoPose3D's normalized screen coordinates "
            "(u / w * 2 - 1, v / w * 2 - h / w)",
            "output": "3D poses (T, J, 3) in metres, camera frame, root-relative (joint 0 at 0)"
            + ("; then the root's camera-frame position (T, 3)" if config.model.get("trajectory") else ""),
            "trajectory": bool(config.model.get("trajectory", False)),
            "dataset": data.name,
            "config": config.to_dict(),
        }

    def setup(
        self, variant: Variant, seed: int, data: LiftingData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        widths = tuple(config.model.filter_widths)
        model = make_model(
            variant,
            data.skeleton,
            filter_widths=widths,
            dropout=config.model.dropout,
            causal=config.model.causal,
            seed=seed,
            dtype=compute_dtype(config.train.get("dtype", "float32")),
            dropout_bits=config.train.get("dropout_bits", "byte"),
            init=config.model.get("init", "torch"),
            trajectory=config.model.get("trajectory", False),
        )
        sk = sk_out = data.skeleton
        loss = mpjpe_loss(sk.num_joints)
        if config.model.get("trajectory", False):  # targets [pose, root position]: (J + 1, 3) per frame
            sk_out, loss = with_root(sk), traj.trajectory_loss(sk.num_joints)
            windows = PoseWindows(
                [s.pose_2d for s in data.train],
                traj.trajectory_targets(data.train),
                receptive_field=math.prod(widths),
                causal=config.model.causal,
                flatten=True,
            )
        else:
            windows = PoseWindows.from_sequences(
                data.train,
                receptive_field=math.prod(widths),
                causal=config.model.causal,
                flatten=True,
                with_intrinsics=False,
            )
        bs = config.train.batch_size
        steps = windows.num_batches(bs, drop_remainder=True)
        if steps == 0:
            raise ValueError(f"{len(windows)} training windows: fewer than one batch of {bs}")
        augment = MirrorAugment(0.5, skeleton_in=sk, skeleton_out=sk_out) if variant.augment else None

        procs = dict(process_index=jax.process_index(), process_count=jax.process_count())
        device_data = None
        if config.data.get("device_resident", True) and fits_on_device(windows):
            # The windows live on the devices; each step sends indices and flips (same batches).
            device_data = DeviceWindows(windows, augment=augment)

            def batches(epoch: int) -> Any:
                return device_data.index_batches(bs, seed=seed, epoch=epoch, **procs)
        else:

            def batches(epoch: int) -> Any:
                return window_batches(windows, bs, seed=seed, epoch=epoch, augment=augment, **procs)

        lr = learning_rate(config.train, steps)
        return TrainingSetup(
            model,
            amsgrad_torch(lr),
            loss,
            batches,
            steps,
            config.train.epochs,
            device_data=device_data,
        )

    def evaluate(
        self, model: nnx.Module, variant: Variant, data: LiftingData, config: ml_collections.ConfigDict
    ) -> dict[str, Any]:
        kwargs = dict(
            receptive_field=math.prod(config.model.filter_widths),
            causal=config.model.causal,
            trajectory=bool(config.model.get("trajectory", False)),
        )
        out = evaluate(model, data.test, data.skeleton, **kwargs)
        if variant.kind == "baseline" and config.eval.test_time_augmentation:
            out["tta"] = evaluate(model, data.test, data.skeleton, flip_average=True, **kwargs)
        return out

    def extra_summary(self, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {"summary_by_subject_action": subject_action_summary(runs)}

    def extra_markdown(self, results: dict[str, Any]) -> str:
        actions = results.get("config", {}).get("data", {}).get("actions", ())
        return subject_action_markdown(results.get("summary_by_subject_action", []), actions)

    def title(self, results: dict[str, Any]) -> str:
        d = results["data"]
        return f"Lifting results: {d['name']} ({d['train_frames']} train / {d['test_frames']} test frames)"


LIFTING = LiftingTask()
LIFTING_TRAJECTORY = LiftingTask(trajectory=True)


def task_for(config: ml_collections.ConfigDict | dict[str, Any]) -> LiftingTask:
    """:data:`LIFTING_TRAJECTORY` when ``model.trajectory`` is on, else :data:`LIFTING`."""
    model = config.get("model") or {}
    return LIFTING_TRAJECTORY if model.get("trajectory", False) else LIFTING


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Runs every variant x seed of ``config``; writes results.json / results.md / plots in ``workdir``."""
    return runner.run(task_for(config), config, workdir)


def results_table(results: dict[str, Any]) -> str:
    """The ``results.md`` table of a lifting run (with the trajectory columns when the head was on)."""
    task = task_for(results.get("config", {}))
    return runner.results_table(results, task.columns, task.title(results))


# ---------------------------------------------------------------------------------- limited data


def parse_sweep_entry(entry: str) -> tuple[tuple[str, ...], float]:
    """``"S1:0.01"`` -> (("S1",), 0.01); ``"S1,S5,S6"`` -> (("S1", "S5", "S6"), 1.0)."""
    subjects, _, fraction = entry.partition(":")
    names = tuple(s.strip() for s in subjects.split(",") if s.strip())
    try:
        value = float(fraction) if fraction else 1.0
    except ValueError:
        raise ValueError(
            f"sweep entry {entry!r}: expected 'S1,S5:0.1' (subjects, optional fraction)"
        ) from None
    if not names or not 0.0 < value <= 1.0:
        raise ValueError(f"sweep entry {entry!r}: expected subjects and a fraction in (0, 1]")
    return names, value


def run_sweep(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """The limited-data study: one :func:`train_and_evaluate` per ``config.sweep`` entry (training
    subjects and fraction) in ``workdir/<entry>`` (each with the runner's results.json / results.md,
    resumable); writes ``sweep.json`` (one point per entry and summary row: training frames, MPJPE
    and P-MPJPE mean and std over seeds), ``sweep.md`` (error per entry and model) and
    ``sweep.png`` (error against training frames: one line per model, e.g. chiral, baseline and
    baseline + TTA)."""
    points = []
    for entry in config.sweep:
        subjects, fraction = parse_sweep_entry(entry)
        sub = ml_collections.ConfigDict(config.to_dict())
        sub.sweep = ()
        sub.data.subjects_train = subjects
        sub.data.train_fraction = fraction
        name = "+".join(subjects) + f"_{fraction:g}"
        results = train_and_evaluate(sub, os.path.join(workdir, name))
        for row in results["summary"]:
            points.append({"entry": entry, "train_frames": results["data"]["train_frames"], **row})
    out = {"machine": machine_description(), "entries": list(config.sweep), "points": points}
    with open(os.path.join(workdir, "sweep.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(workdir, "sweep.md"), "w") as f:
        f.write(sweep_table(out))
    _plot_sweep(points, os.path.join(workdir, "sweep.png"))
    return out


def sweep_table(sweep: dict[str, Any]) -> str:
    """``sweep.md``: per metric, one row per entry (training data, frames) and one column per model
    (mean ± std over seeds, in mm)."""
    points = sweep["points"]
    names = list(dict.fromkeys(p["name"] for p in points))
    entries = list(dict.fromkeys(p["entry"] for p in points))
    by = {(p["entry"], p["name"]): p for p in points}
    lines = [f"Machine: {sweep['machine']}", ""]
    for key, title in (("mpjpe_mm", "MPJPE (mm)"), ("p_mpjpe_mm", "P-MPJPE (mm)")):
        lines += [f"## Test {title} against training data", ""]
        lines += [
            "| training data | frames | " + " | ".join(names) + " |",
            "|---|---:|" + "---|" * len(names),
        ]
        for e in entries:
            cells = []
            for n in names:
                p = by.get((e, n))
                if p is None or key not in p:
                    cells.append("-")
                    continue
                std = f" ± {p[key + '_std']:.1f}" if p["seeds"] > 1 else ""
                cells.append(f"{p[key]:.1f}{std}")
            frames = next(p["train_frames"] for p in points if p["entry"] == e)
            lines.append(f"| {e} | {frames:,} | " + " | ".join(cells) + " |")
        lines.append("")
    seeds = max((p["seeds"] for p in points), default=0)
    lines.append(f"Seeds per point: {seeds} (± is the standard deviation over seeds).")
    return "\n".join(lines) + "\n"


def _plot_sweep(points: Sequence[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in zip(axes, ("mpjpe_mm", "p_mpjpe_mm"), ("MPJPE", "P-MPJPE"), strict=True):
        for name in dict.fromkeys(p["name"] for p in points):
            rows = sorted(
                (p for p in points if p["name"] == name and key in p), key=lambda p: p["train_frames"]
            )
            x = [p["train_frames"] for p in rows]
            y = np.array([p[key] for p in rows])
            err = np.array([p.get(key + "_std", 0.0) for p in rows])
            style = "--" if name.endswith("+ TTA") else "-"
            ax.errorbar(x, y, yerr=err, marker="o", linestyle=style, capsize=3, label=name)
        ax.set_xscale("log")
        ticks = {p["train_frames"]: p["entry"] for p in points}  # label each point with its entry
        ax.set_xticks(list(ticks), [f"{e}\n{f:,}" for f, e in ticks.items()], fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel("training data and frames (log)")
        ax.set_ylabel(f"test {title} (mm, mean ± std over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
