"""Evaluating a lifter on whole test sequences: the dilated net (or any windowed net) run over every
sequence in fixed-size chunks, optionally flip-averaged, scored by the lifting protocol's metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
from flax import nnx

from chiral_jax import metrics, runner, skeletons
from chiral_jax.data import PoseSequence, PoseWindows
from chiral_jax.models.trajectory import LifterWithTrajectory, with_root_spec
from chiral_jax.runner.inference import predict_sequences as predict
from chiral_jax.tasks import lifting_trajectory as traj

__all__ = ["dilated_apply", "evaluate", "predict"]

Array = jax.Array


def dilated_apply(
    model: nnx.Module, skeleton: skeletons.Skeleton, *, flip_average: bool = False
) -> tuple[Callable[[Any, Array], Array], Any]:
    """``(apply, state)``: ``apply(state, x)`` runs the eval-mode dilated net of ``model`` on
    ``x`` (B, T + R - 1, J * 2) -> (B, T, J * 3) ((J + 1) * 3 with a trajectory head); with
    ``flip_average`` it returns the test-time augmentation ``0.5 * (F(x) + T_out F(T_in x))`` (the
    mirrored input's root with x negated back). Puts ``model`` in eval mode."""
    model.eval()
    graphdef, state = nnx.split(model)
    spec_in, spec_out = skeleton.spec(2), skeleton.spec(3)
    if isinstance(model, LifterWithTrajectory):
        spec_out = with_root_spec(spec_out)

    def apply(state: Any, x: Array) -> Array:
        net = lambda x: nnx.merge(graphdef, state, copy=True)(x, strided=False)  # noqa: E731
        return runner.flip_average(net, spec_in, spec_out)(x) if flip_average else net(x)

    return apply, state


def evaluate(
    model: nnx.Module,
    test: Sequence[PoseSequence],
    skeleton: skeletons.Skeleton,
    *,
    receptive_field: int,
    flip_average: bool = False,
    causal: bool = False,
    chunk: int = 64,
    windowed_apply: Callable[[Array], Array] | None = None,
    batch_size: int = 64,
    trajectory: bool = False,
) -> dict[str, Any]:
    """Protocol metrics of the dilated net on whole test sequences (in millimetres).

    ``trajectory``: the net also outputs the root's position (:class:`LifterWithTrajectory`); adds
    ``trajectory_mm`` and ``mpjpe_abs_mm`` (:func:`chiral_jax.tasks.lifting_trajectory.trajectory_metrics`).

    ``flip_average``: test-time augmentation, the average of ``F(x)`` and ``T_out F(T_in x)``.
    ``windowed_apply``: another net's ``(B, chunk + R - 1, Cin) -> (B, chunk, Cout)`` in place of
    the dilated ``model`` (e.g. a transformer run on every window; it does its own flip averaging).
    """
    if windowed_apply is None:
        apply, state = dilated_apply(model, skeleton, flip_average=flip_average)
        windowed_apply = lambda x: apply(state, x)  # noqa: E731
    windows = PoseWindows.from_sequences(
        test, receptive_field=receptive_field, causal=causal, flatten=True, with_intrinsics=False
    )
    preds, fps = predict(windowed_apply, windows, chunk=chunk, batch_size=batch_size)
    j = skeleton.num_joints
    extra: dict[str, float] = {}
    if trajectory:
        preds, extra = traj.trajectory_metrics(preds, test, j)
    per_seq = [(p.reshape(-1, j, 3), s.pose_3d) for p, s in zip(preds, test, strict=True)]
    return {**metrics.lifting_metrics(per_seq, test), "eval_frames_per_second": fps, **extra}
