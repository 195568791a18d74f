"""Built-in labelled action clips for the default action-recognition run (no files needed).

The clips are the 2D views of :mod:`chiral_jax.data.synthetic`'s motions (its generator, skeleton
and cameras): one class per motion (walking, waving, punching, limping, squatting, turning), one
clip per (subject, motion, take, camera), in the H36M-17 layout, channels
``(x, y, 1)`` with (x, y) the normalised screen coordinates (the third channel plays the detection
score). Three motions are one-sided (waving and punching with the right arm, limping on the right
leg); a clip and its mirror image are the SAME action (waving with the left arm is waving), so a
clip is mirrored (x -> -x, left <-> right) with probability ``mirror_train`` (training subjects) or
``mirror_test`` (test subjects), drawn per clip from the seed. The default (0 and 1/2) trains on
right-handed clips only and tests on both hands: what a mirror-invariant net gets for free and a
plain one must learn from augmentation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from chiral_jax.data.actions import ActionClip
from chiral_jax.data.synthetic import MOTIONS, SyntheticConfig, generate
from chiral_jax.skeletons import H36M

__all__ = ["SYNTHETIC_ACTIONS", "SyntheticActionsConfig", "generate_actions"]

SYNTHETIC_ACTIONS: tuple[str, ...] = MOTIONS
_SPEC = H36M.spec(3)  # (x, y, score): x negated


@dataclasses.dataclass(frozen=True)
class SyntheticActionsConfig:
    """What :func:`generate_actions` builds.

    Attributes:
      seed: of the motions and of the mirror draws.
      num_subjects, num_test_subjects, takes, num_cameras, min_frames, max_frames, fps: as in
        :class:`~chiral_jax.data.synthetic.SyntheticConfig`.
      mirror_train, mirror_test: probability that a clip of the split is mirrored.
    """

    seed: int = 0
    num_subjects: int = 8
    num_test_subjects: int = 2
    takes: int = 2
    num_cameras: int = 4
    min_frames: int = 100
    max_frames: int = 160
    fps: float = 50.0
    mirror_train: float = 0.0
    mirror_test: float = 0.5

    def generator_config(self) -> SyntheticConfig:
        own = {"mirror_train", "mirror_test"}
        return SyntheticConfig(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in own}
        )


def generate_actions(
    config: SyntheticActionsConfig | dict[str, Any] | None = None,
) -> dict[str, list[ActionClip]]:
    """{"train": [...], "test": [...]} of (1, T, 17, 3) clips labelled by motion (deterministic)."""
    cfg = config if isinstance(config, SyntheticActionsConfig) else SyntheticActionsConfig(**(config or {}))
    sequences = generate(cfg.generator_config())
    rng = np.random.default_rng([cfg.seed, 7])
    out: dict[str, list[ActionClip]] = {}
    for split in ("train", "test"):
        p = cfg.mirror_train if split == "train" else cfg.mirror_test
        clips = []
        for seq in sequences[split]:
            motion = seq.action.split(" ")[0]
            xy = np.asarray(seq.pose_2d, np.float32)
            x = np.concatenate([xy, np.ones((*xy.shape[:2], 1), np.float32)], axis=-1)
            mirrored = rng.random() < p
            if mirrored:
                x = _SPEC.transform(x.reshape(len(x), -1)).reshape(x.shape)
            source = f"synthetic/{seq.subject}_{seq.action.replace(' ', '_')}_{seq.camera.id}" + (
                "_mirrored" if mirrored else ""
            )
            clips.append(ActionClip(x[None], MOTIONS.index(motion), motion, source))
        out[split] = clips
    return out
