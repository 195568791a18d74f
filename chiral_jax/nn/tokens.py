"""Token-set layers besides attention: layer norm, tied token embeddings, the feed-forward block.

Chiral layers (exactly equivariant, docs/transformer.md) and the plain feed-forward block of the
baseline transformer. Mixed precision: ``dtype`` (compute) and ``param_dtype`` (storage).
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional, tying
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.nn.attention import TokenLinear, channels_of
from chiral_jax.nn.elementwise import ChiralDropout
from chiral_jax.nn.params import free_blocks
from chiral_jax.spec import ChiralSpec
from chiral_jax.tokens import TokenSpec

__all__ = ["ChiralFeedForward", "ChiralLayerNorm", "ChiralTokenEmbedding", "FeedForward"]

Array = jax.Array
Features = Array | EvenOdd


class ChiralLayerNorm(nnx.Module):
    """Per-token layer norm that commutes with the mirror (:func:`chiral_jax.functional.layer_norm`).

    Scale tied across each left/right pair (one per channel orbit, as in batch norm); shift in the
    even part only. No running statistics: training and evaluation compute the same thing.

    Attributes:
      scale: (spec.num_orbits,); bias: (spec.num_even,).
    """

    def __init__(
        self,
        spec: ChiralSpec | TokenSpec,
        *,
        epsilon: float = 1e-6,
        center_odd: bool = False,
        use_scale: bool = True,
        use_bias: bool = True,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs | None = None,
    ):
        del rngs  # no random initialization; accepted for a uniform constructor
        self.spec = channels_of(spec, "ChiralLayerNorm spec")
        self.epsilon, self.center_odd, self.dtype = epsilon, center_odd, dtype
        free = tying.init_batch_norm(self.spec, param_dtype)
        self.scale = nnx.Param(free["scale"]) if use_scale else None
        self.bias = nnx.Param(free["bias"]) if use_bias else None

    def __call__(self, x: Features) -> Features:
        if self.dtype is not None:
            x = jax.tree.map(lambda a: a.astype(self.dtype), x)
        dt = (x.even if isinstance(x, EvenOdd) else x).dtype
        return functional.layer_norm(
            x,
            self.spec,
            None if self.scale is None else self.scale[...].astype(dt),
            None if self.bias is None else self.bias[...].astype(dt),
            epsilon=self.epsilon,
            center_odd=self.center_odd,
        )


class ChiralTokenEmbedding(nnx.Module):
    """Learned embeddings of a token set, tied so that the mirror of the embedding is the embedding:
    ``E[permutation[n]] = T_channels(E[n])`` (:func:`chiral_jax.functional.token_embedding`).

    Joint tokens (``TokenSpec.joints``): the mirror joint's embedding is the mirrored embedding and
    center joints have no odd part. Frame or patch positions that the mirror keeps in place
    (``TokenSpec.fixed``) have no odd part; a horizontally flipped patch grid (``TokenSpec.grid``)
    ties each patch to its mirror patch.

    ``emb()`` returns ``(N, C)`` channels; ``emb(even_odd=True)`` the ``EvenOdd`` halves.

    Attributes:
      even: (tokens.num_orbits, C.num_even); odd: (tokens.num_pairs, C.num_odd).
    """

    def __init__(
        self,
        tokens: TokenSpec,
        *,
        init_scale: float = 0.02,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if not isinstance(tokens, TokenSpec):
            raise TypeError(f"ChiralTokenEmbedding: expected a TokenSpec, got {type(tokens).__name__}")
        self.tokens, self.dtype = tokens, dtype
        cs = tokens.channel_spec
        init = jax.nn.initializers.normal(init_scale)
        # Empty parts (no swapped tokens, no odd channels) are not stored: orbax cannot save
        # zero-size arrays.
        shapes = {"even": (tokens.num_orbits, cs.num_even), "odd": (tokens.num_pairs, cs.num_odd)}
        self.even, self.odd = (
            nnx.Param(init(rngs.params(), shapes[k], param_dtype)) if 0 not in shapes[k] else None
            for k in ("even", "odd")
        )
        self.shapes, self.param_dtype = shapes, param_dtype

    def __call__(self, *, even_odd: bool = False) -> Features:
        free = free_blocks(self.even, self.odd, self.shapes, self.param_dtype)
        if self.dtype is not None:
            free = jax.tree.map(lambda a: a.astype(self.dtype), free)
        h = functional.token_embedding(free, self.tokens)
        return h if even_odd else from_even_odd(h, self.tokens.channel_spec)


class ChiralFeedForward(nnx.Module):
    """Per-token MLP ``spec -> hidden -> ... -> spec`` of ``layers`` chiral linears, an activation and
    dropout after every hidden one. ReLU needs a negation-free ``hidden`` spec (checked); a spec
    with negated channels takes an odd activation (tanh), as the temporal nets do."""

    def __init__(
        self,
        spec: ChiralSpec,
        hidden: ChiralSpec,
        *,
        layers: int = 3,
        activation: str = "relu",
        dropout: float = 0.0,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if int(layers) < 1:
            raise ValueError(f"ChiralFeedForward: layers must be >= 1, got {layers}")
        self.spec, self.hidden = spec, hidden
        self.act = functional.check_activation(activation, hidden)
        specs = [spec] + [hidden] * (int(layers) - 1) + [spec]
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.linears = nnx.List([TokenLinear(a, b, **kw) for a, b in itertools.pairwise(specs)])
        self.drop = ChiralDropout(dropout, rngs=rngs)

    def __call__(self, x: Features) -> Features:
        h = to_even_odd(x, self.spec)
        for i, lin in enumerate(self.linears):
            h = lin(h)
            if i < len(self.linears) - 1:
                h = self.drop(functional.activation(h, self.act, self.hidden, check=False))
        return h if isinstance(x, EvenOdd) else from_even_odd(h, self.spec)


class FeedForward(nnx.Module):
    """The plain per-token MLP of the baseline transformer (same structure as the chiral one)."""

    def __init__(
        self,
        features: int,
        hidden: int,
        *,
        layers: int = 3,
        activation: str = "relu",
        dropout: float = 0.0,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if int(layers) < 1:
            raise ValueError(f"FeedForward: layers must be >= 1, got {layers}")
        self.act = functional.get_activation(activation)
        sizes = [features] + [hidden] * (int(layers) - 1) + [features]
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.linears = nnx.List([nnx.Linear(a, b, **kw) for a, b in itertools.pairwise(sizes)])
        self.drop = ChiralDropout(dropout, rngs=rngs)

    def __call__(self, x: Array) -> Array:
        for i, lin in enumerate(self.linears):
            x = lin(x)
            if i < len(self.linears) - 1:
                x = self.drop(self.act(x))
        return x
