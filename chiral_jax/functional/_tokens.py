"""Token-set ops: multi-head attention, per-token layer norm and mirror-tied token embeddings.

Token sets are ``(..., N, C)``: see docs/transformer.md.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from chiral_jax.basis import EvenOdd
from chiral_jax.functional._common import Array, Features, add_bias, input_even_odd, like_input
from chiral_jax.spec import ChiralSpec, along_last_axis
from chiral_jax.tokens import TokenSpec


def _expand_mask(mask: Array, lead: int, what: str) -> Array:
    """A key mask (*lead, Nk) or a query-key mask (*lead, Nq, Nk) as (*lead, 1, Nq|1, Nk)."""
    mask = jnp.asarray(mask)
    if mask.dtype != jnp.bool_:
        raise ValueError(f"{what}: expected a boolean mask, got dtype {mask.dtype}")
    if mask.ndim == lead + 1:
        return mask.reshape(*mask.shape[:-1], 1, 1, mask.shape[-1])
    if mask.ndim == lead + 2:
        return mask.reshape(*mask.shape[:-2], 1, *mask.shape[-2:])
    raise ValueError(
        f"{what}: expected a key mask (..., num_keys) or (..., num_queries, num_keys) with {lead} leading "
        f"dims, got shape {tuple(mask.shape)}"
    )


def dot_product_attention(
    query: Features, key: Features, value: Features, mask: Array | None = None
) -> Features:
    """Multi-head scaled dot-product attention, in the even/odd basis or on plain arrays.

    For :class:`EvenOdd` inputs the score of a query and a key is ``q_E . k_E + q_O . k_O``: the
    channel dot product (the basis is orthonormal), which the mirror leaves unchanged (it negates
    both odd parts). The mirrored input's attention pattern is therefore the token-permuted pattern,
    and the output (a convex combination of values per head) is mirrored with the values.

    Args:
      query: ``(..., Nq, H, d)`` per head (``EvenOdd`` halves ``(..., Nq, H, dE)``, ``(..., Nq, H, dO)``).
      key: ``(..., Nk, H, d)`` (same halves as ``query``).
      value: ``(..., Nk, H, dv)`` (or ``EvenOdd``).
      mask: boolean, True = attend: a key mask ``(..., Nk)`` or ``(..., Nq, Nk)``. A query whose keys
        are all masked gets a zero output.

    Returns:
      ``(..., Nq, H, dv)``, the kind of ``value``.
    """

    def halves(t: Features) -> tuple[Array, ...]:
        return (t.even, t.odd) if isinstance(t, EvenOdd) else (t,)

    qs, ks, vs = halves(query), halves(key), halves(value)
    if len(qs) != len(ks):
        raise ValueError("dot_product_attention: query and key must both be EvenOdd or both arrays")
    for t, name in ((qs[0], "query"), (ks[0], "key"), (vs[0], "value")):
        if t.ndim < 3:
            raise ValueError(
                f"dot_product_attention: {name} must be (..., tokens, heads, features), got {t.shape}"
            )
    depth = sum(q.shape[-1] for q in qs)
    scores = sum(jnp.einsum("...qhd,...khd->...hqk", q, k) for q, k in zip(qs, ks, strict=True))
    scores = scores * jnp.asarray(1.0 / math.sqrt(max(depth, 1)), scores.dtype)
    if mask is not None:
        m = _expand_mask(mask, qs[0].ndim - 3, "dot_product_attention mask")
        scores = jnp.where(m, scores, jnp.finfo(scores.dtype).min)
        weights = jax.nn.softmax(scores, axis=-1)
        weights = jnp.where(jnp.any(m, axis=-1, keepdims=True), weights, 0.0).astype(scores.dtype)
    else:
        weights = jax.nn.softmax(scores, axis=-1)
    outs = [jnp.einsum("...hqk,...khd->...qhd", weights, v) for v in vs]
    return EvenOdd(*outs) if isinstance(value, EvenOdd) else outs[0]


def layer_norm(
    x: Features,
    spec: ChiralSpec,
    scale: Array | None = None,
    bias: Array | None = None,
    *,
    epsilon: float = 1e-6,
    center_odd: bool = False,
) -> Features:
    """Per-token normalization over the channels of ``spec`` that commutes with the mirror.

    The even coordinates are centred by their mean (invariant); the odd ones are not shifted, or with
    ``center_odd`` by their own mean (which flips sign with them); the variance is taken over all
    coordinates (invariant). For a negation-free spec the plain channel mean is an even direction,
    so plain LayerNorm centres the even part only too: ``center_odd=False`` is its analogue.

    Args:
      x: ``(..., spec.size)`` or ``EvenOdd``.
      scale: free scale ``(spec.num_orbits,)`` (tied across left/right pairs) or None.
      bias: free shift ``(spec.num_even,)`` (even part only) or None.
    """
    h = input_even_odd(x, spec, "layer_norm input")
    even, odd = h.even, h.odd
    if even.shape[-1]:
        even = even - jnp.mean(even, axis=-1, keepdims=True)
    if center_odd and odd.shape[-1]:
        odd = odd - jnp.mean(odd, axis=-1, keepdims=True)
    n = spec.num_even + spec.num_odd
    var = (jnp.sum(jnp.square(even), -1, keepdims=True) + jnp.sum(jnp.square(odd), -1, keepdims=True)) / n
    inv = jax.lax.rsqrt(var + jnp.asarray(epsilon, var.dtype))
    even, odd = even * inv, odd * inv
    if scale is not None:
        s_even, s_odd = spec.orbits_to_halves(scale)
        even, odd = even * along_last_axis(s_even, even), odd * along_last_axis(s_odd, odd)
    return like_input(x, EvenOdd(add_bias(even, bias), odd), spec)


def token_embedding(free: dict[str, Array], tokens: TokenSpec) -> EvenOdd:
    """Learned per-token embeddings tied to the mirror: ``E[permutation[n]] = T_channels(E[n])``.

    In the even/odd basis a swapped pair ``(n, m)`` shares its even part and has opposite odd parts;
    a token the mirror keeps in place has no odd part (a frame or patch position, a center joint).

    Args:
      free: ``{"even": (tokens.num_orbits, nE), "odd": (tokens.num_pairs, nO)}``.

    Returns:
      ``EvenOdd`` of ``(N, nE)`` and ``(N, nO)`` (``from_even_odd(..., tokens.channel_spec)`` for channels).
    """
    cs = tokens.channel_spec
    want = {"even": (tokens.num_orbits, cs.num_even), "odd": (tokens.num_pairs, cs.num_odd)}
    for k, shape in want.items():
        got = tuple(free[k].shape) if k in free else None
        if got != shape:
            raise ValueError(
                f"token_embedding: free[{k!r}] must have shape {shape} for {tokens.num_tokens} "
                f"tokens, got {got}"
            )
    o = tokens.orbits
    even = free["even"][o["index"]]
    if tokens.num_pairs:
        sign = jnp.asarray(o["pair_sign"], free["odd"].dtype).reshape(-1, 1)
        odd = free["odd"][o["pair_index"]] * sign
    else:
        odd = jnp.zeros((tokens.num_tokens, cs.num_odd), free["odd"].dtype)
    return EvenOdd(even, odd)
