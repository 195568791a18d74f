"""Synthetic periodic motion in the Penn Action 2D layout (13 joints x (x, y)), for forecasting tests.

Each sequence is a stick figure whose limbs swing sinusoidally: one frequency per sequence, the
arms and legs of the two sides with their own amplitudes and phases (left/right asymmetric, not
just anti-phase), a swaying torso, a drift and a random placement and size. The motion is exactly
periodic apart from the drift and optional noise, so a forecaster that reads the frequency and
phase from the observed frames can predict the future; a constant pose cannot.

numpy only; deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

from chiral_jax.skeletons import PENN_ACTION

__all__ = ["periodic_motion"]

_J = {name: i for i, name in enumerate(PENN_ACTION.joint_names)}


def _limb(start: np.ndarray, angle: np.ndarray, length: float | np.ndarray) -> np.ndarray:
    """End point of a segment of ``length`` from ``start`` (..., 2) at ``angle`` (from straight down)."""
    return start + np.stack([np.sin(angle), -np.cos(angle)], axis=-1) * np.asarray(length)[..., None]


def periodic_motion(
    num_sequences: int,
    frames: int,
    *,
    seed: int = 0,
    noise: float = 0.0,
    dtype: type = np.float32,
) -> np.ndarray:
    """Random periodic Penn Action pose sequences.

    Args:
      num_sequences: sequences to draw.
      frames: frames per sequence.
      seed: numpy seed.
      noise: std of i.i.d. Gaussian noise added to every coordinate (in units of the torso length).
      dtype: output dtype.

    Returns:
      ``(num_sequences, frames, 26)``: joint-major ``(x, y)`` per Penn Action joint, y up, the
      torso about 1 unit long (times a random size in [0.8, 1.2]).
    """
    if num_sequences < 1 or frames < 1:
        raise ValueError(f"periodic_motion: need num_sequences, frames >= 1, got {num_sequences}, {frames}")
    rng = np.random.default_rng(seed)
    n = num_sequences
    t = np.arange(frames, dtype=np.float64)[None, :]  # (1, T)

    def draw(lo: float, hi: float, shape: tuple[int, ...] = (n, 1)) -> np.ndarray:
        return rng.uniform(lo, hi, shape)

    omega = 2.0 * np.pi * draw(1.0 / 24.0, 1.0 / 8.0)  # periods of 8 to 24 frames
    phase = draw(0.0, 2.0 * np.pi)
    wave = omega * t + phase  # (n, T)
    size = draw(0.8, 1.2)
    # Per side: swing amplitude and phase offset of arm (upper, fore) and leg (thigh, shin).
    amp = {k: draw(lo, hi, (n, 1, 2)) for k, lo, hi in (("arm", 0.2, 0.9), ("leg", 0.2, 0.7))}
    offset = draw(-0.6, 0.6, (n, 1, 2))
    side_phase = np.stack([np.zeros_like(offset[..., 0]), np.pi + offset[..., 1]], axis=-1)  # L, R
    swing = wave[..., None] + side_phase  # (n, T, 2)

    pelvis = np.zeros((n, frames, 2))
    pelvis[..., 0] = draw(-0.5, 0.5) + draw(-0.01, 0.01) * t
    pelvis[..., 1] = draw(-0.5, 0.5) + 0.05 * np.cos(2.0 * wave)  # bob twice a cycle
    lean = 0.1 * np.sin(wave + draw(0.0, 2.0 * np.pi))
    up = np.stack([np.sin(lean), np.cos(lean)], axis=-1)  # torso direction (n, T, 2)
    across = np.stack([up[..., 1], -up[..., 0]], axis=-1)  # towards +x (the figure's left here)
    neck = pelvis + up * size[..., None]
    poses = np.zeros((n, frames, PENN_ACTION.num_joints, 2))
    poses[:, :, _J["head"]] = neck + up * 0.3 * size[..., None]
    for s, side in enumerate(("l", "r")):
        sign = 1.0 if side == "l" else -1.0
        shoulder = neck + sign * across * 0.25 * size[..., None]
        hip = pelvis + sign * across * 0.15 * size[..., None]
        arm = amp["arm"][..., s] * np.sin(swing[..., s])
        elbow = _limb(shoulder, arm, 0.45 * size)
        wrist = _limb(elbow, arm + 0.4 + 0.5 * amp["arm"][..., s] * np.sin(swing[..., s] + 1.0), 0.4 * size)
        leg = amp["leg"][..., s] * np.sin(swing[..., s] + np.pi)
        knee = _limb(hip, leg, 0.5 * size)
        ankle = _limb(knee, leg - 0.3 - 0.4 * np.maximum(np.sin(swing[..., s] + 0.5), 0.0), 0.5 * size)
        for name, value in (
            ("shoulder", shoulder),
            ("elbow", elbow),
            ("wrist", wrist),
            ("hip", hip),
            ("knee", knee),
            ("ankle", ankle),
        ):
            poses[:, :, _J[f"{side}_{name}"]] = value
    out = poses.reshape(n, frames, -1)
    if noise:
        out = out + noise * rng.standard_normal(out.shape)
    return out.astype(dtype)
