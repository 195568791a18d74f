"""Chiral dense layers: :class:`ChiralLinear` and the invariance head :class:`ChiralInvariant`."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional, tying
from chiral_jax.basis import EvenOdd
from chiral_jax.nn.params import block, free_blocks, stored
from chiral_jax.nn.precision import cast
from chiral_jax.spec import ChiralSpec

Array = jax.Array


class ChiralLinear(nnx.Module):
    """Equivariant linear layer ``(..., in_spec.size) -> (..., out_spec.size)``.

    Holds the free parameters (two blocks and an even bias); the dense weight is a pure function of
    them (:attr:`weight`). Accepts arrays or :class:`~chiral_jax.basis.EvenOdd` features and returns
    the same kind. ``dtype``: compute dtype (None: the inputs' and parameters'); ``param_dtype``:
    the free parameters' (:mod:`chiral_jax.nn.precision`). ``kernel_init`` draws each block (its
    fan-in is the block's own input half); ``bias_init`` the even bias (None: zeros);
    :func:`chiral_jax.tying.initializers` gives both for an init scheme.

    Attributes:
      kernel_even: (in_spec.num_even, out_spec.num_even).
      kernel_odd: (in_spec.num_odd, out_spec.num_odd).
      bias: (out_spec.num_even,) or None.
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        out_spec: ChiralSpec,
        *,
        use_bias: bool = True,
        kernel_init: tying.Initializer = tying.default_kernel_init,
        bias_init: tying.Initializer | None = None,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        path: functional.Path = "even_odd",
        rngs: nnx.Rngs,
    ):
        self.in_spec, self.out_spec, self.path, self.dtype = in_spec, out_spec, path, dtype
        free = tying.init_linear(rngs.params(), in_spec, out_spec, kernel_init=kernel_init, dtype=param_dtype)
        self.shapes = {k: tuple(v.shape) for k, v in free.items()}
        self.param_dtype = param_dtype
        self.kernel_even, self.kernel_odd = stored(free["even"]), stored(free["odd"])
        # The key is drawn only for a random bias, so zero-bias layers keep their old streams.
        bias_key = rngs.params() if use_bias and bias_init is not None else None
        bias = tying.init_bias(out_spec, param_dtype, key=bias_key, bias_init=bias_init)
        self.bias = stored(bias) if use_bias else None
        self.use_bias = use_bias

    @property
    def kernel(self) -> tying.KernelFree:
        return free_blocks(self.kernel_even, self.kernel_odd, self.shapes, self.param_dtype)

    @property
    def weight(self) -> Array:
        """The dense (in_spec.size, out_spec.size) weight."""
        return tying.linear_weight(self.kernel, self.in_spec, self.out_spec)

    def __call__(self, x: Array | EvenOdd) -> Array | EvenOdd:
        bias = block(self.bias, (self.out_spec.num_even,), self.param_dtype) if self.use_bias else None
        x, kernel, bias = cast((x, self.kernel, bias), self.dtype)
        return functional.linear(x, kernel, self.in_spec, self.out_spec, bias, path=self.path)


class ChiralInvariant(nnx.Module):
    """Mirror-invariant head ``(..., in_spec.size) -> (..., out_features)`` (class scores).

    A linear map into an invariant output can read only the even part of its input; with
    ``odd_magnitudes=True`` it also reads ``|x_odd|`` (invariant, as ``|-v| = |v|``).
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        out_features: int,
        *,
        use_bias: bool = True,
        odd_magnitudes: bool = False,
        kernel_init: tying.Initializer = tying.default_kernel_init,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_spec, self.out_features, self.dtype = in_spec, out_features, dtype
        self.out_spec = ChiralSpec.invariant(out_features)
        free = tying.init_linear(
            rngs.params(), in_spec, self.out_spec, kernel_init=kernel_init, dtype=param_dtype
        )
        # The odd block is (num_odd, 0) by construction: rebuilt as zeros, never stored.
        self.shapes = {k: tuple(v.shape) for k, v in free.items()}
        self.param_dtype = param_dtype
        self.kernel_even, self.kernel_odd = stored(free["even"]), stored(free["odd"])
        self.odd_magnitudes = (
            nnx.Param(kernel_init(rngs.params(), (in_spec.num_odd, out_features), param_dtype))
            if odd_magnitudes and in_spec.num_odd
            else None
        )
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype)) if use_bias else None

    def __call__(self, x: Array | EvenOdd) -> Array:
        kernel = free_blocks(self.kernel_even, self.kernel_odd, self.shapes, self.param_dtype)
        bias = None if self.bias is None else self.bias[...]
        mags = None if self.odd_magnitudes is None else self.odd_magnitudes[...]
        x, kernel, bias, mags = cast((x, kernel, bias, mags), self.dtype)
        return functional.invariant(x, kernel, self.in_spec, bias, odd_magnitudes=mags)
