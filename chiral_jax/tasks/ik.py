"""Lifting to 3D joints plus twists, then twist-swing inverse kinematics, as a
:class:`~chiral_jax.tasks.runner.Task` (HybrIK's recipe on motion capture with real rotations).

``train_and_evaluate(config, workdir)`` is what ``experiments/ik_cmu.py`` runs. Each variant (plain
and chiral lifter, ``model.architecture`` choosing the network) predicts, from the 2D projections of a
window of frames, the root-relative camera-frame 3D joints and every joint's twist ``(cos phi,
sin phi)`` about its bone to its twist child. :func:`~chiral_jax.kinematics.inverse_kinematics`
turns joints and twists into joint rotations against the subject's rest skeleton; forward
kinematics of those gives a bone-length-consistent skeleton. Metrics per model (``results.json``):
``mpjpe_mm`` (the lifter's joints), ``mpjpe_after_ik_mm`` (FK of the IK rotations),
``bone_length_error_mm`` (mean absolute bone-length error of the lifter's joints; after IK it is
the rest skeleton's, ``bone_length_error_after_ik_mm``), ``rotation_error_deg`` (geodesic angle
between IK and mocap local rotations, non-leaf joints) and ``twist_error_deg`` (single-child joints,
where IK uses the twist). ``oracle_ik`` in ``results.json``: the same metrics of IK on the true
joints and twists (the floor the tree definition leaves).

Data (``data.name``): ``synthetic`` (default; the built-in generator's joint-angle motions, whose
rotations are exact joint rotations of the H36M-17 tree) or ``cmu_mocap`` (``data.manual_dir``: the
CMU ASF/AMC subject folders; rotations from the AMC channels, see
:func:`~chiral_jax.data.cmu_mocap.load_trial_kinematics`). Both are seen by virtual cameras as in
the lifting task; the twist targets are computed from the mocap rotations in each camera's frame.

Outputs: the temporal nets emit ``(..., J * 5)`` channels, joint-major ``(x, y, z, cos, sin)``,
whose mirror is ``H36M.spec(5, negated=(0, 4))`` (x and the twist's sine flip, left/right swap), so
the chiral net is exactly equivariant on joints and twists at once. :func:`split_outputs` also takes
the dict a transformer lifter returns (``{"joints": (..., J * 3), "twist": (..., J, 2), ...}``).

``model.architecture = "transformer"``: the transformer lifters of
:mod:`~chiral_jax.tasks.transformer_lifting` with one twist token per joint (its config keys
``model.frames``, ``layers``, ``heads``, ``width``, ``ffn_layers``, ``tokens``), trained on
``model.frames``-frame windows for the centre frame with its recipe (token-subset augmentation
``train.keep_min``, Adam on the warmup + inverse-square-root schedule ``train.warmup_steps``,
evaluation with the average of the last ``eval.average_last`` epoch checkpoints) and evaluated
window by window.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import kinematics, rotations, runner, skeletons, tying
from chiral_jax.data import PoseSequence, PoseWindows
from chiral_jax.data.augment import MirrorAugment
from chiral_jax.data.sequence import render
from chiral_jax.data.training_batches import window_epochs
from chiral_jax.models import ChiralTemporalModel, TemporalModel
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
CHILDREN = kinematics.children_of(PARENTS, center=SKELETON.center)
# Where IK uses the twist (one child) and where the rotation is defined (non-leaf).
TWIST_JOINTS = tuple(j for j in range(len(PARENTS)) if PARENTS.count(j) == 1)
INNER_JOINTS = tuple(j for j in range(len(PARENTS)) if CHILDREN[j] >= 0)
BONES = tuple((PARENTS[j], j) for j in range(len(PARENTS)) if PARENTS[j] >= 0)
IK_DATASETS = ("synthetic", "cmu_mocap")
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


# ---------------------------------------------------------------------------------- data


@dataclasses.dataclass(eq=False)
class IkSequence:
    """One take seen by one camera, with its kinematics.

    Attributes:
      seq: 2D inputs and root-relative camera-frame 3D joints (``seq.pose_3d``, (T, J, 3)).
      rotations: (T, J, 3, 3) local joint rotations (the root's: rest frame -> camera frame).
      twist: (T, J, 2) (cos, sin) of each joint's twist (:data:`CHILDREN`).
      rest: (J, 3) the subject's rest joints (root at the origin).
    """

    seq: PoseSequence
    rotations: np.ndarray
    twist: np.ndarray | None
    rest: np.ndarray

    @property
    def targets(self) -> np.ndarray:
        """(T, J * 5) joints and twists in the :func:`output_spec` layout."""
        t = np.concatenate([self.seq.pose_3d, self.twist], axis=-1)
        return t.reshape(len(t), -1).astype(np.float32)


def _locals(glob: np.ndarray) -> np.ndarray:
    """Global (T, J, 3, 3) -> local rotations ``G_parent^T G_j`` (the root's stays global)."""
    par = np.asarray(PARENTS)
    out = glob.copy()
    out[:, 1:] = np.swapaxes(glob[:, par[1:]], -1, -2) @ glob[:, 1:]
    return out


def _views(
    world: np.ndarray,
    glob: np.ndarray,
    rest: np.ndarray,
    cams: Sequence[Any],
    subject: str,
    action: str,
    fps: float,
) -> list[IkSequence]:
    out = []
    rest = rest.astype(np.float32)
    for cam in cams:
        seq = render(world, cam, subject=subject, action=action, fps=fps)
        local = _locals(np.einsum("ab,tjbc->tjac", cam.R, glob)).astype(np.float32)
        out.append(IkSequence(seq, local, None, rest))
    return out


def _groups(seqs: Sequence[IkSequence]) -> list[list[int]]:
    """Indices of the sequences sharing one rest skeleton (one subject): one IK call per group
    (one compilation per frame count, instead of one per sequence length)."""
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        groups.setdefault(id(s.rest), []).append(i)
    return list(groups.values())


def _with_twists(seqs: list[IkSequence]) -> list[IkSequence]:
    """Fills in the twist targets from the rotations."""
    for idx in _groups(seqs):
        local = np.concatenate([seqs[i].rotations for i in idx])
        twist = np.asarray(kinematics.twist_angles(local, seqs[idx[0]].rest, PARENTS, CHILDREN))
        ends = np.cumsum([len(seqs[i].rotations) for i in idx])[:-1]
        for i, t in zip(idx, np.split(twist, ends), strict=True):
            seqs[i].twist = t
    return seqs


def _synthetic(options: dict[str, Any]) -> dict[str, list[IkSequence]]:
    from chiral_jax.data import synthetic as syn

    cfg = syn.SyntheticConfig(**options)
    out: dict[str, list[IkSequence]] = {"train": [], "test": []}
    for si, subject in enumerate(cfg.subjects):
        split = "test" if subject in cfg.test_subjects else "train"
        srng = syn._stream(cfg.seed, si, 0, 0, 0)  # the generator's own streams: the same bodies
        offsets = syn.subject_bones(srng)
        cams = syn.subject_cameras(srng, cfg.num_cameras)
        rest = syn.rest_joints(offsets)
        for motion in cfg.motions:
            mi = syn.MOTIONS.index(motion)
            for take in range(cfg.takes):
                rng = syn._stream(cfg.seed, si, mi + 1, take, 1)
                n = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
                world, local = syn.motion_world(motion, offsets, rng, n, cfg.fps, return_rotations=True)
                glob = np.asarray(kinematics.global_rotations(local, PARENTS), np.float64)
                out[split] += _views(world, glob, rest, cams, subject, f"{motion} {take + 1}", cfg.fps)
    return out


def _cmu(data: ml_collections.ConfigDict) -> dict[str, list[IkSequence]]:
    from chiral_jax.data import cmu_mocap as cmu

    if not data.get("manual_dir"):
        raise ValueError(
            "data.name=cmu_mocap needs --config.data.manual_dir=/path/to/cmu_mocap (" + cmu.CMU_HELP + ")"
        )
    subjects = tuple(data.subjects_train) + tuple(data.subjects_test) or None
    test_subjects = tuple(data.subjects_test) or ("03",)
    out: dict[str, list[IkSequence]] = {"train": [], "test": []}
    for subject, (asf, amcs) in cmu.find_trials(data.manual_dir, subjects).items():
        skel = cmu.parse_asf(asf)
        split = "test" if subject in test_subjects else "train"
        for amc in amcs[: data.get("max_trials") or None]:
            d = cmu.load_trial_kinematics(skel, amc, fps=50.0)
            cams = cmu.cmu_cameras(d["joints"], data.num_cameras)
            out[split] += _views(d["joints"], d["rotations"], d["rest"], cams, subject, amc.stem, 50.0)
    return out


def load_data(data: ml_collections.ConfigDict) -> dict[str, list[IkSequence]]:
    """{"train": [...], "test": [...]} :class:`IkSequence` lists of ``data.name``."""
    if data.name not in IK_DATASETS:
        raise ValueError(f"data.name must be one of {IK_DATASETS}, got {data.name!r}")
    splits = _synthetic(dict(data.synthetic)) if data.name == "synthetic" else _cmu(data)
    splits = {k: _with_twists(v) for k, v in splits.items()}
    if not splits["train"] or not splits["test"]:
        raise ValueError(
            f"{data.name}: empty split (train {len(splits['train'])}, test {len(splits['test'])})"
        )
    return splits


@dataclasses.dataclass(frozen=True)
class IkData:
    name: str
    train: list[IkSequence]
    test: list[IkSequence]


# ---------------------------------------------------------------------------------- models


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
    rngs = nnx.Rngs(seed)
    j = SKELETON.num_joints
    init = model.get("init", "torch")
    tying.initializers(init, 1, "model.init")  # names the config key when the scheme is unknown
    kwargs = dict(
        filter_widths=tuple(model.filter_widths), dropout=model.dropout, strided=True, init=init, rngs=rngs
    )
    if variant.kind == "baseline":
        return TemporalModel(j * 2, j * 5, channels=variant.width, activation=variant.activation, **kwargs)
    hidden = ChiralSpec.hidden(variant.width, negated=variant.hidden == "negated")
    return ChiralTemporalModel(
        SKELETON.spec(2), output_spec(), channels=hidden, activation=variant.activation, **kwargs
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


# ---------------------------------------------------------------------------------- metrics


def _bone_lengths(x: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(x[..., c, :] - x[..., p, :], axis=-1) for p, c in BONES], axis=-1)


def _twist_angle(t: np.ndarray) -> np.ndarray:
    return np.arctan2(t[..., 1], t[..., 0])


def ik_metrics(
    joints: np.ndarray,
    twist: np.ndarray,
    true_joints: np.ndarray,
    true_twist: np.ndarray,
    true_rotations: np.ndarray,
    rest: np.ndarray,
) -> dict[str, float]:
    """IK of predicted ``joints`` (T, J, 3) and ``twist`` (T, J, 2) against the truth; errors in
    mm and degrees, summed over frames (divide by the frame count; ``"frames"`` holds it)."""
    rots = kinematics.inverse_kinematics(joints, twist, rest, PARENTS, CHILDREN)
    after = np.asarray(kinematics.forward_kinematics(rots, rest, PARENTS))
    after = after - after[:, :1] + joints[:, :1]  # FK keeps the root at rest; the lifter's is 0 too
    inner, tj = np.asarray(INNER_JOINTS), np.asarray(TWIST_JOINTS)
    geo = np.asarray(rotations.geodesic_angle(rots[:, inner], true_rotations[:, inner]))
    dphi = _twist_angle(twist[:, tj]) - _twist_angle(true_twist[:, tj])
    dphi = np.abs((dphi + np.pi) % (2 * np.pi) - np.pi)
    true_len = _bone_lengths(true_joints)
    return {
        "frames": float(len(joints)),
        "mpjpe_mm": 1000 * float(np.linalg.norm(joints - true_joints, axis=-1).mean(-1).sum()),
        "mpjpe_after_ik_mm": 1000 * float(np.linalg.norm(after - true_joints, axis=-1).mean(-1).sum()),
        "bone_length_error_mm": 1000 * float(np.abs(_bone_lengths(joints) - true_len).mean(-1).sum()),
        "bone_length_error_after_ik_mm": 1000 * float(np.abs(_bone_lengths(after) - true_len).mean(-1).sum()),
        "rotation_error_deg": float(np.degrees(geo).mean(-1).sum()),
        "twist_error_deg": float(np.degrees(dphi).mean(-1).sum()),
    }


def _average(parts: list[dict[str, float]]) -> dict[str, float]:
    frames = sum(p["frames"] for p in parts)
    keys = [k for k in parts[0] if k != "frames"]
    return {k: sum(p[k] for p in parts) / frames for k in keys}


def evaluate(
    model: nnx.Module,
    test: Sequence[IkSequence],
    config: ml_collections.ConfigDict,
    *,
    flip_average: bool = False,
) -> dict[str, Any]:
    """Predictions on whole test sequences (the dilated net, or the transformer window by window),
    IK and the metrics (see the module doc); ``flip_average``: of the test-time flip average."""
    j = SKELETON.num_joints
    flip = (SKELETON.spec(2), output_spec()) if flip_average else None
    if _arch(config.model) == "transformer":
        frames = config.model.frames
        net = runner.eval_function(model, lambda net, win: _flat(*split_outputs(net(win), j)), flip=flip)
        ev = config.get("eval", ml_collections.ConfigDict())
        kw = dict(chunk=ev.get("chunk", 16), batch_size=ev.get("batch_size", 16))

        def apply(x: Array) -> Array:
            b, chunk = x.shape[0], x.shape[1] - frames + 1
            win = jnp.stack([x[:, t : t + frames] for t in range(chunk)], axis=1)
            return net(win.reshape(b * chunk, frames, x.shape[-1])).reshape(b, chunk, -1)
    else:
        frames, kw = math.prod(config.model.filter_widths), {}
        apply = runner.eval_function(model, lambda net, x: _flat(*_apply(net, x, strided=False)), flip=flip)
    windows = PoseWindows([s.seq.pose_2d for s in test], receptive_field=frames, flatten=True)
    preds, fps = runner.predict_sequences(apply, windows, **kw)
    return {**_ik_over(test, preds), "eval_frames_per_second": fps}


def _ik_over(test: Sequence[IkSequence], preds: Sequence[np.ndarray] | None) -> dict[str, float]:
    """:func:`ik_metrics` per subject over ``preds`` ((T, J * 5) per sequence; None: the truth)."""
    j = SKELETON.num_joints
    parts = []
    for idx in _groups(test):
        if preds is None:
            joints = np.concatenate([test[i].seq.pose_3d for i in idx])
            twist = np.concatenate([test[i].twist for i in idx])
        else:
            y = np.concatenate([preds[i] for i in idx]).reshape(-1, j, 5)
            joints, twist = y[..., :3] - y[:, :1, :3], y[..., 3:]  # root-relative, as the targets
        cat = [
            np.concatenate([getattr(test[i], k) if k != "seq" else test[i].seq.pose_3d for i in idx])
            for k in ("seq", "twist", "rotations")
        ]
        parts.append(ik_metrics(joints, twist, *cat, test[idx[0]].rest))
    return _average(parts)


# ---------------------------------------------------------------------------------- the task


class IkTask(runner.Task):
    """Lifting to joints and twists, then IK (see the module docstring)."""

    name = "Twist-swing IK"
    summary_keys = (
        "mpjpe_mm",
        "mpjpe_after_ik_mm",
        "bone_length_error_mm",
        "bone_length_error_after_ik_mm",
        "rotation_error_deg",
        "twist_error_deg",
    )
    columns = (
        Column("MPJPE (mm)", "mpjpe_mm"),
        Column("MPJPE after IK (mm)", "mpjpe_after_ik_mm"),
        Column("bone length err (mm)", "bone_length_error_mm"),
        Column("rotation err (°)", "rotation_error_deg"),
        Column("twist err (°)", "twist_error_deg"),
    )
    primary_metric = "mpjpe_after_ik_mm"
    final_metrics = ("train_mpjpe_mm", "train_twist_chord")

    def load_data(self, config: ml_collections.ConfigDict) -> IkData:
        splits = load_data(config.data)
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
            return TrainingSetup(
                model,
                optax.adam(tl.inverse_sqrt_schedule(t.lr, t.warmup_steps)),
                loss_fn(t.twist_weight),
                batches,
                steps,
                t.epochs,
                bn_momentum=None,
                checkpoints_kept=max(3, config.eval.average_last),
                average_last=config.eval.average_last,
            )
        lr = decay_schedule(config.train, steps)
        return TrainingSetup(
            model, amsgrad_torch(lr), loss_fn(config.train.twist_weight), batches, steps, config.train.epochs
        )

    def evaluate(
        self,
        model: nnx.Module,
        variant: Variant,
        data: IkData,
        config: ml_collections.ConfigDict,
        *,
        flip_average: bool = False,
    ) -> dict[str, Any]:
        return evaluate(model, data.test, config, flip_average=flip_average)

    def extra_results(self, data: IkData, config: ml_collections.ConfigDict) -> dict[str, Any]:
        """IK on the true joints and twists: what the tree definition alone costs."""
        return {"oracle_ik": _ik_over(data.test, None)}

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
