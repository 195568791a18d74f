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

__all__ = ["batched_apply", "eval_function"]


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
