"""Lifting your own 2D keypoints: restore a trained lifter (:mod:`.model`), read detector outputs
into the H36M-17 layout (:mod:`.keypoints`), follow several people (:mod:`.tracking`), predict 3D
poses (``experiments/predict3d.py``) and write them as BVH animations (:mod:`.bvh`).
``load_lifter("pretrained")`` is the lifter shipped in the package (trained by :mod:`.training`).

Imports Flax and orbax lazily (on :func:`load_lifter`)."""

from chiral_jax.predict.model import (
    PRETRAINED,
    Lifter,
    ModelMismatchError,
    describe_arrays,
    find_run,
    load_lifter,
    pretrained_dir,
)

__all__ = [
    "PRETRAINED",
    "Lifter",
    "ModelMismatchError",
    "describe_arrays",
    "find_run",
    "load_lifter",
    "pretrained_dir",
]
