"""Lift your own 2D keypoints to 3D with a trained lifter.

    python experiments/predict3d.py --checkpoint WORKDIR/<variant>/seed0 --keypoints FILE \
        [--format auto|coco17|openpose|h36m] [--image_size W,H] --out poses.npz \
        [--render out.gif|out.mp4|out.png] [--frame T] [--variant NAME] [--min_score 0.3]

``--checkpoint``: a run folder of ``experiments/lift3d.py`` (or its WORKDIR with ``--variant``).
``--keypoints``: mmpose inferencer JSON, COCO results JSON, an npz with ``keypoints`` and
``image_size``, a folder of OpenPose JSON files (BODY_25 / COCO-18), or VideoPose3D's 2D npz.
Writes ``--out`` (npz): ``poses_3d`` (T, 17, 3) root-relative metres in the camera frame,
``keypoints_2d`` (T, 17, 2) the H36M-17 pixels used (gaps filled), ``keypoints_2d_normalized``
(the net's input), ``scores``, ``filled``, ``frame_ids``, ``image_size``, ``joint_names``,
``checkpoint``, ``variant``, ``input_hash`` (sha256 of the keypoint file or folder),
``input_format``. The formats, the COCO/OpenPose -> H36M table and the normalisation:
docs/predict.md.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

from absl import app, flags

from chiral_jax.predict.keypoints import FORMATS

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Run folder WORKDIR/<variant>/seed<k> (or WORKDIR).")
_VARIANT = flags.DEFINE_string(
    "variant", None, "Variant folder under --checkpoint (e.g. chiral_plain_relu_w128)."
)
_KEYPOINTS = flags.DEFINE_string("keypoints", None, "2D keypoint file or OpenPose folder.")
_FORMAT = flags.DEFINE_enum("format", "auto", list(FORMATS), "Input format (auto: detected).")
_IMAGE_SIZE = flags.DEFINE_string("image_size", None, "W,H of the video in pixels (when the file lacks it).")
_OUT = flags.DEFINE_string("out", None, "Output npz.")
_RENDER = flags.DEFINE_string("render", None, "Also draw 2D and 3D side by side: .gif, .mp4 or .png.")
_FRAME = flags.DEFINE_integer("frame", None, "Frame of a .png rendering (default: the middle one).")
_STRIDE = flags.DEFINE_integer("render_stride", 1, "Draw every n-th frame in an animation.")
_FPS = flags.DEFINE_float("fps", 25.0, "Frame rate of the input video (for the animation).")
_MIN_SCORE = flags.DEFINE_float("min_score", 0.3, "Joints scored below this are gaps (interpolated).")
_FLIP = flags.DEFINE_bool(
    "flip_average", False, "Test-time flip averaging (a chiral net gives the same poses without it)."
)

flags.mark_flags_as_required(["checkpoint", "keypoints", "out"])


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """``"1920,1080"`` -> (1920, 1080)."""
    if text is None:
        return None
    parts = text.replace("x", ",").split(",")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise app.UsageError(f"--image_size {text!r}: expected W,H in pixels, e.g. 1920,1080") from None
    return w, h


def predict(
    checkpoint: str,
    keypoints: str,
    out: str,
    *,
    fmt: str = "auto",
    image_size: tuple[int, int] | None = None,
    variant: str | None = None,
    render: str | None = None,
    frame: int | None = None,
    render_stride: int = 1,
    fps: float = 25.0,
    min_score: float = 0.3,
    flip_average: bool = False,
) -> dict[str, object]:
    """What the command does; returns the arrays and fields written to ``out``."""
    import numpy as np

    from chiral_jax import skeletons
    from chiral_jax.predict import keypoints as kp
    from chiral_jax.predict import load_lifter

    lifter = load_lifter(checkpoint, variant)
    if lifter.skeleton.name != skeletons.H36M.name:
        raise ValueError(
            f"{lifter.run_dir} was trained on the {lifter.skeleton.name} skeleton; detector keypoints "
            "are mapped to h36m (17 joints): use a model trained on synthetic, cmu_mocap or h36m"
        )
    prepared = kp.prepare(keypoints, fmt, image_size=image_size, min_score=min_score)
    t0 = time.perf_counter()
    poses = lifter.predict(prepared.normalized, flip_average=flip_average)
    seconds = time.perf_counter() - t0
    result: dict[str, object] = {
        "poses_3d": poses.astype(np.float32),
        "keypoints_2d": prepared.pixels,
        "keypoints_2d_normalized": prepared.normalized,
        "scores": prepared.scores,
        "filled": prepared.filled,
        "frame_ids": prepared.frame_ids,
        "image_size": np.asarray(prepared.image_size),
        "joint_names": np.asarray(skeletons.H36M.joint_names),
        "checkpoint": str(lifter.checkpoint),
        "variant": lifter.metadata["variant"]["name"],
        "input_hash": kp.input_hash(keypoints),
        "input_format": prepared.fmt,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez(out, **result)
    print(
        f"{len(poses)} frames ({prepared.fmt}, {prepared.image_size[0]}x{prepared.image_size[1]}, "
        f"{int(prepared.filled.sum())} joint positions filled) -> {out} "
        f"[{lifter.metadata['variant']['name']}, epoch {lifter.epoch}; {seconds:.2f} s with compilation]"
    )
    if render:
        from chiral_jax.render import render_prediction

        written = render_prediction(
            prepared.pixels,
            poses,
            render,
            image_size=prepared.image_size,
            fps=fps,
            frame=frame,
            stride=render_stride,
            title=f"{os.path.basename(str(keypoints))} -> {lifter.metadata['variant']['name']}",
        )
        print(f"rendering -> {written}")
    return result


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # orbax logs every restore at INFO

    def show(message: Warning | str, *args: object, **kwargs: object) -> None:
        print(f"predict3d: warning: {message}", file=sys.stderr)

    warnings.showwarning = show  # one line per warning (gap filling, ffmpeg), no source lines
    try:
        predict(
            _CHECKPOINT.value,
            _KEYPOINTS.value,
            _OUT.value,
            fmt=_FORMAT.value,
            image_size=parse_image_size(_IMAGE_SIZE.value),
            variant=_VARIANT.value,
            render=_RENDER.value,
            frame=_FRAME.value,
            render_stride=_STRIDE.value,
            fps=_FPS.value,
            min_score=_MIN_SCORE.value,
            flip_average=_FLIP.value,
        )
    except (ValueError, FileNotFoundError, KeyError) as err:  # bad input: the message, not a traceback
        print(f"predict3d: error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
