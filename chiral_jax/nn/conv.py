"""Chiral 1-D convolution over time."""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional, tying
from chiral_jax.basis import EvenOdd
from chiral_jax.nn.params import block, free_blocks, stored
from chiral_jax.nn.precision import cast
from chiral_jax.spec import ChiralSpec

Array = jax.Array


class ChiralConv1d(nnx.Module):
    """Equivariant conv ``(batch, time, in_spec.size) -> (batch, time', out_spec.size)``.

    Strides, dilation and padding act on time only, as in ``nnx.Conv`` (padding also ``"CAUSAL"``).
    ``dtype`` / ``param_dtype``: compute and parameter dtypes (:mod:`chiral_jax.nn.precision`).
    ``kernel_init`` draws each block (its fan-in is the block's own, ``kernel_size * in half``);
    ``bias_init`` the even bias (None: zeros); :func:`chiral_jax.tying.initializers` gives both.

    Attributes:
      kernel_even: (kernel_size, in_spec.num_even, out_spec.num_even).
      kernel_odd: (kernel_size, in_spec.num_odd, out_spec.num_odd).
      bias: (out_spec.num_even,) or None.
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        out_spec: ChiralSpec,
        kernel_size: int,
        *,
        strides: int = 1,
        kernel_dilation: int = 1,
        padding: functional.Padding = "VALID",
        use_bias: bool = True,
        kernel_init: tying.Initializer = tying.default_kernel_init,
        bias_init: tying.Initializer | None = None,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        path: functional.Path = "even_odd",
        impl: Literal["matmul", "xla"] = "matmul",
        rngs: nnx.Rngs,
    ):
        for name, v in (
            ("kernel_size", kernel_size),
            ("strides", strides),
            ("kernel_dilation", kernel_dilation),
        ):
            if int(v) < 1:
                raise ValueError(f"ChiralConv1d: {name} must be >= 1, got {v}")
        self.in_spec, self.out_spec = in_spec, out_spec
        self.kernel_size, self.strides, self.kernel_dilation = kernel_size, strides, kernel_dilation
        self.padding, self.path, self.impl, self.dtype = padding, path, impl, dtype
        free = tying.init_conv(
            rngs.params(), in_spec, out_spec, kernel_size, kernel_init=kernel_init, dtype=param_dtype
        )
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
        """The dense (kernel_size, in_spec.size, out_spec.size) kernel."""
        return tying.conv_kernel(self.kernel, self.in_spec, self.out_spec)

    def __call__(
        self, x: Array | EvenOdd, *, strides: int | None = None, kernel_dilation: int | None = None
    ) -> Array | EvenOdd:
        """Applies the conv; ``strides`` / ``kernel_dilation`` override the constructor's for this
        call (the same weights serve VideoPose3D's strided training and dilated evaluation nets)."""
        bias = block(self.bias, (self.out_spec.num_even,), self.param_dtype) if self.use_bias else None
        x, kernel, bias = cast((x, self.kernel, bias), self.dtype)
        return functional.conv1d(
            x,
            kernel,
            self.in_spec,
            self.out_spec,
            bias,
            strides=self.strides if strides is None else strides,
            dilation=self.kernel_dilation if kernel_dilation is None else kernel_dilation,
            padding=self.padding,
            path=self.path,
            impl=self.impl,
        )
