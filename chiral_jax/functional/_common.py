"""Shared plumbing of the functional layers: feature kinds, the even/odd path check, 2-D matmuls, biases."""

from __future__ import annotations

import math
from typing import Any, Literal

import jax
import jax.numpy as jnp

from chiral_jax.basis import EvenOdd, check_even_odd, from_even_odd, to_even_odd
from chiral_jax.spec import ChiralSpec, along_last_axis

Array = jax.Array
Features = Array | EvenOdd
Path = Literal["even_odd", "dense"]


def check_path(path: str) -> None:
    if path not in ("even_odd", "dense"):
        raise ValueError(f"path must be 'even_odd' or 'dense', got {path!r}")


def input_even_odd(x: Features, spec: ChiralSpec, what: str) -> EvenOdd:
    """``x`` (``(..., spec.size)`` or ``EvenOdd``), checked against ``spec``, as ``EvenOdd``."""
    if isinstance(x, EvenOdd):
        check_even_odd(x, spec, what)
        return x
    spec.check_channels(x, what)
    return to_even_odd(x, spec)


def like_input(x: Features, y: EvenOdd, spec: ChiralSpec) -> Features:
    """Returns ``y`` in the kind of ``x``: stays ``EvenOdd`` or merges to channels."""
    return y if isinstance(x, EvenOdd) else from_even_odd(y, spec)


def matmul(x: Array, w: Array, precision: Any = None) -> Array:
    """``x @ w`` for ``x`` (..., n) as one 2-D matmul: on XLA:CPU a batched (3-D) matmul's weight
    gradient adds a transpose and copy of the output gradient (measured ~2x on the input conv)."""
    lead = x.shape[:-1]
    y = jnp.matmul(x.reshape(math.prod(lead), x.shape[-1]), w, precision=precision)
    return y.reshape(*lead, w.shape[-1])


def add_bias(y: Array, bias: Array | None) -> Array:
    """``y + bias`` on the last axis; ``y`` when ``bias`` is None."""
    return y if bias is None else y + along_last_axis(bias, y)
