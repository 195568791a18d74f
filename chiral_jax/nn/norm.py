"""Batch normalization: the chiral layer, and Flax's with its momentum held as state.

Both layers keep their momentum (Flax's convention: the weight of the running average) in a
:class:`BatchNormMomentum` variable from construction, so a trainer can schedule it through the
state (``nnx.state(model, BatchNormMomentum)``) inside a jitted step without recompiling.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional, tying
from chiral_jax.basis import EvenOdd
from chiral_jax.nn.precision import cast, statistics_input
from chiral_jax.spec import ChiralSpec

__all__ = ["BatchNorm", "BatchNormMomentum", "ChiralBatchNorm"]

Array = jax.Array


class BatchNormMomentum(nnx.Variable):
    """A batch norm's momentum (float32 scalar) held as state: changing it does not recompile a step."""


def _momentum(momentum: float | Array) -> BatchNormMomentum:
    return BatchNormMomentum(jnp.asarray(momentum, jnp.float32))


class BatchNorm(nnx.BatchNorm):
    """``flax.nnx.BatchNorm`` whose ``momentum`` is a :class:`BatchNormMomentum` from construction.

    Same arguments and behaviour as Flax's layer (``nnx.BatchNorm.__call__`` computes
    ``momentum * mean + (1 - momentum) * batch_mean`` and a Variable multiplies like its value).
    """

    def __init__(self, num_features: int, *, momentum: float = 0.99, **kwargs: Any):
        super().__init__(num_features, momentum=_momentum(momentum), **kwargs)  # type: ignore[arg-type]


class ChiralBatchNorm(nnx.Module):
    """Batch norm over all axes but the last, with the statistics of the augmented batch {x, T x}.

    Using the mirror-augmented statistics in training as well as in evaluation makes the layer
    equivariant sample by sample: mirroring one sample of a batch mirrors that sample's output and
    leaves the others unchanged. Scales are tied across each left/right pair; the shift is an
    equivariant bias. Respects ``model.train()`` / ``model.eval()`` (``use_running_average``).
    ``dtype``: compute dtype (None: the input's); the statistics are computed from float32 copies
    and kept in float32 (or ``param_dtype`` if wider); ``param_dtype``: scale and shift.

    Attributes:
      scale: (spec.num_orbits,); bias: (spec.num_even,).
      mean: running mean (spec.num_even,) (BatchStat); var: running variance (spec.num_orbits,).
      momentum: the running averages' momentum, a float32 scalar :class:`BatchNormMomentum`.
    """

    def __init__(
        self,
        spec: ChiralSpec,
        *,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        use_running_average: bool = False,
        use_scale: bool = True,
        use_bias: bool = True,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs | None = None,
    ):
        del rngs  # no random initialization; accepted for a uniform constructor
        self.spec, self.epsilon, self.dtype = spec, epsilon, dtype
        self.momentum = _momentum(momentum)
        self.use_running_average = use_running_average
        free = tying.init_batch_norm(spec, param_dtype)
        self.scale = nnx.Param(free["scale"]) if use_scale else None
        self.bias = nnx.Param(free["bias"]) if use_bias else None
        # Statistics in float32 at least, whatever the compute dtype.
        stat_dtype = jnp.promote_types(param_dtype, jnp.float32)
        self.mean = nnx.BatchStat(jnp.zeros((spec.num_even,), stat_dtype))
        self.var = nnx.BatchStat(jnp.ones((spec.num_orbits,), stat_dtype))

    def __call__(self, x: Array | EvenOdd, *, use_running_average: bool | None = None) -> Array | EvenOdd:
        use_ra = self.use_running_average if use_running_average is None else use_running_average
        if use_ra:
            mean, var = self.mean[...], self.var[...]
        else:
            # From float32 copies of low-precision activations (XLA fuses the casts into the sums).
            mean, var = functional.batch_norm_statistics(statistics_input(x), self.spec)
            m = self.momentum[...]
            for stat, new in ((self.mean, mean), (self.var, var)):
                new = jax.lax.stop_gradient(new).astype(stat[...].dtype)
                stat[...] = m * stat[...] + (1.0 - m) * new
        scale = None if self.scale is None else self.scale[...]
        bias = None if self.bias is None else self.bias[...]
        if self.dtype is None:
            return functional.batch_norm(x, mean, var, self.spec, scale, bias, epsilon=self.epsilon)
        # rsqrt in float32, then everything in the compute dtype.
        inv = jax.lax.rsqrt(var + self.epsilon)
        x, mean, inv, scale, bias = cast((x, mean, inv, scale, bias), self.dtype)
        ones = jnp.ones_like(inv)
        return functional.batch_norm(
            x, mean, ones, self.spec, inv if scale is None else inv * scale, bias, epsilon=0.0
        )
