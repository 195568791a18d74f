"""Building a VideoPose3D lifter by kind: the chiral net or its dense baseline, optionally with a
trajectory head (what the lifting and IK tasks train)."""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from chiral_jax.models.temporal import ChiralTemporalModel, TemporalModel
from chiral_jax.models.trajectory import ROOT_SPEC, LifterWithTrajectory
from chiral_jax.spec import ChiralSpec

__all__ = ["temporal_lifter"]


def temporal_lifter(
    kind: str,
    width: int,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    *,
    hidden: str = "plain",
    seed: int = 0,
    trajectory: bool = False,
    **kwargs: Any,
) -> nnx.Module:
    """A :class:`ChiralTemporalModel` (``kind="chiral"``: hidden spec of ``width`` channels,
    ``hidden`` ``"plain"`` or ``"negated"``) or :class:`TemporalModel` (``"baseline"``: ``width``
    dense channels) mapping ``(B, T, in_spec.size)`` to ``(B, T', out_spec.size)``; ``kwargs`` go to
    the net (``filter_widths``, ``dropout``, ``strided``, ``init``, ``activation``, ...).

    ``trajectory``: a :class:`LifterWithTrajectory`, the same pose net (same parameters and dropout
    draws as without the head) beside a net of its shape whose output is the root's camera-frame
    position (:data:`ROOT_SPEC` for a chiral net), drawn from a stream of its own; the output is then
    ``(..., out_spec.size + 3)``.
    """

    def net(out: ChiralSpec, rngs: nnx.Rngs) -> nnx.Module:
        if kind == "baseline":
            return TemporalModel(in_spec.size, out.size, channels=width, rngs=rngs, **kwargs)
        spec = ChiralSpec.hidden(width, negated=hidden == "negated")
        return ChiralTemporalModel(in_spec, out, channels=spec, rngs=rngs, **kwargs)

    pose = net(out_spec, nnx.Rngs(seed))
    if not trajectory:
        return pose
    return LifterWithTrajectory(pose, net(ROOT_SPEC, nnx.Rngs(jax.random.fold_in(jax.random.key(seed), 1))))
