"""Lift your own 2D keypoints to 3D with a trained lifter.

    python experiments/predict3d.py --checkpoint WORKDIR/<variant>/seed0 --keypoints FILE \\
        [--format auto|coco17|openpose|h36m] [--image_size W,H] --out poses.npz \\
        [--render out.gif|out.mp4|out.png] [--frame T] [--variant NAME] [--min_score 0.3]

``--checkpoint``: a run folder of ``experiments/lift3d.py`` (or its WORKDIR with ``--variant``), or
``pretrained``: the small chiral lifter shipped in the package (COCO-17 detections, trained on CMU
motion capture and the synthetic set; with a trajectory head).
``--keypoints``: mmpose inferencer JSON, COCO results JSON, an npz with ``keypoints`` and
``image_size``, a folder of OpenPose JSON files (BODY_25 / COCO-18), or VideoPose3D's 2D npz.
Writes ``--out`` (npz): ``poses_3d`` (T, 17, 3) root-relative metres in the camera frame,
``keypoints_2d`` (T, 17, 2) the H36M-17 pixels used (gaps filled), ``keypoints_2d_normalized``
(the net's input), ``scores``, ``filled``, ``frame_ids``, ``image_size``, ``joint_names``,
``checkpoint``, ``variant``, ``input_hash`` (sha256 of the keypoint file or folder),
``input_format``, ``tracks_3d`` (P, T, 17, 3) and ``track_frames`` (P, T) bool (one person: P = 1).
A checkpoint with a trajectory head (``lift3d.py --config.model.trajectory=True``) adds
``trajectory`` (T, 3), the root's camera-frame position in metres, and ``poses_3d_camera``
(T, 17, 3) = ``poses_3d + trajectory`` (of ``poses_3d``'s person).
``--people all`` (or N: the N longest tracks) links the detections of every frame into tracks
(chiral_jax.predict.tracking), lifts each and draws them all; ``poses_3d`` is then the longest
track (NaN in the frames without it, as every track). ``--bvh out.bvh`` writes the poses as a BVH
animation (chiral_jax.predict.bvh; centimetres, Frame Time 1 / --fps), one file per person:
out.bvh, out_1.bvh, ... The formats, the COCO/OpenPose -> H36M table and the normalisation:
docs/predict.md.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

from absl import flags

from chiral_jax.predict.keypoints import FORMATS, OUTSIDE_MARGIN
from chiral_jax.tasks.cli import UsageError, flags_help, parse_flags, report_user_errors

_CHECKPOINT = flags.DEFINE_string(
    "checkpoint",
    None,
    "Run folder WORKDIR/<variant>/seed<k> (or WORKDIR), or 'pretrained' (the packaged lifter).",
)
_VARIANT = flags.DEFINE_string(
    "variant", None, "Variant folder under --checkpoint (e.g. chiral_plain_relu_w128)."
)
_KEYPOINTS = flags.DEFINE_string("keypoints", None, "2D keypoint file or OpenPose folder.")
_FORMAT = flags.DEFINE_enum("format", "auto", list(FORMATS), "Input format (auto: detected).")
_IMAGE_SIZE = flags.DEFINE_string(
    "image_size", None, "W,H of the video in pixels (required when the file does not store it)."
)
_ALLOW_OUTSIDE = flags.DEFINE_bool(
    "allow_outside_image",
    False,
    f"Lift keypoints that reach beyond --image_size by over {OUTSIDE_MARGIN:.0%} (warn, do not stop).",
)
_OUT = flags.DEFINE_string("out", None, "Output npz.")
_RENDER = flags.DEFINE_string("render", None, "Also draw 2D and 3D side by side: .gif, .mp4 or .png.")
_FRAME = flags.DEFINE_integer("frame", None, "Frame of a .png rendering (default: the middle one).")
_STRIDE = flags.DEFINE_integer("render_stride", 1, "Draw every n-th frame in an animation.")
_FPS = flags.DEFINE_float("fps", 25.0, "Frame rate of the input video (animation speed, BVH frame time).")
_MIN_SCORE = flags.DEFINE_float("min_score", 0.3, "Joints scored below this are gaps (interpolated).")
_FLIP = flags.DEFINE_bool(
    "flip_average", False, "Test-time flip averaging (a chiral net gives the same poses without it)."
)
_PEOPLE = flags.DEFINE_string(
    "people", "1", "1: the most confident person of each frame; all: every tracked person; N: the N longest."
)
_BVH = flags.DEFINE_string("bvh", None, "Also write a BVH animation (per person: out.bvh, out_1.bvh, ...).")

_VERBOSE = flags.DEFINE_bool("verbose", False, "Show the traceback of an input error.")
_OWN = (
    _CHECKPOINT, _VARIANT, _KEYPOINTS, _FORMAT, _IMAGE_SIZE, _ALLOW_OUTSIDE, _OUT, _RENDER, _FRAME,
    _STRIDE, _FPS, _MIN_SCORE, _FLIP, _PEOPLE, _BVH, _VERBOSE,
)  # fmt: skip
_REQUIRED = ("checkpoint", "keypoints", "out")


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """``"1920,1080"`` -> (1920, 1080)."""
    if text is None:
        return None
    parts = text.replace("x", ",").split(",")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--image_size {text!r}: expected W,H in pixels, e.g. 1920,1080") from None
    if w <= 0 or h <= 0:
        raise UsageError(f"--image_size {text!r}: expected positive W,H in pixels, e.g. 1920,1080")
    return w, h


def parse_people(text: str | int | None) -> int | None:
    """``--people``: ``"1"`` -> 1 (the most confident person a frame), ``"all"`` -> None, ``"N"`` -> N."""
    if text is None or str(text).strip().lower() == "all":
        return None
    try:
        n = int(str(text))
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError(f"--people {text!r}: expected 1, all, or a number N >= 1 (the N longest tracks)")
    return n


def bvh_paths(path: str, count: int) -> list[str]:
    """``out.bvh`` for the first person, ``out_1.bvh``, ``out_2.bvh``, ... for the others."""
    stem, ext = os.path.splitext(path)
    ext = ext or ".bvh"
    return [stem + ext] + [f"{stem}_{k}{ext}" for k in range(1, count)]


def _prepare_tracks(
    keypoints: str, fmt: str, people: int | None, **prepare_options: object
) -> tuple[object, list[tuple[object, object]]]:
    """Reads the detections, links them into tracks and prepares each (longest first): ``(raw,
    [(track, prepared), ...])``, at most ``people`` of them (None: all). A track that cannot be
    lifted (a joint never detected in it) is left out with a warning."""
    from chiral_jax.predict import keypoints as kp
    from chiral_jax.predict import tracking

    raw = kp.read_keypoints(keypoints, fmt)
    min_score = float(prepare_options.get("min_score", 0.3))
    kept: list[tuple[object, object]] = []
    for track in tracking.track_people(raw, min_score=min_score):
        if people is not None and len(kept) == people:
            break
        try:
            prepared = kp.prepare_raw(tracking.track_keypoints(raw, track, len(kept)), **prepare_options)
        except kp.KeypointError as err:
            if "never detected" not in str(err):
                raise
            first, last = raw.frame_ids[track.first], raw.frame_ids[track.last]
            message = f"a track of {len(track)} detections (frames {first}..{last}) is not lifted: {err}"
            warnings.warn(message, UserWarning, stacklevel=2)
            continue
        kept.append((track, prepared))
    if not kept:
        raise kp.KeypointError(
            f"{raw.source}: no person to lift; expected detections with at least 3 joints scored >= "
            f"--min_score {min_score} and every joint detected in some frame"
        )
    return raw, kept


def _lift_tracks(lifter: object, tracked: tuple[object, list], flip_average: bool) -> tuple:
    """Lifts every prepared track: ``(prepared of the first, spread over all frames; tracks_2d (P, T,
    17, 2); tracks_3d (P, T, 17, 3); track_frames (P, T))``, NaN outside each track's frames."""
    import dataclasses

    import numpy as np

    from chiral_jax.predict.tracking import spread

    raw, kept = tracked
    t = len(raw.frame_ids)
    tracks_2d, tracks_3d, frames = [], [], []
    for track, prepared in kept:
        # Edge-padded to all T frames: one compiled shape for every track, and the same poses on the
        # track's frames (the net sees a sequence's edge frames repeated beyond it either way).
        n = len(prepared.normalized)
        x = np.pad(prepared.normalized, ((track.first, t - track.first - n), (0, 0), (0, 0)), mode="edge")
        poses = lifter.predict(x, flip_average=flip_average)[track.first : track.first + n]
        tracks_2d.append(spread(prepared.pixels, track.first, t))
        tracks_3d.append(spread(poses.astype(np.float32), track.first, t))
        frames.append(spread(np.ones(len(poses), bool), track.first, t, False))
    track0, first = kept[0]
    first = dataclasses.replace(
        first,
        pixels=tracks_2d[0],
        normalized=spread(first.normalized, track0.first, t),
        scores=spread(first.scores, track0.first, t, 0.0),
        filled=spread(first.filled, track0.first, t, False),
        frame_ids=raw.frame_ids,
    )
    return first, np.stack(tracks_2d), np.stack(tracks_3d), np.stack(frames)


def _longest_track_trajectory(lifter: object, tracked: tuple[object, list], flip_average: bool) -> object:
    """The trajectory head's root positions (T, 3) of the first (longest) track, NaN outside its
    frames (as ``poses_3d``); None without a head."""
    if not lifter.has_trajectory:
        return None
    from chiral_jax.predict.tracking import spread

    raw, kept = tracked
    track, prepared = kept[0]
    _, root = lifter.predict_with_trajectory(prepared.normalized, flip_average=flip_average)
    return spread(root, track.first, len(raw.frame_ids))


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
    people: int | None = 1,
    bvh: str | None = None,
    allow_outside_image: bool = False,
) -> dict[str, object]:
    """What the command does; returns the arrays and fields written to ``out``."""
    import numpy as np

    from chiral_jax import skeletons
    from chiral_jax.predict import keypoints as kp
    from chiral_jax.predict import load_lifter

    # The keypoints first: a mistake in them shows before the checkpoint is restored.
    options = dict(image_size=image_size, min_score=min_score, allow_outside_image=allow_outside_image)
    if people == 1:
        prepared = kp.prepare(keypoints, fmt, **options)
    else:  # several people: tracks, each prepared alone
        tracked = _prepare_tracks(keypoints, fmt, people, **options)
    lifter = load_lifter(checkpoint, variant)
    if lifter.skeleton.name != skeletons.H36M.name:
        raise ValueError(
            f"{lifter.run_dir} was trained on the {lifter.skeleton.name} skeleton; detector keypoints "
            "are mapped to h36m (17 joints): use a model trained on synthetic, cmu_mocap or h36m"
        )
    t0 = time.perf_counter()
    if people == 1:
        poses, trajectory = lifter.predict_with_trajectory(prepared.normalized, flip_average=flip_average)
        tracks_2d, tracks_3d = prepared.pixels[None], poses[None].astype(np.float32)
        track_frames = np.ones((1, len(poses)), bool)
    else:
        prepared, tracks_2d, tracks_3d, track_frames = _lift_tracks(lifter, tracked, flip_average)
        poses, trajectory = tracks_3d[0], _longest_track_trajectory(lifter, tracked, flip_average)
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
        "tracks_3d": tracks_3d,
        "track_frames": track_frames,
        "tracks_2d": tracks_2d.astype(np.float32),
    }
    if trajectory is not None:  # a trajectory head: the root's camera-frame position, and the pose there
        result["trajectory"] = trajectory.astype(np.float32)
        result["poses_3d_camera"] = (poses + trajectory[:, None]).astype(np.float32)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez(out, **result)
    print(
        f"{len(poses)} frames ({prepared.fmt}, {prepared.image_size[0]}x{prepared.image_size[1]}, "
        f"{int(prepared.filled.sum())} joint positions filled) -> {out} "
        f"[{lifter.metadata['variant']['name']}, epoch {lifter.epoch}; {seconds:.2f} s with compilation]"
    )
    if people != 1:
        for k, frames in enumerate(track_frames):
            rows = np.where(frames)[0]
            ids = prepared.frame_ids
            print(f"person {k}: frames {ids[rows[0]]}..{ids[rows[-1]]} ({len(rows)} frames lifted)")
    if render:
        from chiral_jax.render import render_prediction

        written = render_prediction(
            prepared.pixels if people == 1 else tracks_2d,
            poses if people == 1 else tracks_3d,
            render,
            image_size=prepared.image_size,
            fps=fps,
            frame=frame,
            stride=render_stride,
            title=f"{os.path.basename(str(keypoints))} -> {lifter.metadata['variant']['name']}",
        )
        print(f"rendering -> {written}")
    if bvh:
        from chiral_jax.predict.bvh import write_bvh

        root = result.get("trajectory")  # a trajectory head's (T, 3), of person 0: its root moves
        for k, path in enumerate(bvh_paths(bvh, len(tracks_3d))):
            frames = track_frames[k]
            moves = np.asarray(root)[frames] if root is not None and k == 0 else None
            written = write_bvh(path, tracks_3d[k][frames], fps=fps, trajectory=moves)
            print(f"BVH ({int(frames.sum())} frames, cm, {fps:g} fps) -> {written}")
    return result


def main(argv: list[str] | None = None) -> None:
    """The command: flags, then :func:`predict`; input mistakes print at most three lines and exit
    with status 2 (``--verbose``: with the traceback)."""
    argv = list(sys.argv if argv is None else argv)
    prog = os.path.basename(argv[0]) if argv else "predict3d.py"
    if any(a in ("-h", "-?", "--help", "-help", "--helpshort", "--helpfull") for a in argv[1:]):
        print(f"{__doc__.strip()}\n\nflags:\n{flags_help(_OWN)}")
        raise SystemExit(0)
    verbose = any(a in ("--verbose", "--verbose=true", "--verbose=True") for a in argv[1:])
    with report_user_errors(prog, verbose=verbose):
        parse_flags(argv, _OWN)
        missing = [f"--{n}" for n in _REQUIRED if flags.FLAGS[n].value is None]
        if missing:
            raise UsageError(
                f"{', '.join(missing)} required; expected --checkpoint RUN --keypoints FILE --out OUT.npz "
                "(see --help)"
            )
        image_size = parse_image_size(_IMAGE_SIZE.value)
        people = parse_people(_PEOPLE.value)
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # orbax logs every restore at INFO

    def show(message: Warning | str, *args: object, **kwargs: object) -> None:
        print(f"predict3d: warning: {message}", file=sys.stderr)

    warnings.showwarning = show  # one line per warning (gap filling, ffmpeg), no source lines
    here = os.path.dirname(os.path.abspath(__file__))
    from chiral_jax import predict as predict_package
    from chiral_jax import render as render_module

    # Bad input (a keypoint file, a run folder, a rendering name): the message, not a traceback.
    inputs = [os.path.dirname(predict_package.__file__), render_module.__file__, here]
    with report_user_errors(
        prog, verbose=verbose, also=(ValueError, FileNotFoundError, KeyError), also_in=inputs
    ):
        predict(
            _CHECKPOINT.value,
            _KEYPOINTS.value,
            _OUT.value,
            fmt=_FORMAT.value,
            image_size=image_size,
            variant=_VARIANT.value,
            render=_RENDER.value,
            frame=_FRAME.value,
            render_stride=_STRIDE.value,
            fps=_FPS.value,
            min_score=_MIN_SCORE.value,
            flip_average=_FLIP.value,
            people=people,
            bvh=_BVH.value,
            allow_outside_image=_ALLOW_OUTSIDE.value,
        )


if __name__ == "__main__":
    main()
