"""Training a lifter for detector keypoints: motion capture seen as a COCO-17 detector would see it.

A lifter trained on a dataset's own 2D joints sees, at prediction time, joints derived from a
detector's COCO-17 points (:data:`chiral_jax.predict.keypoints.H36M_FROM`: the pelvis and thorax as
means of hips and shoulders, the head from eyes and ears, the nose for H36M's neck/nose joint),
with noise and with gaps filled by interpolation. :func:`detector_inputs` makes the training inputs
the same way from 3D poses:

1. the 17 COCO points in 3D from each H36M-17 pose (:func:`coco17_points`: limbs copied; nose, eyes
   and ears placed on the head, facing forward from the shoulders);
2. projected with the sequence's camera (pixels), Gaussian noise added (a standard deviation drawn
   per sequence from ``[0, noise_px]``);
3. joints dropped for runs of frames (occlusions) and whole frames dropped (no detection), as
   score 0;
4. :func:`~chiral_jax.predict.keypoints.to_h36m` and :func:`~chiral_jax.predict.keypoints.fill_gaps`
   (the functions ``experiments/predict3d.py`` runs), then the screen normalisation.

The 3D targets stay the dataset's own. :class:`DetectorLiftingTask` is the lifting task on such
inputs, training on the train split of ``data.name`` plus every sequence of the datasets in
``data.extra_train``, testing on ``data.name``'s test split seen through the same detector
simulation (one fixed draw). The packaged checkpoint (``--checkpoint pretrained``) is trained by::

    python -m chiral_jax.predict.training --workdir /tmp/pretrained \\
        --config experiments/configs/lift3d_pretrained.py --config.data.manual_dir /path/to/cmu_mocap

which also writes ``WORKDIR/export/``: ``model.json`` and a checkpoint of the model alone (no
optimizer state), the folder shipped as ``chiral_jax/predict/pretrained/``
(:func:`export_lifter`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np

from chiral_jax import skeletons
from chiral_jax.data.cameras import normalize_screen_coordinates, project_to_pixels
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.predict import keypoints as kp
from chiral_jax.tasks.lifting import LiftingData, LiftingTask, load_data

__all__ = [
    "DetectorLiftingTask",
    "DetectorOptions",
    "coco17_points",
    "detector_inputs",
    "detector_sequences",
    "export_lifter",
    "train_and_export",
]

_H36M = {n: i for i, n in enumerate(skeletons.H36M.joint_names)}
_COCO = kp.LAYOUTS["coco17"]

# Face points on the head, in units of the head joint's height above the neck/nose joint (s):
# (up, forward, right). Eyes and ears average to a point about half way up the head.
_FACE = {
    "nose": (0.3, 0.8, 0.0),
    "l_eye": (0.55, 0.65, -0.3),
    "r_eye": (0.55, 0.65, 0.3),
    "l_ear": (0.45, 0.0, -0.65),
    "r_ear": (0.45, 0.0, 0.65),
}


@dataclasses.dataclass(frozen=True)
class DetectorOptions:
    """How :func:`detector_inputs` imitates a COCO-17 detector (config ``data.detector``).

    Attributes:
      noise_px: the largest standard deviation of the Gaussian 2D noise, pixels; each sequence
        draws its own from ``[0, noise_px]`` (0: exact projections).
      missing_fraction: the expected fraction of (frame, COCO joint) positions missing, in runs
        (occlusions) of ``gap_frames`` frames on average.
      gap_frames: the mean length of a run of missing frames of one joint (geometric).
      missing_frames: the fraction of frames without any detection.
      copies: training copies of every sequence, each with its own draw (the test split: one).
      min_score: the score threshold of the mapping (missing joints score 0, detected ones 1).
      seed: the seed of every draw.
    """

    noise_px: float = 5.0
    missing_fraction: float = 0.1
    gap_frames: float = 5.0
    missing_frames: float = 0.02
    copies: int = 1
    min_score: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.noise_px < 0 or not 0 <= self.missing_fraction < 1 or not 0 <= self.missing_frames < 1:
            raise ValueError(
                f"data.detector: expected noise_px >= 0 and missing_fraction, missing_frames in [0, 1), "
                f"got {self.noise_px}, {self.missing_fraction}, {self.missing_frames}"
            )
        if self.gap_frames < 1 or self.copies < 1:
            raise ValueError(
                f"data.detector: expected gap_frames >= 1 and copies >= 1, got {self.gap_frames}, "
                f"{self.copies}"
            )

    @classmethod
    def from_config(cls, config: Any) -> DetectorOptions:
        fields = {f.name for f in dataclasses.fields(cls)}
        given = dict(config or {})
        unknown = sorted(set(given) - fields)
        if unknown:
            raise ValueError(f"data.detector: unknown keys {unknown}; known: {sorted(fields)}")
        return cls(**given)


def coco17_points(joints: np.ndarray) -> np.ndarray:
    """H36M-17 joints (..., 17, 3) in any right-handed frame -> the 17 COCO points (..., 17, 3).

    Shoulders, elbows, wrists, hips, knees and ankles are the H36M joints; nose, eyes and ears sit
    on the head (:data:`_FACE`): up is from the neck/nose joint to the head joint, right is from
    the left to the right shoulder (made perpendicular to up), forward is up x right.
    """
    joints = np.asarray(joints, np.float64)
    h = {n: joints[..., i, :] for n, i in _H36M.items()}
    up = h["head"] - h["neck_nose"]
    s = np.linalg.norm(up, axis=-1, keepdims=True)
    up = up / np.maximum(s, 1e-9)
    right = h["r_shoulder"] - h["l_shoulder"]
    right = right - np.sum(right * up, axis=-1, keepdims=True) * up
    right = right / np.maximum(np.linalg.norm(right, axis=-1, keepdims=True), 1e-9)
    forward = np.cross(up, right)
    limbs = {"l_ankle": "l_foot", "r_ankle": "r_foot"}
    out = np.empty((*joints.shape[:-2], 17, 3))
    for i, name in enumerate(_COCO):
        if name in _FACE:
            u, f, r = _FACE[name]
            out[..., i, :] = h["neck_nose"] + s * (u * up + f * forward + r * right)
        else:
            out[..., i, :] = h[limbs.get(name, name)]
    return out


def _missing(rng: np.random.Generator, t: int, options: DetectorOptions) -> np.ndarray:
    """(T, 17) bool: the COCO joints a detector misses (runs of frames per joint, whole frames)."""
    missing = np.zeros((t, 17), bool)
    if options.missing_fraction > 0:
        starts = rng.uniform(size=(t, 17)) < options.missing_fraction / options.gap_frames
        for frame, joint in zip(*np.nonzero(starts), strict=True):
            missing[frame : frame + rng.geometric(1.0 / options.gap_frames), joint] = True
    missing[rng.uniform(size=t) < options.missing_frames] = True
    for joint in np.nonzero(missing.all(axis=0))[0]:  # every joint is detected somewhere
        missing[rng.integers(t), joint] = False
    return missing


def detector_inputs(
    seq: PoseSequence, options: DetectorOptions, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The H36M-17 inputs ``(pixels (T, 17, 2), normalized (T, 17, 2))`` a lifter gets at prediction
    time for the COCO-17 detections of ``seq`` (see the module doc); float32."""
    cam3d = seq.pose_3d.astype(np.float64) + seq.trajectory[:, None].astype(np.float64)
    px = project_to_pixels(coco17_points(cam3d), seq.camera)
    if options.noise_px > 0:
        px = px + rng.normal(scale=rng.uniform(0.0, options.noise_px), size=px.shape)
    missing = _missing(rng, len(px), options)
    raw = kp.RawKeypoints(
        np.where(missing[..., None], 0.0, px),
        np.where(missing, 0.0, 1.0),
        "coco17",
        np.arange(len(px)),
        (seq.camera.res_w, seq.camera.res_h),
        seq.key,
        "simulated coco17",
    )
    xy, scores = kp.to_h36m(raw, options.min_score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the fill count, expected here
        xy, _ = kp.fill_gaps(xy, scores, source=seq.key)
    pixels = xy.astype(np.float32)
    normalized = normalize_screen_coordinates(pixels, seq.camera.res_w, seq.camera.res_h)
    return pixels, normalized.astype(np.float32)


def detector_sequences(
    sequences: Sequence[PoseSequence], options: DetectorOptions, *, copies: int | None = None, stream: int = 0
) -> list[PoseSequence]:
    """Every sequence with :func:`detector_inputs` for its 2D (``copies`` draws each, default
    ``options.copies``; copy k > 0 is named ``<action> #k``). Deterministic in ``options.seed``,
    ``stream`` and the sequence order; the 3D targets and trajectories are shared, not copied."""
    copies = options.copies if copies is None else copies
    out = []
    for k in range(copies):
        for n, seq in enumerate(sequences):
            rng = np.random.default_rng([options.seed, stream, k, n])
            pixels, normalized = detector_inputs(seq, options, rng)
            action = seq.action if k == 0 else f"{seq.action} #{k}"
            out.append(dataclasses.replace(seq, action=action, pose_2d_px=pixels, pose_2d=normalized))
    return out


def _dataset_config(data: ml_collections.ConfigDict, name: str) -> ml_collections.ConfigDict:
    sub = ml_collections.ConfigDict(data.to_dict())
    sub.name = name
    if name != data.name:  # an extra training set: its standard split, no filters
        sub.subjects_train, sub.subjects_test, sub.actions, sub.train_fraction = (), (), (), 1.0
    return sub


class DetectorLiftingTask(LiftingTask):
    """:class:`~chiral_jax.tasks.lifting.LiftingTask` on simulated COCO-17 detections.

    Config keys beyond the lifting task's: ``data.extra_train`` (dataset names whose every
    sequence, train and test split, is added to the training set) and ``data.detector``
    (:class:`DetectorOptions`). The test split is ``data.name``'s, one draw of the detector
    simulation (stream 1: never a training draw).
    """

    def load_data(self, config: ml_collections.ConfigDict) -> Any:
        options = DetectorOptions.from_config(config.data.get("detector"))
        train, test, skeleton = load_data(_dataset_config(config.data, config.data.name))
        names = [config.data.name]
        for name in config.data.get("extra_train", ()):
            more_train, more_test, more_skeleton = load_data(_dataset_config(config.data, name))
            if more_skeleton.name != skeleton.name:
                raise ValueError(
                    f"data.extra_train {name!r} uses the {more_skeleton.name} skeleton, "
                    f"{config.data.name!r} {skeleton.name}; expected one skeleton"
                )
            train = train + more_train + more_test
            names.append(name)
        if skeleton.name != skeletons.H36M.name:
            raise ValueError(
                f"{config.data.name}: detector inputs need the h36m skeleton, not {skeleton.name}"
            )
        train = detector_sequences(train, options, stream=0)
        test = detector_sequences(test, options, copies=1, stream=1)
        return LiftingData("+".join(names) + " (simulated coco17 detections)", train, test, skeleton)


def export_lifter(run_dir: str | os.PathLike, dest: str | os.PathLike, *, trajectory: bool = True) -> Path:
    """Writes the lifter of a training run as a folder :func:`~chiral_jax.predict.load_lifter` reads:
    ``dest/model.json`` and ``dest/checkpoints/latest/<epoch>`` holding the model's arrays only (no
    optimizer state; the config's data folders blanked; ``test_errors_mm``: the run's test MPJPE,
    P-MPJPE and trajectory error from its ``result.json``). ``trajectory=False`` drops a trajectory
    head (the pose net is kept as it is). Replaces ``dest``; returns it."""
    from flax import nnx

    from chiral_jax.predict import load_lifter
    from chiral_jax.train.checkpoint import Checkpointer

    lifter = load_lifter(run_dir)
    meta = json.loads(json.dumps(lifter.metadata))
    model = lifter.model
    if lifter.has_trajectory and not trajectory:
        model = model.pose
        meta["trajectory"] = False
        meta["output"] = meta["output"].split("; then")[0]
        meta["config"]["model"]["trajectory"] = False
    record = Path(run_dir) / "result.json"  # the runner's evaluation of this run on its test split
    if record.exists():
        found = json.loads(record.read_text())
        names = {"mpjpe": "mpjpe_mm", "p_mpjpe": "p_mpjpe_mm", "trajectory": "trajectory_mm"}
        meta["test_errors_mm"] = {
            "data": meta.get("dataset", ""),
            **{k: round(float(found[v]), 2) for k, v in names.items() if found.get(v) is not None},
        }
        if not (lifter.has_trajectory and trajectory):
            meta["test_errors_mm"].pop("trajectory", None)
    data = meta.get("config", {}).get("data", {})
    for key in ("manual_dir", "data_dir"):  # this machine's folders are not the model's
        if key in data:
            data[key] = ""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "model.json").write_text(json.dumps(meta, indent=1) + "\n")
    with Checkpointer(str(dest / "checkpoints"), keep=1, async_save=False) as ckpt:
        ckpt.save(lifter.epoch, {0: nnx.to_pure_dict(nnx.state(model))})  # training's (model, opt)[0]
    return dest


def train_and_export(config: ml_collections.ConfigDict, workdir: str) -> str:
    """Trains every variant of ``config`` on detector inputs (the shared runner: results.json /
    results.md in ``workdir``) and exports the first variant's first seed to ``workdir/export``
    (``data.export_trajectory``: keep the trajectory head). Returns the results table."""
    from chiral_jax.tasks import runner
    from chiral_jax.tasks.lifting import results_table

    task = DetectorLiftingTask(trajectory=bool(config.model.get("trajectory", False)))
    results = runner.run(task, config, workdir)
    first = results["models"][0]
    run_dir = Path(workdir) / first["name"] / f"seed{config.seed}"
    dest = export_lifter(
        run_dir, Path(workdir) / "export", trajectory=bool(config.get("export_trajectory", True))
    )
    return results_table(results) + f"\nexported {run_dir} -> {dest}\n"


if __name__ == "__main__":
    from chiral_jax.tasks.cli import run_experiment

    default = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "lift3d_pretrained.py"
    run_experiment(str(default), train_and_export)
