"""Detector-like COCO-17 output from H36M-17 pixels, for demos and tests (no detector needed).

:func:`coco17_from_h36m` places the COCO points a detector reports (eyes and ears around the H36M
head, nose at the H36M nose joint, limbs copied) so that :data:`~chiral_jax.predict.keypoints.H36M_FROM`
maps them back to the same limbs and head; :func:`mmpose_records` adds detector-like noise, scores,
low-score joints and frames without a detection and returns mmpose inferencer records;
:func:`mirror_records` mirrors them about the image's vertical centre line (x -> W - x, left and
right swapped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chiral_jax import skeletons
from chiral_jax.predict.keypoints import LAYOUTS

__all__ = ["coco17_from_h36m", "mirror_records", "mmpose_records"]

_COCO = LAYOUTS["coco17"]
_H36M = skeletons.H36M


def coco17_from_h36m(pixels: np.ndarray) -> np.ndarray:
    """(T, 17, 2) H36M-17 pixels -> (T, 17, 2) COCO-17 pixels."""
    h = {n: pixels[:, i] for i, n in enumerate(_H36M.joint_names)}
    up = h["head"] - h["neck_nose"]
    side = np.stack([up[:, 1], -up[:, 0]], axis=-1) * 0.25  # perpendicular, a quarter head length
    out = np.zeros((len(pixels), 17, 2))
    points = {
        "nose": h["neck_nose"],
        "l_eye": h["head"] + side,
        "r_eye": h["head"] - side,
        "l_ear": h["head"] + 2 * side,
        "r_ear": h["head"] - 2 * side,
        "l_ankle": h["l_foot"],
        "r_ankle": h["r_foot"],
    }
    for i, name in enumerate(_COCO):
        out[:, i] = points[name] if name in points else h[name]
    return out


def mmpose_records(
    pixels: np.ndarray,
    *,
    noise_px: float = 2.0,
    missing_frames: Sequence[int] = (),
    low_score_fraction: float = 0.02,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """mmpose inferencer records of H36M-17 pixels (T, 17, 2) as a COCO-17 detector would give them.

    Gaussian noise of ``noise_px`` pixels, keypoint scores in [0.6, 0.95], a ``low_score_fraction``
    of joints scored 0.1 (occluded: filled by interpolation), no record for ``missing_frames``
    (nobody detected), and a second, less confident person (a bystander) in every frame.
    """
    rng = np.random.default_rng(seed)
    coco = coco17_from_h36m(np.asarray(pixels, np.float64))
    records = []
    for t in range(len(coco)):
        if t in set(missing_frames):
            continue
        kp = coco[t] + rng.normal(0.0, noise_px, coco[t].shape)
        scores = rng.uniform(0.6, 0.95, 17)
        scores[rng.uniform(size=17) < low_score_fraction] = 0.1
        bystander = kp * 0.5 + 20.0
        records.append(
            {
                "frame_id": t,
                "instances": [
                    {"keypoints": np.round(bystander, 2).tolist(), "keypoint_scores": [0.3] * 17},
                    {"keypoints": np.round(kp, 2).tolist(), "keypoint_scores": np.round(scores, 3).tolist()},
                ],
            }
        )
    return records


_SWAP = [_COCO.index(n.replace("l_", "#").replace("r_", "l_").replace("#", "r_")) for n in _COCO]


def mirror_records(records: list[dict[str, Any]], width: int) -> list[dict[str, Any]]:
    """The records of the mirrored video: x -> ``width`` - x, left and right joints swapped."""
    out = []
    for rec in records:
        instances = []
        for inst in rec["instances"]:
            kp = np.asarray(inst["keypoints"], np.float64)[_SWAP]
            kp[:, 0] = width - kp[:, 0]
            scores = np.asarray(inst["keypoint_scores"])[_SWAP]
            instances.append({"keypoints": kp.tolist(), "keypoint_scores": scores.tolist()})
        out.append({"frame_id": rec["frame_id"], "instances": instances})
    return out
