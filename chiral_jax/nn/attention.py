"""Multi-head attention over token sets: the exactly chiral layer and its plain counterpart.

A token set is ``(..., N, C)``; the mirror permutes its tokens and acts on each token's channels
(:class:`~chiral_jax.tokens.TokenSpec`). Every projection here is the same chiral linear map on every
token, so it commutes with any token permutation; the score ``q . k`` summed over the even and odd
coordinates is mirror-invariant; hence the mirrored input's attention pattern is the permuted pattern
and the output is the mirrored output (docs/transformer.md).

Mixed precision: ``dtype`` (compute dtype: inputs and materialised weights are cast to it; None
keeps the input's) and ``param_dtype`` (storage of the free parameters).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional, tying
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.nn.params import free_blocks, stored
from chiral_jax.nn.precision import cast
from chiral_jax.spec import ChiralSpec
from chiral_jax.tokens import TokenSpec

__all__ = ["ChiralMultiHeadAttention", "MultiHeadAttention", "TokenLinear", "channels_of"]

Array = jax.Array
Features = Array | EvenOdd
AnySpec = ChiralSpec | TokenSpec


def channels_of(spec: AnySpec, what: str) -> ChiralSpec:
    """The channel spec of a ChiralSpec or TokenSpec argument (validated)."""
    if isinstance(spec, TokenSpec):
        return spec.channel_spec
    if isinstance(spec, ChiralSpec):
        return spec
    raise TypeError(f"{what}: expected a ChiralSpec or TokenSpec, got {type(spec).__name__}")


def _check_tokens(spec: AnySpec, x: Features, what: str) -> None:
    if isinstance(spec, TokenSpec):
        shape = tuple(x.shape)
        n = shape[-2] if len(shape) >= 2 else None
        if n != spec.num_tokens:
            raise ValueError(
                f"{what}: expected {spec.num_tokens} tokens (..., N, C), got shape {tuple(x.shape)}"
            )


class TokenLinear(nnx.Module):
    """A chiral linear map applied to every token (``functional.linear`` on the last axis), with the
    mixed-precision convention (``dtype`` compute, ``param_dtype`` storage).

    Attributes:
      kernel_even: (in.num_even, out.num_even); kernel_odd: (in.num_odd, out.num_odd);
      bias: (out.num_even,) or None.
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        out_spec: ChiralSpec,
        *,
        use_bias: bool = True,
        kernel_init: tying.Initializer = tying.default_kernel_init,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_spec, self.out_spec, self.dtype = in_spec, out_spec, dtype
        free = tying.init_linear(rngs.params(), in_spec, out_spec, kernel_init=kernel_init, dtype=param_dtype)
        # An empty block (e.g. the odd block into an invariant output) is not stored: orbax cannot
        # save zero-size arrays, and it has nothing to learn.
        self.kernel_even, self.kernel_odd = stored(free["even"]), stored(free["odd"])
        self.bias = (
            nnx.Param(tying.init_bias(out_spec, param_dtype)) if use_bias and out_spec.num_even else None
        )

    def __call__(self, x: Features) -> Features:
        x = cast(x, self.dtype)
        dt = self.dtype or (x.even if isinstance(x, EvenOdd) else x).dtype
        i, o = self.in_spec, self.out_spec
        shapes = {"even": (i.num_even, o.num_even), "odd": (i.num_odd, o.num_odd)}
        kernel = cast(free_blocks(self.kernel_even, self.kernel_odd, shapes, dt), dt)
        bias = None if self.bias is None else self.bias[...].astype(dt)
        return functional.linear(x, kernel, self.in_spec, self.out_spec, bias)


def _head_features(qkv_features: int | None, default: int, num_heads: int, even_odd: bool) -> int:
    unit = 2 * num_heads if even_odd else num_heads
    if qkv_features is None:
        qkv_features = -(-default // unit) * unit  # round up to whole heads (with even/odd halves)
    if qkv_features < unit or qkv_features % unit:
        half = " with equal even and odd halves" if even_odd else ""
        raise ValueError(
            f"qkv_features must be a positive multiple of {unit} ({num_heads} heads{half}), "
            f"got {qkv_features}"
        )
    return qkv_features


class ChiralMultiHeadAttention(nnx.Module):
    """Exactly equivariant multi-head attention on token sets.

    ``attn(x)`` is self-attention; ``attn(x, context)`` cross-attention (queries from ``x``, keys and
    values from ``context``, whose tokens may follow another mirror action ``kv_spec``). Per-token
    chiral linear Q, K, V, O projections; each head holds ``qkv_features / (2 num_heads)`` even and as
    many odd coordinates, and its score is the sum of their products.

    Args:
      in_spec: the queries' action (a :class:`TokenSpec`; or a :class:`ChiralSpec`, the channels only,
        when the token count is not fixed).
      out_spec: the output's channels (``ChiralSpec``, or a ``TokenSpec`` with the queries' tokens).
      num_heads: attention heads.
      kv_spec: the keys' and values' action for cross-attention (default ``in_spec``).
      qkv_features: query/key/value width, a multiple of ``2 * num_heads`` (default: the output
        width rounded up to one).
      use_bias: biases (even parts) on the projections.

    Call: ``(x (..., Nq, Cin), context (..., Nk, Ckv) | None, *, mask (..., Nk) | (..., Nq, Nk))``
    -> ``(..., Nq, Cout)``; arrays or ``EvenOdd`` (the output has the input's kind). The mask is
    boolean, True = attend; mirror it with its tokens.
    """

    def __init__(
        self,
        in_spec: AnySpec,
        out_spec: AnySpec,
        num_heads: int,
        *,
        kv_spec: AnySpec | None = None,
        qkv_features: int | None = None,
        use_bias: bool = True,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if int(num_heads) < 1:
            raise ValueError(f"ChiralMultiHeadAttention: num_heads must be >= 1, got {num_heads}")
        self.in_spec, self.out_spec = in_spec, out_spec
        self.kv_spec = in_spec if kv_spec is None else kv_spec
        q_ch = channels_of(in_spec, "ChiralMultiHeadAttention in_spec")
        o_ch = channels_of(out_spec, "ChiralMultiHeadAttention out_spec")
        kv_ch = channels_of(self.kv_spec, "ChiralMultiHeadAttention kv_spec")
        if isinstance(in_spec, TokenSpec) and isinstance(out_spec, TokenSpec):
            if in_spec.permutation != out_spec.permutation:
                raise ValueError("ChiralMultiHeadAttention: out_spec's tokens must be the queries' tokens")
        self.num_heads = int(num_heads)
        self.qkv_features = _head_features(qkv_features, o_ch.size, self.num_heads, True)
        self.head_spec = ChiralSpec.hidden(self.qkv_features, num_centers=0)  # equal even/odd halves
        self.in_channels, self.kv_channels, self.out_channels = q_ch, kv_ch, o_ch
        kw = dict(use_bias=use_bias, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.query = TokenLinear(q_ch, self.head_spec, **kw)
        self.key = TokenLinear(kv_ch, self.head_spec, **kw)
        self.value = TokenLinear(kv_ch, self.head_spec, **kw)
        self.out = TokenLinear(self.head_spec, o_ch, **kw)

    def _heads(self, h: EvenOdd) -> EvenOdd:
        split = lambda a: a.reshape(*a.shape[:-1], self.num_heads, a.shape[-1] // self.num_heads)  # noqa: E731
        return EvenOdd(split(h.even), split(h.odd))

    def __call__(
        self, x: Features, context: Features | None = None, *, mask: Array | None = None
    ) -> Features:
        _check_tokens(self.in_spec, x, "ChiralMultiHeadAttention queries")
        ctx = x if context is None else context
        if context is not None:
            _check_tokens(self.kv_spec, ctx, "ChiralMultiHeadAttention context")
        if mask is not None and isinstance(self.kv_spec, TokenSpec):
            n = self.kv_spec.num_tokens
            if jnp.shape(mask)[-1] != n:
                raise ValueError(
                    f"ChiralMultiHeadAttention: mask must end in {n} keys, got {jnp.shape(mask)}"
                )
        hx = to_even_odd(x, self.in_channels)
        hc = hx if context is None else to_even_odd(ctx, self.kv_channels)
        q, k, v = self._heads(self.query(hx)), self._heads(self.key(hc)), self._heads(self.value(hc))
        o = functional.dot_product_attention(q, k, v, mask)
        merge = lambda a: a.reshape(*a.shape[:-2], a.shape[-2] * a.shape[-1])  # noqa: E731
        y = self.out(EvenOdd(merge(o.even), merge(o.odd)))
        return y if isinstance(x, EvenOdd) else from_even_odd(y, self.out_channels)


class MultiHeadAttention(nnx.Module):
    """Plain multi-head attention with the same call and score code as the chiral layer
    (``nnx.Linear`` projections; Flax's ``nnx.MultiHeadAttention`` differs in its mask and call
    conventions, so the two lifters would not compare like for like)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        num_heads: int,
        *,
        kv_features: int | None = None,
        qkv_features: int | None = None,
        use_bias: bool = True,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if int(num_heads) < 1:
            raise ValueError(f"MultiHeadAttention: num_heads must be >= 1, got {num_heads}")
        self.num_heads = int(num_heads)
        self.qkv_features = _head_features(qkv_features, out_features, self.num_heads, False)
        kv = in_features if kv_features is None else kv_features
        kw = dict(use_bias=use_bias, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.query = nnx.Linear(in_features, self.qkv_features, **kw)
        self.key = nnx.Linear(kv, self.qkv_features, **kw)
        self.value = nnx.Linear(kv, self.qkv_features, **kw)
        self.out = nnx.Linear(self.qkv_features, out_features, **kw)

    def __call__(self, x: Array, context: Array | None = None, *, mask: Array | None = None) -> Array:
        ctx = x if context is None else context
        split = lambda a: a.reshape(*a.shape[:-1], self.num_heads, a.shape[-1] // self.num_heads)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(ctx)), split(self.value(ctx))
        o = functional.dot_product_attention(q, k, v, mask)
        return self.out(o.reshape(*o.shape[:-2], self.qkv_features))
