"""The IK task's data: pose sequences with their joint rotations, through the registry and TFDS.

Two registry datasets carry kinematics: ``synthetic_ik`` (the synthetic generator's takes with
the joint rotations it posed them with, :func:`~chiral_jax.data.synthetic.takes`) and
``cmu_mocap_ik`` (the AMC rotations of CMU trials,
:func:`~chiral_jax.data.cmu_rotations.load_trial_kinematics`). Their readers return
:class:`IkSequence` records, one per (subject, action, camera): the 2D/3D sequence as the lifting
sets store it, plus the local rotations in that camera's frame and the subject's rest joints; the
builders store those as examples. :func:`load_ik_splits` reads a build back and computes the twist
targets (:func:`~chiral_jax.kinematics.twist_angles` about ``H36M.twist_children``).

This module imports TFDS only inside :func:`load_ik_splits` (the registry imports the readers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chiral_jax import kinematics, skeletons
from chiral_jax.data import cmu_mocap as cmu
from chiral_jax.data import synthetic as syn
from chiral_jax.data.cameras import Camera
from chiral_jax.data.sequence import PoseSequence, render

if TYPE_CHECKING:
    import ml_collections

__all__ = [
    "IK_DATASETS",
    "CmuIkOptions",
    "IkData",
    "IkSequence",
    "generate_synthetic_ik",
    "load_cmu_mocap_ik",
    "load_ik_splits",
    "with_twists",
]

SKELETON = skeletons.H36M
PARENTS = SKELETON.parents
CHILDREN = SKELETON.twist_children
IK_DATASETS = ("synthetic", "cmu_mocap")
"""``data.name`` values; each reads the registry dataset ``{name}_ik``."""


@dataclasses.dataclass(eq=False)
class IkSequence:
    """One take seen by one camera, with its kinematics.

    Attributes:
      seq: 2D inputs and root-relative camera-frame 3D joints (``seq.pose_3d``, (T, J, 3)).
      rotations: (T, J, 3, 3) float32 local joint rotations (the root's: rest frame -> camera frame).
      twist: (T, J, 2) (cos, sin) of each joint's twist about its twist child (None until
        :func:`with_twists` fills it in).
      rest: (J, 3) float32 the subject's rest joints (root at the origin).
    """

    seq: PoseSequence
    rotations: np.ndarray
    twist: np.ndarray | None
    rest: np.ndarray

    @property
    def key(self) -> str:
        return self.seq.key

    @property
    def targets(self) -> np.ndarray:
        """(T, J * 5) joints and twists, joint-major ``(x, y, z, cos, sin)``."""
        t = np.concatenate([self.seq.pose_3d, self.twist], axis=-1)
        return t.reshape(len(t), -1).astype(np.float32)

    def to_example(self) -> dict[str, Any]:
        """The TFDS example: the sequence's features plus ``rotations`` and ``rest``."""
        return {**self.seq.to_example(), "rotations": self.rotations, "rest": self.rest}

    @classmethod
    def from_example(cls, example: dict[str, Any]) -> IkSequence:
        """The record stored as a TFDS example (no twist yet; :func:`with_twists`)."""
        rot, rest = (np.asarray(example[k], np.float32) for k in ("rotations", "rest"))
        return cls(PoseSequence.from_example(example), rot, None, rest)


@dataclasses.dataclass(frozen=True)
class IkData:
    """A dataset's train and test :class:`IkSequence` lists (twists filled in)."""

    name: str
    train: list[IkSequence]
    test: list[IkSequence]


def _locals(glob: np.ndarray) -> np.ndarray:
    """Global (T, J, 3, 3) -> local rotations ``G_parent^T G_j`` (the root's stays global)."""
    par = np.asarray(PARENTS)
    out = glob.copy()
    out[:, 1:] = np.swapaxes(glob[:, par[1:]], -1, -2) @ glob[:, 1:]
    return out


def _view(world: np.ndarray, glob: np.ndarray, rest: np.ndarray, cam: Camera, **render_kw: Any) -> IkSequence:
    """``world`` (T, J, 3) and global rotations ``glob`` (T, J, 3, 3), world frame, seen by ``cam``."""
    seq = render(world, cam, **render_kw)
    local = _locals(np.einsum("ab,tjbc->tjac", cam.R, glob)).astype(np.float32)
    return IkSequence(seq, local, None, rest.astype(np.float32))


def generate_synthetic_ik(config: syn.SyntheticConfig | None = None) -> dict[str, list[IkSequence]]:
    """The synthetic set of ``config`` with its joint rotations: {"train": [...], "test": [...]}
    :class:`IkSequence` lists whose sequences are :func:`~chiral_jax.data.synthetic.generate`'s."""
    cfg = config or syn.SyntheticConfig()
    out: dict[str, list[IkSequence]] = {"train": [], "test": []}
    for t in syn.takes(cfg):
        glob = np.asarray(kinematics.global_rotations(t.local, PARENTS), np.float64)
        for cam, rng in zip(t.cameras, t.noise_rngs, strict=True):
            kw = dict(subject=t.subject, action=t.action, fps=cfg.fps, noise_px=cfg.noise_px, rng=rng)
            out[t.split].append(_view(t.world, glob, t.rest, cam, **kw))
    return out


@dataclasses.dataclass(frozen=True)
class CmuIkOptions:
    """Options of the ``cmu_mocap_ik`` build (its builder configs, like the synthetic options).

    Attributes:
      num_cameras: virtual cameras around each trial.
    """

    num_cameras: int = 4


def load_cmu_mocap_ik(
    root_dir: str | Path, *, test_subjects: Sequence[str] = ("03",), num_cameras: int = 4, fps: float = 50.0
) -> dict[str, list[IkSequence]]:
    """Every trial under ``root_dir`` (CMU subject folders) with its AMC rotations, at ``fps`` (nearest
    frames): {"train": [...], "test": [...]} :class:`IkSequence` lists; ``action`` is the trial name."""
    out: dict[str, list[IkSequence]] = {"train": [], "test": []}
    for subject, (asf, amcs) in cmu.find_trials(root_dir).items():
        skel = cmu.parse_asf(asf)
        split = "test" if subject in test_subjects else "train"
        for amc in amcs:
            d = cmu.load_trial_kinematics(skel, amc, fps=fps)
            for cam in cmu.cmu_cameras(d["joints"], num_cameras):
                kw = dict(subject=subject, action=amc.stem, fps=fps)
                out[split].append(_view(d["joints"], d["rotations"], d["rest"], cam, **kw))
    return out


def with_twists(seqs: list[IkSequence]) -> list[IkSequence]:
    """Fills in each sequence's twist targets (T, J, 2) from its rotations, one
    :func:`~chiral_jax.kinematics.twist_angles` call per take (its camera views share frame count
    and rest joints)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, s in enumerate(seqs):
        groups.setdefault((s.seq.subject, s.seq.action), []).append(i)
    for idx in groups.values():
        local = np.concatenate([seqs[i].rotations for i in idx])
        twist = np.asarray(kinematics.twist_angles(local, seqs[idx[0]].rest, PARENTS, CHILDREN))
        ends = np.cumsum([len(seqs[i].rotations) for i in idx])[:-1]
        for i, t in zip(idx, np.split(twist, ends), strict=True):
            seqs[i].twist = t
    return seqs


def _first_trials(seqs: list[IkSequence], n: int) -> list[IkSequence]:
    """The sequences of each subject's first ``n`` trials (in the reader's order)."""
    kept: dict[str, list[str]] = {}
    for s in seqs:
        trials = kept.setdefault(s.seq.subject, [])
        if s.seq.action not in trials and len(trials) < n:
            trials.append(s.seq.action)
    return [s for s in seqs if s.seq.action in kept[s.seq.subject]]


def load_ik_splits(data: ml_collections.ConfigDict) -> dict[str, list[IkSequence]]:
    """{"train": [...], "test": [...]} :class:`IkSequence` lists (twists filled in) of ``data.name``.

    Read from the TFDS build of ``{data.name}_ik`` in ``data.data_dir`` (TFDS's default when empty),
    built on first use. Keys: ``name`` (synthetic | cmu_mocap), ``synthetic`` (generator options),
    ``manual_dir`` (cmu_mocap: the CMU subject folders), ``num_cameras`` (cmu_mocap),
    ``subjects_train`` / ``subjects_test`` (cmu_mocap; empty: every subject, test ``("03",)``) and
    ``max_trials`` (cmu_mocap: trials per subject, 0: all).
    """
    from chiral_jax.data.build_cache import load_splits

    if data.name not in IK_DATASETS:
        raise ValueError(f"data.name must be one of {IK_DATASETS}, got {data.name!r}")
    real = data.name == "cmu_mocap"
    splits = load_splits(
        f"{data.name}_ik",
        manual_dir=(data.get("manual_dir") or None) if real else None,
        data_dir=data.get("data_dir") or None,
        synthetic={"num_cameras": data.get("num_cameras", 4)} if real else dict(data.get("synthetic", {})),
        manual_dir_key="--config.data.manual_dir",
    )
    if real:  # one build of every subject and trial; the config's choice is made here
        every = splits["train"] + splits["test"]
        train_subjects, test_subjects = (tuple(data.get(k, ())) for k in ("subjects_train", "subjects_test"))
        subjects = train_subjects + test_subjects
        test_subjects = test_subjects or ("03",)
        if subjects:
            every = [s for s in every if s.seq.subject in subjects]
        if data.get("max_trials"):
            every = _first_trials(every, data.max_trials)
        splits = {
            "train": [s for s in every if s.seq.subject not in test_subjects],
            "test": [s for s in every if s.seq.subject in test_subjects],
        }
    splits = {k: with_twists(v) for k, v in splits.items()}
    if not splits["train"] or not splits["test"]:
        raise ValueError(
            f"{data.name}: empty split (train {len(splits['train'])}, test {len(splits['test'])})"
        )
    return splits
