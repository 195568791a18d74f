"""Evaluation-mode inference every task shares: an eval-mode function of a trained model (optionally
flip-averaged, both passes in one jit) and batched, padded, timed application.

One compilation per evaluation: inputs are cut into batches of one fixed size (the last one padded
by repeating the first input, whose outputs are dropped); the first batch runs once outside the
timing, so the rate measures steady-state inference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from flax import nnx

from chiral_jax.equivariance import flip_average

__all__ = ["batched_apply", "eval_function", "predict_sequences"]


def eval_function(
    model: nnx.Module,
    call: Callable[[nnx.Module, Any], Any] | None = None,
    *,
    flip: tuple[Any, Any] | None = None,
) -> Callable[[Any], Any]:
    """``x -> call(model, x)`` with ``model`` in eval mode (a fresh merged copy per trace, so
    tracing never mutates the trained module); ``call`` defaults to ``net(x)``.

    ``flip``: ``(in_spec, out_spec)`` for test-time flip averaging
    (:func:`chiral_jax.equivariance.flip_average`): the function returns
    ``0.5 * (F(x) + T_out F(T_in x))``.
    """
    model.eval()
    graphdef, state = nnx.split(model)
    run = call or (lambda net, x: net(x))

    def apply(x: Any) -> Any:
        return run(nnx.merge(graphdef, state, copy=True), x)

    return apply if flip is None else flip_average(apply, *flip)


def batched_apply(
    apply: Callable[[Any], Any], inputs: np.ndarray, batch_size: int
) -> tuple[np.ndarray, float]:
    """Runs jitted ``apply`` over ``inputs`` ``(N, ...)`` in batches of ``min(batch_size, N)``.

    Returns:
      ``(outputs (N, ...), seconds)``: the outputs of the real inputs, and the wall time of the
      timed pass (after a warm-up call that compiles).
    """
    n = len(inputs)
    if n == 0:
        raise ValueError("batched_apply: no inputs")
    bs = min(batch_size, n)
    pad = (-n) % bs
    x = np.concatenate([inputs, np.repeat(inputs[:1], pad, axis=0)]) if pad else inputs
    jitted = jax.jit(apply)
    jax.block_until_ready(jitted(x[:bs]))  # compile outside the timing
    t0 = time.perf_counter()
    outs = [np.asarray(jitted(x[i : i + bs])) for i in range(0, len(x), bs)]
    seconds = time.perf_counter() - t0
    return np.concatenate(outs)[:n], seconds


def _chunks(num_frames: int, chunk: int) -> list[int]:
    """Start frames of fixed-length chunks covering ``num_frames`` (the last one moved back)."""
    starts = list(range(0, max(num_frames - chunk, 0) + 1, chunk))
    if starts[-1] + chunk < num_frames:
        starts.append(num_frames - chunk)
    return starts


def predict_sequences(
    apply: Callable[[Any], Any], windows: Any, *, chunk: int = 64, batch_size: int = 64
) -> tuple[list[np.ndarray], float]:
    """Runs a sequence net over every sequence of ``windows`` (a
    :class:`~chiral_jax.data.PoseWindows`) in fixed-size chunks, one compilation.

    ``apply``: ``(B, chunk + R - 1, Cin) -> (B, chunk, Cout)`` (e.g. a dilated temporal net, R its
    receptive field). Returns per-sequence predictions ``(T_i, Cout)`` and the frames per second
    of the timed pass (:func:`batched_apply`).
    """
    r = windows.receptive_field
    pieces: list[np.ndarray] = []
    index: list[tuple[int, int]] = []  # (sequence, start frame)
    lengths = []
    for i, seq in enumerate(windows.sequences()):
        x = seq["inputs"][0]  # (T + R - 1, Cin), edge-padded
        t = x.shape[0] - r + 1
        lengths.append(t)
        if t < chunk:  # pad short sequences at the end; the extra outputs are dropped
            x = np.concatenate([x, np.repeat(x[-1:], chunk - t, axis=0)])
        for s in _chunks(max(t, chunk), chunk):
            pieces.append(x[s : s + chunk + r - 1])
            index.append((i, s))
    out, seconds = batched_apply(apply, np.stack(pieces), batch_size)
    preds = [np.zeros((max(t, chunk), out.shape[-1]), np.float32) for t in lengths]
    for (i, s), o in zip(index, out, strict=True):
        preds[i][s : s + chunk] = o
    return [p[:t] for p, t in zip(preds, lengths, strict=True)], sum(lengths) / seconds
