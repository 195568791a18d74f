"""A deterministic synthetic lifting dataset in the Human3.6M 17-joint layout (no files needed).

A kinematic body (H36M-17 tree, per-subject bone lengths, left/right symmetric) performs motions
generated from joint-angle curves, several of them deliberately ASYMMETRIC so that mirror
augmentation and chirality matter:

==========  ====================================================================
walking      gait along a circular arc, arms counter-swinging (symmetric)
waving       standing, the RIGHT arm raised and waving (asymmetric)
punching     standing guard, the RIGHT hand punching repeatedly (asymmetric)
limping      slow gait with a stiff, short-stepping RIGHT leg (asymmetric)
squatting    repeated squats, arms forward (symmetric)
turning      stepping in place while turning about the vertical (symmetric)
==========  ====================================================================

Every sequence has root motion (translation and/or heading), feet kept on the floor, and is seen
by ``num_cameras`` H36M-like virtual cameras placed around the subject (per-subject jitter), at
50 Hz. Subjects ``S1 .. S{n}``; the last ``num_test_subjects`` form the test split. Everything is
drawn from ``numpy.random.Generator`` streams keyed by (seed, subject, motion, take), so two
builds with the same configuration are identical bit for bit.

World frame: metres, z up. Body frame (before the root's heading): x right, y forward, z up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np

from chiral_jax.data.cameras import Camera, virtual_cameras
from chiral_jax.data.sequence import PoseSequence, render
from chiral_jax.kinematics.tree import chain
from chiral_jax.rotations import axis_rotation
from chiral_jax.skeletons import H36M

__all__ = [
    "MOTIONS",
    "SyntheticConfig",
    "Take",
    "forward_kinematics",
    "generate",
    "load_synthetic",
    "motion_world",
    "rest_joints",
    "subject_bones",
    "subject_cameras",
    "takes",
]

MOTIONS = ("walking", "waving", "punching", "limping", "squatting", "turning")
PARENTS = np.asarray(H36M.parents)
J = H36M.num_joints
(
    HIP,
    R_HIP,
    R_KNEE,
    R_FOOT,
    L_HIP,
    L_KNEE,
    L_FOOT,
    SPINE,
    THORAX,
    NECK,
    HEAD,
    L_SHO,
    L_ELB,
    L_WRI,
    R_SHO,
    R_ELB,
    R_WRI,
) = range(17)


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """What :func:`generate` builds.

    Attributes:
      seed: the seed every random stream derives from.
      num_subjects: subjects ``S1 .. S{num_subjects}``.
      num_test_subjects: the last ones form the test split.
      takes: takes per (subject, motion).
      min_frames, max_frames: sequence length range (frames at ``fps``).
      num_cameras: virtual cameras around the subject.
      noise_px: standard deviation of Gaussian 2D detection noise, pixels (0: exact projections).
      fps: frame rate.
      motions: which motion types to include.
    """

    seed: int = 0
    num_subjects: int = 8
    num_test_subjects: int = 2
    takes: int = 1
    min_frames: int = 200
    max_frames: int = 300
    num_cameras: int = 4
    noise_px: float = 0.0
    fps: float = 50.0
    motions: tuple[str, ...] = MOTIONS

    def __post_init__(self) -> None:
        if not 0 < self.num_test_subjects < self.num_subjects:
            raise ValueError("SyntheticConfig: need 0 < num_test_subjects < num_subjects")
        unknown = set(self.motions) - set(MOTIONS)
        if unknown:
            raise ValueError(f"SyntheticConfig: unknown motions {sorted(unknown)}; known: {MOTIONS}")

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(f"S{i + 1}" for i in range(self.num_subjects))

    @property
    def train_subjects(self) -> tuple[str, ...]:
        return self.subjects[: self.num_subjects - self.num_test_subjects]

    @property
    def test_subjects(self) -> tuple[str, ...]:
        return self.subjects[self.num_subjects - self.num_test_subjects :]


# ----------------------------------------------------------------------------- rotations


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """(T,) angles (radians) -> (T, 3, 3) rotations about a coordinate axis."""
    return axis_rotation(axis, angle)


def rx(a: np.ndarray) -> np.ndarray:
    return _rot(0, a)


def ry(a: np.ndarray) -> np.ndarray:
    return _rot(1, a)


def rz(a: np.ndarray) -> np.ndarray:
    return _rot(2, a)


# ----------------------------------------------------------------------------- body


def subject_bones(rng: np.random.Generator) -> np.ndarray:
    """Rest offsets (17, 3) of each joint from its parent, body frame, metres; left/right mirrored."""
    s = rng.uniform(0.9, 1.1)

    def seg(length: float) -> float:
        return s * length * rng.uniform(0.94, 1.06)

    hip_w, thigh, shin = seg(0.13), seg(0.45), seg(0.44)
    spine, chest, neck, head = seg(0.23), seg(0.25), seg(0.12), seg(0.11)
    sho_w, upper, fore = seg(0.16), seg(0.28), seg(0.25)
    off = np.zeros((J, 3))
    off[R_HIP] = [hip_w, 0, 0]
    off[L_HIP] = [-hip_w, 0, 0]
    off[R_KNEE] = off[L_KNEE] = [0, 0, -thigh]
    off[R_FOOT] = off[L_FOOT] = [0, 0, -shin]
    off[SPINE] = [0, 0.01, spine]
    off[THORAX] = [0, 0.0, chest]
    off[NECK] = [0, 0.06 * s, neck]
    off[HEAD] = [0, -0.02 * s, head]
    off[R_SHO] = [sho_w, 0, -0.03 * s]
    off[L_SHO] = [-sho_w, 0, -0.03 * s]
    off[R_ELB] = off[L_ELB] = [0, 0, -upper]
    off[R_WRI] = off[L_WRI] = [0, 0, -fore]
    return off


def forward_kinematics(offsets: np.ndarray, local: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Joint positions of a tree (H36M parents): :func:`chiral_jax.kinematics.chain` in NumPy.

    Args:
      offsets: (J, 3) rest offset of each joint from its parent, in the parent's frame (the root's: 0).
      local: (T, J, 3, 3) local rotation of each joint (rotates the joint's children).
      root: (T, 3) root position.

    Returns:
      (T, J, 3) positions.
    """
    return chain(local, offsets, PARENTS, root)[1]


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, amp: float) -> np.ndarray:
    """A slow random wiggle (sum of two sinusoids) of amplitude ~``amp``."""
    out = np.zeros_like(t)
    for _ in range(2):
        f = rng.uniform(0.1, 0.5)
        out += amp / 2 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out


def motion_world(
    motion: str,
    offsets: np.ndarray,
    rng: np.random.Generator,
    num_frames: int,
    fps: float = 50.0,
    *,
    return_rotations: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """World-frame joint positions (T, 17, 3) of one take of ``motion`` (see the module docstring).

    With ``return_rotations``: ``(positions, local)``, ``local`` (T, 17, 3, 3) each joint's rotation
    relative to its parent (the root's: body frame -> world), the rotations of
    :func:`chiral_jax.kinematics.forward_kinematics` on :func:`rest_joints` ``(offsets)``.
    """
    t = np.arange(num_frames) / fps
    deg = np.deg2rad
    eye = np.broadcast_to(np.eye(3), (num_frames, J, 3, 3)).copy()
    ang = {
        k: np.zeros(num_frames)
        for k in (
            "r_hip",
            "l_hip",
            "r_knee",
            "l_knee",
            "r_sho_flex",
            "l_sho_flex",
            "r_sho_abd",
            "l_sho_abd",
            "r_elb",
            "l_elb",
            "r_elb_side",
            "lean",
            "roll",
            "twist",
            "neck",
        )
    }
    yaw0 = rng.uniform(-np.pi, np.pi)
    yaw = np.full(num_frames, yaw0)
    xy = np.zeros((num_frames, 2))
    amp = rng.uniform(0.85, 1.15)
    phase = rng.uniform(0, 2 * np.pi)

    def gait(freq: float, hip_amp: float, knee_amp: float, r_scale: float = 1.0, r_knee_scale: float = 1.0):
        ph = 2 * np.pi * freq * t + phase
        ang["r_hip"] = deg(hip_amp) * r_scale * np.sin(ph)
        ang["l_hip"] = deg(hip_amp) * np.sin(ph + np.pi)
        ang["r_knee"] = deg(knee_amp) * r_knee_scale * np.clip(np.sin(ph + 1.2), 0, None) + deg(5)
        ang["l_knee"] = deg(knee_amp) * np.clip(np.sin(ph + np.pi + 1.2), 0, None) + deg(5)
        ang["r_sho_flex"] = -deg(hip_amp * 0.8) * np.sin(ph)
        ang["l_sho_flex"] = -deg(hip_amp * 0.8) * np.sin(ph + np.pi)
        ang["r_sho_abd"] = ang["l_sho_abd"] = np.full(num_frames, deg(8))
        ang["r_elb"] = deg(15) + deg(10) * np.sin(ph) ** 2
        ang["l_elb"] = deg(15) + deg(10) * np.cos(ph) ** 2
        return ph

    def arc_path(speed: float) -> None:
        # Walk along a circle of radius 1-1.5 m centred on the origin; heading tangent to it.
        radius = rng.uniform(1.0, 1.5)
        direction = rng.choice([-1.0, 1.0])
        theta = yaw0 + direction * speed * t / radius
        xy[:] = radius * np.stack([np.cos(theta), np.sin(theta)], axis=-1)
        # Body forward is +y rotated by yaw: forward = (-sin yaw, cos yaw); tangent of the circle.
        yaw[:] = theta + (0.0 if direction > 0 else np.pi)

    if motion == "walking":
        speed = rng.uniform(0.9, 1.4)
        gait(freq=speed * 0.75 * amp, hip_amp=25 * amp, knee_amp=55 * amp)
        ang["lean"] = deg(4) + _smooth_noise(rng, t, deg(2))
        arc_path(speed)
    elif motion == "limping":
        speed = rng.uniform(0.4, 0.7)
        ph = gait(freq=0.6 * amp, hip_amp=22 * amp, knee_amp=50 * amp, r_scale=0.45, r_knee_scale=0.15)
        # Pelvis drops and the trunk leans over the sound (left) leg while the right leg swings.
        ang["roll"] = deg(7) * np.sin(ph)
        ang["lean"] = deg(8) + deg(3) * np.sin(ph) ** 2
        ang["r_sho_abd"] = deg(8) + deg(10) * np.clip(np.sin(ph), 0, None)
        arc_path(speed)
    elif motion == "turning":
        rate = rng.choice([-1.0, 1.0]) * deg(rng.uniform(60, 120))
        yaw[:] = yaw0 + rate * t
        gait(freq=1.0 * amp, hip_amp=10 * amp, knee_amp=30 * amp)
        xy[:] = rng.uniform(-0.5, 0.5, size=2) + 0.1 * np.stack([np.sin(t), np.cos(t)], -1)
    else:
        # Standing motions: stay near a random spot with a slow sway in position and heading.
        xy[:] = rng.uniform(-0.5, 0.5, size=2) + np.stack(
            [_smooth_noise(rng, t, 0.1), _smooth_noise(rng, t, 0.1)], -1
        )
        yaw[:] = yaw0 + _smooth_noise(rng, t, deg(20))
        ang["r_knee"] = ang["l_knee"] = np.full(num_frames, deg(5))
        ang["r_sho_abd"] = ang["l_sho_abd"] = np.full(num_frames, deg(8))
        ang["r_elb"] = ang["l_elb"] = np.full(num_frames, deg(15))
        if motion == "waving":
            freq = rng.uniform(1.5, 3.0)
            ang["r_sho_abd"] = deg(150 * amp) + deg(10) * np.sin(2 * np.pi * 0.3 * t)
            ang["r_elb"] = np.full(num_frames, deg(20))
            ang["r_elb_side"] = deg(30 * amp) * np.sin(2 * np.pi * freq * t + phase)
            ang["roll"] = deg(3) * np.ones(num_frames)
        elif motion == "punching":
            freq = rng.uniform(0.8, 1.6)
            # A sharp extension once per cycle, then a slower return to guard.
            cyc = (freq * t + phase / (2 * np.pi)) % 1.0
            ext = np.where(cyc < 0.25, np.sin(np.pi * cyc / 0.5), np.cos(np.pi * (cyc - 0.25) / 1.5))
            ext = np.clip(ext, 0, 1)
            ang["r_sho_flex"] = deg(45 + 45 * ext)
            ang["r_elb"] = deg(120 * (1 - ext) + 5)
            ang["r_sho_abd"] = deg(10) * (1 - ext)
            ang["twist"] = deg(-20) * ext  # the right shoulder comes forward
            ang["l_sho_flex"] = np.full(num_frames, deg(45))
            ang["l_elb"] = np.full(num_frames, deg(120))
            ang["l_sho_abd"] = np.full(num_frames, deg(10))
        elif motion == "squatting":
            freq = rng.uniform(0.3, 0.6)
            depth = 0.5 - 0.5 * np.cos(2 * np.pi * freq * t + phase)
            ang["r_hip"] = ang["l_hip"] = deg(95 * amp) * depth
            ang["r_knee"] = ang["l_knee"] = deg(120 * amp) * depth + deg(5)
            ang["lean"] = deg(35) * depth
            ang["r_sho_flex"] = ang["l_sho_flex"] = deg(30) + deg(60) * depth
        else:
            raise ValueError(f"unknown motion {motion!r}; known: {MOTIONS}")
    ang["neck"] = _smooth_noise(rng, t, deg(10))

    local = eye
    local[:, HIP] = rz(yaw) @ ry(ang["roll"])
    local[:, R_HIP] = rx(ang["r_hip"])
    local[:, L_HIP] = rx(ang["l_hip"])
    local[:, R_KNEE] = rx(-ang["r_knee"])
    local[:, L_KNEE] = rx(-ang["l_knee"])
    # The spine rotation carries the trunk (the legs hang from the hip joint, not from it).
    local[:, SPINE] = rz(ang["twist"]) @ rx(-ang["lean"]) @ ry(-ang["roll"] * 0.5)  # lean > 0: forward
    local[:, THORAX] = rz(ang["neck"] * 0.3)
    local[:, NECK] = rz(ang["neck"])
    # Arms: abduct in the frontal plane, then flex forward; right abduction is about -y.
    local[:, R_SHO] = ry(-ang["r_sho_abd"]) @ rx(ang["r_sho_flex"])
    local[:, L_SHO] = ry(ang["l_sho_abd"]) @ rx(ang["l_sho_flex"])
    local[:, R_ELB] = ry(-ang["r_elb_side"]) @ rx(ang["r_elb"])
    local[:, L_ELB] = rx(ang["l_elb"])
    root = np.concatenate([xy, np.zeros((num_frames, 1))], axis=-1)
    pos = forward_kinematics(offsets, local, root)
    # Keep the lower foot on the floor (z = 0).
    pos[..., 2] -= np.minimum(pos[:, R_FOOT, 2], pos[:, L_FOOT, 2])[:, None]
    return (pos, local) if return_rotations else pos


def rest_joints(offsets: np.ndarray) -> np.ndarray:
    """Rest joints (17, 3) of :func:`subject_bones` offsets, body frame, the root at the origin."""
    rest = np.zeros((J, 3))
    for j in range(1, J):
        rest[j] = rest[PARENTS[j]] + offsets[j]
    return rest


def subject_cameras(rng: np.random.Generator, num: int) -> list[Camera]:
    """``num`` H36M-like cameras around the capture area, jittered per subject."""
    cams = virtual_cameras(
        num,
        radius=5.5 + rng.uniform(-0.3, 0.3),
        height=1.6 + rng.uniform(-0.2, 0.2),
        target=(0.0, 0.0, 1.0),
        azimuth_offset_deg=45.0 + rng.uniform(-10, 10),
    )
    return cams


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


@dataclasses.dataclass(frozen=True)
class Take:
    """One take of one subject, before any camera sees it (what :func:`generate` renders).

    Attributes:
      split: "train" or "test".
      subject, action: the names its sequences get (``action``: ``"{motion} {take}"``).
      world: (T, 17, 3) world-frame joints, metres, z up.
      local: (T, 17, 3, 3) local joint rotations (the root's: body frame -> world).
      rest: (17, 3) the subject's rest joints (:func:`rest_joints`).
      cameras: the subject's cameras.
      noise_rngs: one 2D-noise stream per camera.
    """

    split: str
    subject: str
    action: str
    world: np.ndarray
    local: np.ndarray
    rest: np.ndarray
    cameras: list[Camera]
    noise_rngs: list[np.random.Generator]


def takes(config: SyntheticConfig | None = None) -> Iterator[Take]:
    """The takes of ``config`` in :func:`generate`'s order, with their joint rotations (the same
    random streams, so the same bodies and motions)."""
    cfg = config or SyntheticConfig()
    for si, subject in enumerate(cfg.subjects):
        split = "test" if subject in cfg.test_subjects else "train"
        srng = _stream(cfg.seed, si, 0, 0, 0)
        offsets = subject_bones(srng)
        cams = subject_cameras(srng, cfg.num_cameras)
        rest = rest_joints(offsets)
        for motion in cfg.motions:
            mi = MOTIONS.index(motion)
            for take in range(cfg.takes):
                rng = _stream(cfg.seed, si, mi + 1, take, 1)
                n = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
                world, local = motion_world(motion, offsets, rng, n, cfg.fps, return_rotations=True)
                rngs = [_stream(cfg.seed, si, mi + 1, take, 2 + ci) for ci in range(len(cams))]
                yield Take(split, subject, f"{motion} {take + 1}", world, local, rest, cams, rngs)


def generate(config: SyntheticConfig | None = None) -> dict[str, list[PoseSequence]]:
    """Builds the dataset: {"train": [...], "test": [...]} lists of :class:`PoseSequence`.

    One sequence per (subject, motion, take, camera); actions are named ``"{motion} {take}"``.
    """
    cfg = config or SyntheticConfig()
    out: dict[str, list[PoseSequence]] = {"train": [], "test": []}
    for t in takes(cfg):
        for cam, nrng in zip(t.cameras, t.noise_rngs, strict=True):
            out[t.split].append(
                render(
                    t.world,
                    cam,
                    subject=t.subject,
                    action=t.action,
                    fps=cfg.fps,
                    noise_px=cfg.noise_px,
                    rng=nrng,
                )
            )
    return out


def load_synthetic(
    split: str | None = None, *, subjects: Sequence[str] | None = None, **config: object
) -> list[PoseSequence] | dict[str, list[PoseSequence]]:
    """Convenience: :func:`generate` with ``SyntheticConfig(**config)``.

    Returns one split's list when ``split`` is given ("train" / "test"), else the dict; optionally
    keeps only ``subjects``.
    """
    data = generate(SyntheticConfig(**config))  # type: ignore[arg-type]
    if subjects is not None:
        keep = set(subjects)
        data = {k: [s for s in v if s.subject in keep] for k, v in data.items()}
    if split is None:
        return data
    if split not in data:
        raise KeyError(f"unknown split {split!r}; splits: {sorted(data)}")
    return data[split]
