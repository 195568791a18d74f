"""Lifting to 3D joints plus twists, then twist-swing inverse kinematics, as a
:class:`~chiral_jax.runner.Task` (HybrIK's recipe on motion capture with real rotations).

``train_and_evaluate(config, workdir)`` is what ``experiments/ik_cmu.py`` runs. Each variant (plain
and chiral lifter, ``model.architecture`` choosing the network) predicts, from the 2D projections of a
window of frames, the root-relative camera-frame 3D joints and every joint's twist ``(cos phi,
sin phi)`` about its bone to its twist child; :func:`~chiral_jax.kinematics.inverse_kinematics` turns
them into joint rotations against the subject's rest skeleton. Metrics
(:func:`~chiral_jax.metrics.ik_metrics`: MPJPE before and after IK, bone-length, rotation and twist
errors) go to ``results.json`` with ``oracle_ik``, those of IK on the true joints and twists.

Data (``data.name``, :func:`~chiral_jax.data.ik_data.load_ik_splits`): ``synthetic`` (default, exact
joint rotations of the H36M-17 tree) or ``cmu_mocap`` (``data.manual_dir``; the AMC rotations), read
from the TFDS builds ``synthetic_ik`` / ``cmu_mocap_ik`` (local rotations in each camera's frame).

Outputs: the temporal nets emit ``(..., J * 5)`` channels, joint-major ``(x, y, z, cos, sin)``,
whose mirror is ``H36M.spec(5, negated=(0, 4))`` (x and the twist's sine flip, left/right swap), so
the chiral net is exactly equivariant on joints and twists at once. ``model.architecture =
"transformer"``: the transformer lifters of :mod:`~chiral_jax.tasks.transformer_lifting` with one
twist token per joint, trained on ``model.frames``-frame windows with that task's recipe and
evaluated window by window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import runner, skeletons, tying
from chiral_jax.data import PoseWindows
from chiral_jax.data.augment import MirrorAugment
from chiral_jax.data.ik_data import IkData, IkSequence, load_ik_splits
from chiral_jax.data.training_batches import window_epochs
from chiral_jax.metrics import ik_by_take, ik_metrics
from chiral_jax.models.lifters import temporal_lifter
from chiral_jax.models.transformer import ChiralTransformerLifter, TransformerLifter, source_tokens
from chiral_jax.runner import Column, TrainingSetup, Variant
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import lifting
from chiral_jax.tasks import transformer_lifting as tl
from chiral_jax.train import amsgrad_torch
from chiral_jax.train.schedules import decay_schedule

__all__ = [
    "IK",
    "IkData",
    "IkSequence",
    "IkTask",
    "ik_metrics",
    "load_data",
    "make_model",
    "output_spec",
    "split_outputs",
    "train_and_evaluate",
]

Array = jax.Array
SKELETON = skeletons.H36M
PARENTS = SKELETON.parents
# Twist children: the pelvis twists about the spine, the thorax about the neck (mirror-consistent).
CHILDREN = SKELETON.twist_children
# Where IK uses the twist (one child).
TWIST_JOINTS = tuple(j for j in range(len(PARENTS)) if PARENTS.count(j) == 1)
load_data = load_ik_splits  # {"train": [...], "test": [...]} IkSequence lists of data.name
ARCHS = ("temporal", "transformer")


def output_spec(skeleton: skeletons.Skeleton = SKELETON) -> ChiralSpec:
    """Joints and twists, joint-major ``(x, y, z, cos, sin)``: x and sin flip under the mirror."""
    return skeleton.spec(5, negated=(0, 4))


def split_outputs(y: Any, num_joints: int) -> tuple[Array, Array]:
    """A lifter's output -> (joints (..., J, 3), twist (..., J, 2)).

    Takes the flat ``(..., J * 5)`` channels of the temporal nets or a dict with ``"joints"``
    (``(..., J * 3)`` or ``(..., J, 3)``) and ``"twist"`` (``(..., J, 2)``), as a transformer lifter
    built with ``twist=True`` returns (other keys, e.g. ``"shape"``, are ignored).
    """
    if isinstance(y, dict):
        joints = y["joints"]
        joints = joints.reshape(*joints.shape[:-1], num_joints, 3) if joints.shape[-1] != 3 else joints
        return joints, y["twist"]
    y = y.reshape(*y.shape[:-1], num_joints, 5)
    return y[..., :3], y[..., 3:]


def _flat(joints: Array, twist: Array) -> Array:
    """(…, J, 3) and (…, J, 2) -> the (…, J * 5) channel layout of :func:`output_spec`."""
    y = jnp.concatenate([joints, twist], axis=-1)
    return y.reshape(*y.shape[:-2], -1)


def _arch(model: ml_collections.ConfigDict) -> str:
    arch = model.get("architecture", "temporal")
    if arch not in ARCHS:
        raise ValueError(f"model.architecture must be one of {ARCHS}, got {arch!r}")
    return arch


def make_model(variant: Variant, model: ml_collections.ConfigDict, seed: int) -> nnx.Module:
    """The lifter of ``variant`` for ``model.architecture``: ``"temporal"``, VideoPose3D nets whose output
    is :func:`output_spec` (the strided net trains, ``model(x, strided=False)`` evaluates);
    ``"transformer"``, a transformer lifter with twist tokens (``model(x, keep=...)`` on
    ``(B, model.frames, J * 2)`` windows -> ``{"joints": (B, J * 3), "twist": (B, J, 2)}``)."""
    if _arch(model) == "transformer":
        if model.frames < 1 or model.frames % 2 == 0:
            raise ValueError(
                f"model.frames must be a positive odd number (a centred window), got {model.frames}"
            )
        return tl.make_transformer(variant, SKELETON, model, seed, twist=True)
    init = model.get("init", "torch")
    tying.initializers(init, 1, "model.init")  # names the config key when the scheme is unknown
    return temporal_lifter(
        variant.kind,
        variant.width,
        SKELETON.spec(2),
        output_spec(),
        hidden=variant.hidden,
        seed=seed,
        filter_widths=tuple(model.filter_widths),
        dropout=model.dropout,
        strided=True,
        init=init,
        activation=variant.activation,
    )


def _apply(model: nnx.Module, x: Array, *, strided: bool, keep: Array | None = None) -> tuple[Array, Array]:
    """Runs a lifter and splits its output (the one place that knows how a model is called):
    temporal nets take ``strided``, transformers the token ``keep`` mask."""
    if isinstance(model, TransformerLifter | ChiralTransformerLifter):
        return split_outputs(model(x, keep=keep), SKELETON.num_joints)
    return split_outputs(model(x, strided=strided), SKELETON.num_joints)


def loss_fn(twist_weight: float) -> Callable[[nnx.Module, dict[str, Array]], tuple[Array, dict[str, Array]]]:
    """MPJPE (metres) plus ``twist_weight`` times the mean chord between the unit-normalised
    predicted twist and the target, on the joints IK twists (:data:`TWIST_JOINTS`)."""
    idx = np.asarray(TWIST_JOINTS)

    def fn(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
        joints, twist = _apply(model, batch["inputs"], strided=True, keep=batch.get("keep"))
        # Targets are (B, J * 5) per window; the strided net gives (B, 1, J, ...), a transformer (B, J, ...).
        t_joints, t_twist = split_outputs(
            batch["targets"].reshape(*joints.shape[:-2], -1), SKELETON.num_joints
        )
        mpjpe = jnp.mean(jnp.linalg.norm(joints - t_joints, axis=-1))
        tw = twist[..., idx, :]
        unit = tw / jnp.maximum(jnp.linalg.norm(tw, axis=-1, keepdims=True), 1e-6)
        chord = jnp.mean(jnp.linalg.norm(unit - t_twist[..., idx, :], axis=-1))
        return mpjpe + twist_weight * chord, {"mpjpe_mm": 1000 * mpjpe, "twist_chord": chord}

    return fn


class IkTask(runner.Task):
    """Lifting to joints and twists, then IK (see the module docstring)."""

    name = "Twist-swing IK"
    columns = (
        Column("MPJPE (mm)", "mpjpe_mm"),
        Column("MPJPE after IK (mm)", "mpjpe_after_ik_mm"),
        Column("bone length err (mm)", "bone_length_error_mm"),
        Column("rotation err (°)", "rotation_error_deg"),
        Column("twist err (°)", "twist_error_deg"),
    )
    summary_keys = (
        *(c.key for c in columns[:3]),
        "bone_length_error_after_ik_mm",
        columns[3].key,
        columns[4].key,
    )
    primary_metric = "mpjpe_after_ik_mm"
    final_metrics = ("train_mpjpe_mm", "train_twist_chord")

    def load_data(self, config: ml_collections.ConfigDict) -> IkData:
        splits = load_ik_splits(config.data)
        return IkData(config.data.name, splits["train"], splits["test"])

    def describe_data(self, data: IkData) -> dict[str, Any]:
        return {
            "name": data.name,
            "train_frames": sum(s.seq.num_frames for s in data.train),
            "test_frames": sum(s.seq.num_frames for s in data.test),
            "skeleton": SKELETON.name,
            "twist_children": list(CHILDREN),
        }

    def variants(self, config: ml_collections.ConfigDict, data: IkData) -> list[Variant]:
        if _arch(config.model) == "transformer":
            return tl.transformer_variants(config.model, config.train.augment)
        return lifting.variants(config.model, config.train.augment)

    def describe_variant(self, variant: Variant) -> dict[str, Any]:
        arch = variant.architecture or "temporal"  # "arch", "channels": older records' names
        return {**variant.describe(), "architecture": arch, "arch": arch, "channels": variant.width}

    def setup(
        self, variant: Variant, seed: int, data: IkData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        model = make_model(variant, config.model, seed)
        transformer = _arch(config.model) == "transformer"
        m, t = config.model, config.train
        windows = PoseWindows(
            [s.seq.pose_2d for s in data.train],
            [s.targets for s in data.train],
            receptive_field=m.frames if transformer else math.prod(m.filter_widths),
            flatten=True,
        )
        augment = (
            MirrorAugment({"inputs": SKELETON.spec(2), "targets": output_spec()}) if variant.augment else None
        )

        window_batches, steps, _ = window_epochs(windows, config.train.batch_size, seed=seed, augment=augment)
        n_src = source_tokens(m.tokens, m.frames, SKELETON.num_joints) if transformer else 0

        def batches(epoch: int) -> Any:
            if not transformer:
                return window_batches(epoch)
            return tl.keep_batches(
                window_batches(epoch), seed=seed, epoch=epoch, tokens=n_src, keep_min=t.keep_min
            )

        if transformer:  # the transformer task's recipe: Adam, warmup + 1/sqrt decay, no batch norm
            optimizer = optax.adam(tl.inverse_sqrt_schedule(t.lr, t.warmup_steps))
            last = config.eval.average_last
            kw = dict(bn_momentum=None, checkpoints_kept=max(3, last), average_last=last)
        else:
            optimizer, kw = amsgrad_torch(decay_schedule(t, steps)), {}
        return TrainingSetup(model, optimizer, loss_fn(t.twist_weight), batches, steps, t.epochs, **kw)

    def evaluate(
        self,
        model: nnx.Module,
        variant: Variant,
        data: IkData,
        config: ml_collections.ConfigDict,
        *,
        flip_average: bool = False,
    ) -> dict[str, Any]:
        """Predictions on whole test sequences (the dilated net, or the transformer window by window),
        IK and the metrics; ``flip_average``: of the test-time flip average."""
        j = SKELETON.num_joints
        if _arch(config.model) == "transformer":
            frames = config.model.frames
            flat = lambda y: _flat(*split_outputs(y, j))  # noqa: E731
            apply = tl.windowed_apply(
                model, SKELETON, frames=frames, flip_average=flip_average, output=flat, out_spec=output_spec()
            )
            ev = config.get("eval", ml_collections.ConfigDict())
            kw = dict(chunk=ev.get("chunk", 16), batch_size=ev.get("batch_size", 16))
        else:
            frames, kw = math.prod(config.model.filter_widths), {}
            flip = (SKELETON.spec(2), output_spec()) if flip_average else None
            apply = runner.eval_function(
                model, lambda net, x: _flat(*_apply(net, x, strided=False)), flip=flip
            )
        windows = PoseWindows([s.seq.pose_2d for s in data.test], receptive_field=frames, flatten=True)
        preds, fps = runner.predict_sequences(apply, windows, **kw)
        return {**ik_by_take(data.test, preds), "eval_frames_per_second": fps}

    def extra_results(self, data: IkData, config: ml_collections.ConfigDict) -> dict[str, Any]:
        """IK on the true joints and twists: what the tree definition alone costs."""
        return {"oracle_ik": ik_by_take(data.test, None)}

    def extra_markdown(self, results: dict[str, Any]) -> str:
        o = results["oracle_ik"]
        return (
            "\nIK on the true joints and twists (oracle): "
            f"MPJPE after IK {o['mpjpe_after_ik_mm']:.1f} mm, rotation error {o['rotation_error_deg']:.2f}°, "
            f"bone length error after IK {o['bone_length_error_after_ik_mm']:.1f} mm.\n"
        )

    def title(self, results: dict[str, Any]) -> str:
        d = results["data"]
        return f"IK results: {d['name']} ({d['train_frames']} train / {d['test_frames']} test frames)"


IK = IkTask()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Every variant x seed of ``config``; writes results.json / results.md / results.png."""
    return runner.run(IK, config, workdir)
