"""Chiral linear maps: the dense layer, the mirror-invariant head and the 1-D convolution over time.

Two paths:

* ``path="even_odd"`` (default): split, two half-size contractions (``x_E @ A``, ``x_O @ B``),
  merge; about half the multiply-adds of a dense layer and the dense weight is never built.
* ``path="dense"``: builds the dense weight with :func:`chiral_jax.tying.linear_weight` and applies it;
  the reference the tests compare the fast path with.
"""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp

from chiral_jax import tying
from chiral_jax.basis import EvenOdd
from chiral_jax.functional._common import (
    Array,
    Features,
    Path,
    add_bias,
    check_path,
    input_even_odd,
    like_input,
    matmul,
)
from chiral_jax.spec import ChiralSpec

Padding = str | int | tuple[int, int]
"""``"VALID"``, ``"SAME"``, ``"CAUSAL"`` (all padding on the left), an int (both sides) or ``(lo, hi)``."""


def linear(
    x: Features,
    kernel: tying.KernelFree,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    bias: Array | None = None,
    *,
    path: Path = "even_odd",
    precision: Any = None,
) -> Features:
    """Chiral linear map ``(..., in_spec.size) -> (..., out_spec.size)``.

    Args:
      x: array ``(..., in_spec.size)`` or ``EvenOdd`` in ``in_spec``'s basis.
      kernel: free parameters ``{"even": (nE_in, nE_out), "odd": (nO_in, nO_out)}``.
      bias: free bias ``(out_spec.num_even,)`` or None.
      path: ``"even_odd"`` (fast) or ``"dense"`` (reference; array inputs only).
    """
    check_path(path)
    tying.check_kernel(kernel, in_spec, out_spec, "linear")
    if path == "dense":
        if isinstance(x, EvenOdd):
            raise ValueError("linear(path='dense') takes channel arrays, got EvenOdd features")
        in_spec.check_channels(x, "linear input")
        y = matmul(x, tying.linear_weight(kernel, in_spec, out_spec), precision)
        return add_bias(y, None if bias is None else tying.linear_bias(bias, out_spec))
    h = input_even_odd(x, in_spec, "linear input")
    even = add_bias(matmul(h.even, kernel["even"], precision), bias)
    odd = matmul(h.odd, kernel["odd"], precision)
    return like_input(x, EvenOdd(even, odd), out_spec)


def invariant(
    x: Features,
    kernel: tying.KernelFree,
    in_spec: ChiralSpec,
    bias: Array | None = None,
    *,
    odd_magnitudes: Array | None = None,
) -> Array:
    """Mirror-invariant head ``(..., in_spec.size) -> (..., out_features)``.

    A linear map into an invariant output reads the even part only (``kernel["odd"]`` has zero
    columns). ``odd_magnitudes`` (nO_in, out) optionally adds ``|x_O| @ odd_magnitudes``, an
    invariant nonlinear read of the odd part (``|-v| = |v|``), which a linear head cannot see.
    """
    h = input_even_odd(x, in_spec, "invariant input")
    out_features = kernel["even"].shape[-1]
    tying.check_kernel(kernel, in_spec, ChiralSpec.invariant(out_features), "invariant")
    y = matmul(h.even, kernel["even"])
    if odd_magnitudes is not None:
        y = y + matmul(jnp.abs(h.odd), odd_magnitudes)
    return add_bias(y, bias)


# ---------------------------------------------------------------------------------- conv


def _conv_padding(padding: Padding, kernel_size: int, dilation: int) -> tuple[int, int]:
    span = dilation * (kernel_size - 1)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return (0, 0)
        if mode == "SAME":
            return (span // 2, span - span // 2)
        if mode == "CAUSAL":
            return (span, 0)
        raise ValueError(f"padding must be VALID, SAME, CAUSAL, an int or (lo, hi), got {padding!r}")
    if isinstance(padding, int):
        return (padding, padding)
    lo, hi = padding
    return (int(lo), int(hi))


def _conv_time(
    x: Array,
    kernel: Array,
    strides: int,
    dilation: int,
    padding: Padding,
    precision: Any,
    impl: Literal["matmul", "xla"],
) -> Array:
    """Plain 1-D conv of (B, T, C_in) with (k, C_in, C_out) -> (B, T_out, C_out)."""
    k, c_in, c_out = kernel.shape
    lo, hi = _conv_padding(padding, k, dilation)
    if impl == "xla" and c_in and c_out:
        return jax.lax.conv_general_dilated(
            x,
            kernel,
            (strides,),
            [(lo, hi)],
            rhs_dilation=(dilation,),
            dimension_numbers=("NWC", "WIO", "NWC"),
            precision=precision,
        )
    if lo or hi:
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(lo, hi), (0, 0)])
    t = x.shape[-2]
    t_out = (t - dilation * (k - 1) - 1) // strides + 1
    if t_out < 1:
        raise ValueError(
            f"conv1d: input of {t - lo - hi} frames (padded to {t}) is shorter than the receptive "
            f"field {dilation * (k - 1) + 1} (kernel {k}, dilation {dilation})"
        )
    if strides == k and dilation == 1:
        # Non-overlapping windows: a reshape, no copies (VideoPose3D's strided training model).
        taps = x[..., : t_out * k, :].reshape(*x.shape[:-2], t_out, k * c_in)
    else:
        # im2col: k shifted (strided) slices side by side, then one matmul. XLA:CPU's conv is
        # pathologically slow for some dilated shapes (docs/design.md section 5); this is not.
        stop = (t_out - 1) * strides + 1
        taps = jnp.concatenate(
            [x[..., i * dilation : i * dilation + stop : strides, :] for i in range(k)], axis=-1
        )
    return matmul(taps, kernel.reshape(k * c_in, c_out), precision)


def _check_sequence(x: Features, what: str) -> None:
    ndim = x.even.ndim if isinstance(x, EvenOdd) else x.ndim
    if ndim < 3:
        shape = x.shape
        raise ValueError(f"{what}: expected (batch, time, channels), got shape {tuple(shape)}")


def conv1d(
    x: Features,
    kernel: tying.KernelFree,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    bias: Array | None = None,
    *,
    strides: int = 1,
    dilation: int = 1,
    padding: Padding = "VALID",
    path: Path = "even_odd",
    impl: Literal["matmul", "xla"] = "matmul",
    precision: Any = None,
) -> Features:
    """Chiral 1-D convolution over time: ``(batch, time, in_spec.size) -> (batch, time', out_spec.size)``.

    Args:
      x: ``(batch, time, in_spec.size)`` array or ``EvenOdd`` halves with the same leading dims.
      kernel: ``{"even": (k, nE_in, nE_out), "odd": (k, nO_in, nO_out)}``.
      bias: free bias ``(out_spec.num_even,)`` or None.
      strides, dilation, padding: as in ``flax.nnx.Conv`` (padding also ``"CAUSAL"``).
      impl: ``"matmul"`` (slices + one matmul; default, fastest here) or ``"xla"``
        (``lax.conv_general_dilated``).
    """
    check_path(path)
    _check_sequence(x, "conv1d input")
    tying.check_kernel(kernel, in_spec, out_spec, "conv1d")
    if kernel["even"].ndim != 3:
        raise ValueError(f"conv1d: kernel blocks must be (k, in, out), got {kernel['even'].shape}")
    conv = lambda h, w: _conv_time(h, w, strides, dilation, padding, precision, impl)  # noqa: E731
    if path == "dense":
        if isinstance(x, EvenOdd):
            raise ValueError("conv1d(path='dense') takes channel arrays, got EvenOdd features")
        in_spec.check_channels(x, "conv1d input")
        y = conv(x, tying.conv_kernel(kernel, in_spec, out_spec))
        return add_bias(y, None if bias is None else tying.linear_bias(bias, out_spec))
    h = input_even_odd(x, in_spec, "conv1d input")
    even, odd = add_bias(conv(h.even, kernel["even"]), bias), conv(h.odd, kernel["odd"])
    return like_input(x, EvenOdd(even, odd), out_spec)


def conv1d_dense(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    *,
    strides: int = 1,
    dilation: int = 1,
    padding: Padding = "VALID",
    impl: Literal["matmul", "xla"] = "matmul",
    precision: Any = None,
) -> Array:
    """A plain (non-chiral) conv with the same conventions, for baselines and benchmarks."""
    return add_bias(_conv_time(x, kernel, strides, dilation, padding, precision, impl), bias)
