"""Transformer pose lifters after HybrIK-Transformer (Oreshkin), plain and exactly chiral.

Source tokens (the input) and target tokens (one per output joint, optionally one twist token per
output joint and one shape token) pass through ``layers`` blocks; linear heads read the targets.

**Source tokens** (``tokens=``):

* ``"joint"`` (default): one token per joint per frame, frame-major (token = frame * J + joint), the
  joint's 2D coordinates projected to the width, plus a joint embedding and a frame embedding;
* ``"frame"``: one token per frame (the whole 2D pose projected), plus a frame embedding;
* ``"feature_map"``: ``x`` is an ``(batch, H * W, C)`` feature map (``grid=(H, W)``, row-major),
  each patch projected, plus a learned 2D positional encoding. In the chiral net ``in_spec`` is the
  per-patch channel spec and the mirror flips the grid horizontally (``TokenSpec.grid``).

**Target tokens**: the sum of a joint embedding and an output-type embedding (joint / twist /
shape). **Block** (post-norm, as in the seed's code; ``relu`` after the norms of the attention
sublayers):

    s = relu(LN(s + SelfAttn(s, keys = kept sources)));   s = LN(s + FFN(s))
    t = relu(LN(t + SelfAttn(t)));   t = relu(LN(t + CrossAttn(t, s, keys = kept sources)))
    t = LN(t + FFN(t))

**Heads**: the 3D joints from the joint tokens (in the chiral net x from odd channels, y and z from
even ones: a chiral linear map into one joint's coordinates); ``twist=True``: ``(cos phi, sin phi)``
per output joint from its twist token (cos from even channels, sin from odd ones, so sin flips
under the mirror while left and right twist tokens swap), normalized to the unit circle;
``shape=k``: ``k`` mirror-invariant coefficients from the shape token's even channels.

**Call**: ``model(x, *, keep=None)``, ``x`` ``(batch, frames, in_spec.size)``, ``keep`` an optional
boolean ``(batch, number of source tokens)`` (False: the token is dropped: no query attends to it).
Returns ``(batch, out_spec.size)``, the pose of the window's centre frame; with ``twist`` or
``shape`` a dict ``{"joints": (batch, out_spec.size), "twist": (batch, J_out, 2),
"shape": (batch, shape)}`` (only the heads that exist).

The chiral net's hidden tokens use ``ChiralSpec.hidden(width)`` (negation-free: ReLU is exact) and
stay in the even/odd basis from the input projection to the heads.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.nn import (
    ChiralDropout,
    ChiralFeedForward,
    ChiralLayerNorm,
    ChiralMultiHeadAttention,
    ChiralTokenEmbedding,
    FeedForward,
    MultiHeadAttention,
    TokenLinear,
)
from chiral_jax.spec import ChiralSpec
from chiral_jax.tokens import TokenSpec, joint_channel_spec

__all__ = [
    "TOKEN_KINDS",
    "TWIST_SPEC",
    "ChiralTransformerLifter",
    "TransformerLifter",
    "source_tokens",
]

Array = jax.Array
Features = Array | EvenOdd
TOKEN_KINDS = ("joint", "frame", "feature_map")
TWIST_SPEC = ChiralSpec(left=(), right=(), center=(0,), dim=2, negated=(1,))
"""(cos phi, sin phi) of one twist angle: sin flips under the mirror."""


def _add(a: Features, b: Features) -> Features:
    return jax.tree.map(jnp.add, a, b)


def _check_kind(tokens: str, grid: tuple[int, int] | None) -> None:
    if tokens not in TOKEN_KINDS:
        raise ValueError(f"tokens must be one of {TOKEN_KINDS}, got {tokens!r}")
    if tokens == "feature_map" and (grid is None or len(grid) != 2 or min(grid) < 1):
        raise ValueError(f"tokens='feature_map' needs grid=(height, width), got grid={grid!r}")


def source_tokens(tokens: str, frames: int, num_joints: int, grid: tuple[int, int] | None = None) -> int:
    """Number of source tokens (the length of ``keep``'s last axis)."""
    if tokens == "joint":
        return frames * num_joints
    if tokens == "frame":
        return frames
    return int(grid[0]) * int(grid[1])


class _LifterBase(nnx.Module):
    """The block flow shared by both lifters; subclasses build the layers and the token I/O."""

    def _relu(self, h: Features) -> Features:
        raise NotImplementedError

    def _blocks(self, s: Features, t: Features, keep: Array | None) -> Features:
        for blk in self.blocks:
            s = self._relu(blk.ln_s1(_add(s, self.drop(blk.self_s(s, mask=keep)))))
            s = blk.ln_s2(_add(s, self.drop(blk.ffn_s(s))))
            t = self._relu(blk.ln_t1(_add(t, self.drop(blk.self_t(t)))))
            t = self._relu(blk.ln_t2(_add(t, self.drop(blk.cross(t, s, mask=keep)))))
            t = blk.ln_t3(_add(t, self.drop(blk.ffn_t(t))))
        return t

    def _check_call(self, x: Array, keep: Array | None) -> None:
        if self.tokens == "feature_map":
            want = (self.num_source, self.in_features)
            what = f"(batch, {want[0]} patches (H*W), {want[1]} channels)"
        else:
            want = (self.frames, self.in_features)
            what = f"(batch, {want[0]} frames, {want[1]} channels)"
        if x.ndim != 3 or tuple(x.shape[1:]) != want:
            raise ValueError(f"{type(self).__name__}: expected x of shape {what}, got {tuple(x.shape)}")
        if keep is not None:
            if (
                tuple(jnp.shape(keep)) != (x.shape[0], self.num_source)
                or jnp.asarray(keep).dtype != jnp.bool_
            ):
                raise ValueError(
                    f"{type(self).__name__}: keep must be boolean (batch, {self.num_source}) (one flag per "
                    f"source token), got {jnp.asarray(keep).dtype} {tuple(jnp.shape(keep))}"
                )

    def _outputs(self, joints: Array, twist: Array | None, shape: Array | None) -> Array | dict[str, Array]:
        if not self.twist and not self.shape:
            return joints
        out = {"joints": joints}
        if self.twist:
            norm = jnp.sqrt(jnp.sum(jnp.square(twist), axis=-1, keepdims=True) + 1e-12)
            out["twist"] = twist / norm
        if self.shape:
            out["shape"] = shape
        return out


class _Block(nnx.Module):
    def __init__(self, **layers: Any):
        for k, v in layers.items():
            setattr(self, k, v)


class ChiralTransformerLifter(_LifterBase):
    """The exactly chiral transformer lifter: ``model(T_in x, keep=mirror(keep)) = T_out model(x)``.

    Args:
      in_spec: spec of one frame's 2D pose (``tokens="joint" | "frame"``) or of one feature-map patch
        (``"feature_map"``).
      out_spec: spec of the 3D output pose.
      frames: frames per input window (``"feature_map"``: unused).
      layers, heads, width, ffn_layers, dropout: the seed's L = 6, 8 heads, d = 512, 3-layer FFN of
        width d, dropout 0.1; ``width`` must be a multiple of ``2 * heads``.
      tokens: ``"joint"`` | ``"frame"`` | ``"feature_map"`` (with ``grid=(H, W)``).
      twist: add one twist token per output joint and return its (cos, sin).
      shape: add one shape token and return ``shape`` invariant coefficients (0: none).
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        out_spec: ChiralSpec,
        *,
        frames: int,
        layers: int = 6,
        heads: int = 8,
        width: int = 512,
        ffn_layers: int = 3,
        dropout: float = 0.1,
        tokens: str = "joint",
        grid: tuple[int, int] | None = None,
        twist: bool = False,
        shape: int = 0,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        _check_kind(tokens, grid)
        if width % (2 * heads):
            raise ValueError(f"width must be a multiple of 2 * heads = {2 * heads}, got {width}")
        self.in_spec, self.out_spec, self.tokens = in_spec, out_spec, tokens
        self.frames, self.twist, self.shape = int(frames), bool(twist), int(shape)
        self.in_features = in_spec.size
        self.width_spec = w = ChiralSpec.hidden(width, num_centers=0)
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        # ---- source
        if tokens == "joint":
            self.token_in = joint_channel_spec(in_spec)
            self.source_spec = TokenSpec.joints(in_spec, w, frames=self.frames)
            self.joint_embedding = ChiralTokenEmbedding(TokenSpec.joints(in_spec, w), **kw)
            self.position = ChiralTokenEmbedding(TokenSpec.fixed(self.frames, w), **kw)
        elif tokens == "frame":
            self.token_in = in_spec
            self.source_spec = TokenSpec.fixed(self.frames, w)
            self.position = ChiralTokenEmbedding(self.source_spec, **kw)
        else:
            self.token_in = in_spec
            self.source_spec = TokenSpec.grid(grid[0], grid[1], w)
            self.position = ChiralTokenEmbedding(self.source_spec, **kw)
        self.num_source = self.source_spec.num_tokens
        self.project = TokenLinear(self.token_in, w, **kw)
        # ---- targets: joints [+ twist per joint] [+ one shape token]
        j_out = out_spec.num_joints
        self.target_joint = ChiralTokenEmbedding(TokenSpec.joints(out_spec, w), **kw)
        self.target_type = ChiralTokenEmbedding(TokenSpec.fixed(3, w), **kw)  # joint, twist, shape
        target = TokenSpec.joints(out_spec, w)
        if self.twist:
            target = target.concat(TokenSpec.joints(out_spec, w))
        if self.shape:
            target = target.concat(TokenSpec.fixed(1, w))
        self.target_spec, self.num_joints_out = target, j_out

        # ---- blocks
        def attn(kv: TokenSpec | None = None) -> ChiralMultiHeadAttention:
            return ChiralMultiHeadAttention(w, w, heads, kv_spec=kv, qkv_features=width, **kw)

        def ffn() -> ChiralFeedForward:
            return ChiralFeedForward(w, w, layers=ffn_layers, dropout=dropout, **kw)

        def ln() -> ChiralLayerNorm:
            return ChiralLayerNorm(w, dtype=dtype, param_dtype=param_dtype)

        self.blocks = nnx.List(
            [
                _Block(
                    self_s=attn(), ln_s1=ln(), ffn_s=ffn(), ln_s2=ln(),
                    self_t=attn(), ln_t1=ln(), cross=attn(w), ln_t2=ln(), ffn_t=ffn(), ln_t3=ln(),
                )
                for _ in range(int(layers))
            ]
        )  # fmt: skip
        self.drop = ChiralDropout(dropout, rngs=rngs)
        # ---- heads
        self.joint_head = TokenLinear(w, joint_channel_spec(out_spec), **kw)
        self.twist_head = TokenLinear(w, TWIST_SPEC, **kw) if self.twist else None
        self.shape_head = TokenLinear(w, ChiralSpec.invariant(self.shape), **kw) if self.shape else None

    def _relu(self, h: Features) -> Features:
        return functional.activation(h, "relu", self.width_spec, check=False)

    def _source(self, x: Array) -> EvenOdd:
        b = x.shape[0]
        if self.tokens == "joint":
            j = self.in_spec.num_joints
            h = self.project(to_even_odd(x.reshape(b, self.frames * j, self.in_spec.dim), self.token_in))
            pos = _add(
                jax.tree.map(lambda a: a[None, :, :], self.joint_embedding(even_odd=True)),
                jax.tree.map(lambda a: a[:, None, :], self.position(even_odd=True)),
            )  # (frames, J, .)
            pos = jax.tree.map(lambda a: a.reshape(self.frames * j, a.shape[-1])[None], pos)
        else:
            h = self.project(to_even_odd(x, self.token_in))
            pos = jax.tree.map(lambda a: a[None], self.position(even_odd=True))
        return _add(h, pos)

    def _targets(self, batch: int) -> EvenOdd:
        joint = self.target_joint(even_odd=True)
        types = self.target_type(even_odd=True)
        parts = [_add(joint, jax.tree.map(lambda a: a[0:1], types))]
        if self.twist:
            parts.append(_add(joint, jax.tree.map(lambda a: a[1:2], types)))
        if self.shape:
            parts.append(jax.tree.map(lambda a: a[2:3], types))
        t = jax.tree.map(lambda *a: jnp.concatenate(a, axis=0), *parts)
        return jax.tree.map(lambda a: jnp.broadcast_to(a[None], (batch, *a.shape)), t)

    def __call__(self, x: Array, *, keep: Array | None = None) -> Array | dict[str, Array]:
        self._check_call(x, keep)
        t = self._blocks(self._source(x), self._targets(x.shape[0]), keep)
        j = self.num_joints_out
        joints = from_even_odd(
            self.joint_head(jax.tree.map(lambda a: a[:, :j], t)), joint_channel_spec(self.out_spec)
        )
        joints = joints.reshape(x.shape[0], self.out_spec.size)
        twist = shape = None
        if self.twist:
            twist = from_even_odd(self.twist_head(jax.tree.map(lambda a: a[:, j : 2 * j], t)), TWIST_SPEC)
        if self.shape:
            shape = self.shape_head(jax.tree.map(lambda a: a[:, -1], t)).even
        return self._outputs(joints, twist, shape)


class TransformerLifter(_LifterBase):
    """The plain transformer lifter (same structure, arguments and call as the chiral one).

    Args:
      in_features: channels of one frame's 2D pose (``joint`` tokens: ``joints * in_dim``) or of one
        feature-map patch.
      out_features: ``joints_out * out_dim``.
      in_dim, out_dim: coordinates per joint of input and output (2 and 3).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        frames: int,
        in_dim: int = 2,
        out_dim: int = 3,
        layers: int = 6,
        heads: int = 8,
        width: int = 512,
        ffn_layers: int = 3,
        dropout: float = 0.1,
        tokens: str = "joint",
        grid: tuple[int, int] | None = None,
        twist: bool = False,
        shape: int = 0,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        _check_kind(tokens, grid)
        if width % heads:
            raise ValueError(f"width must be a multiple of heads = {heads}, got {width}")
        if (tokens == "joint" and in_features % in_dim) or out_features % out_dim:
            raise ValueError(
                f"in_features {in_features} / out_features {out_features} must be multiples of "
                f"in_dim {in_dim} / out_dim {out_dim}"
            )
        self.in_features, self.out_features, self.tokens = in_features, out_features, tokens
        self.in_dim, self.out_dim = in_dim, out_dim
        self.frames, self.twist, self.shape = int(frames), bool(twist), int(shape)
        self.joints_in, self.num_joints_out = in_features // in_dim, out_features // out_dim
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        emb = jax.nn.initializers.normal(0.02)
        if tokens == "joint":
            self.project = nnx.Linear(in_dim, width, **kw)
            self.joint_embedding = nnx.Param(emb(rngs.params(), (self.joints_in, width), param_dtype))
            n_pos = self.frames
        else:
            self.project = nnx.Linear(in_features, width, **kw)
            n_pos = self.frames if tokens == "frame" else int(grid[0]) * int(grid[1])
        self.position = nnx.Param(emb(rngs.params(), (n_pos, width), param_dtype))
        self.num_source = source_tokens(tokens, self.frames, self.joints_in, grid)
        self.target_joint = nnx.Param(emb(rngs.params(), (self.num_joints_out, width), param_dtype))
        self.target_type = nnx.Param(emb(rngs.params(), (3, width), param_dtype))

        def attn() -> MultiHeadAttention:
            return MultiHeadAttention(width, width, heads, qkv_features=width, **kw)

        def ffn() -> FeedForward:
            return FeedForward(width, width, layers=ffn_layers, dropout=dropout, **kw)

        def ln() -> nnx.LayerNorm:
            return nnx.LayerNorm(width, epsilon=1e-6, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

        self.blocks = nnx.List(
            [
                _Block(
                    self_s=attn(), ln_s1=ln(), ffn_s=ffn(), ln_s2=ln(),
                    self_t=attn(), ln_t1=ln(), cross=attn(), ln_t2=ln(), ffn_t=ffn(), ln_t3=ln(),
                )
                for _ in range(int(layers))
            ]
        )  # fmt: skip
        self.drop = ChiralDropout(dropout, rngs=rngs)
        self.joint_head = nnx.Linear(width, out_dim, **kw)
        self.twist_head = nnx.Linear(width, 2, **kw) if self.twist else None
        self.shape_head = nnx.Linear(width, self.shape, **kw) if self.shape else None

    def _relu(self, h: Array) -> Array:
        return jax.nn.relu(h)

    def _source(self, x: Array) -> Array:
        b = x.shape[0]
        if self.tokens == "joint":
            j = self.joints_in
            h = self.project(x.reshape(b, self.frames * j, self.in_dim))
            pos = self.joint_embedding[...][None, :, :] + self.position[...][:, None, :]
            return h + pos.reshape(1, self.frames * j, -1).astype(h.dtype)
        h = self.project(x)
        return h + self.position[...][None].astype(h.dtype)

    def _targets(self, batch: int, dtype: Any) -> Array:
        joint, types = self.target_joint[...], self.target_type[...]
        parts = [joint + types[0:1]]
        if self.twist:
            parts.append(joint + types[1:2])
        if self.shape:
            parts.append(types[2:3])
        t = jnp.concatenate(parts, axis=0).astype(dtype)
        return jnp.broadcast_to(t[None], (batch, *t.shape))

    def __call__(self, x: Array, *, keep: Array | None = None) -> Array | dict[str, Array]:
        self._check_call(x, keep)
        s = self._source(x)
        t = self._blocks(s, self._targets(x.shape[0], s.dtype), keep)
        j = self.num_joints_out
        joints = self.joint_head(t[:, :j]).reshape(x.shape[0], self.out_features)
        twist = self.twist_head(t[:, j : 2 * j]) if self.twist else None
        shape = self.shape_head(t[:, -1]) if self.shape else None
        return self._outputs(joints, twist, shape)
