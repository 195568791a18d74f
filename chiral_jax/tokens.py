"""How a mirror acts on a *set of tokens*: a token permutation and, inside every token, a channel spec.

A token set ``X`` has shape ``(..., N, C)``. The mirror sends token ``n`` to the place of token
``permutation[n]`` and acts on its channels with ``channel_spec``:

    T(X)[..., n, :] = channel_spec.transform(X[..., permutation[n], :])

``permutation`` is an involution (``p[p[n]] == n``): a joint token goes to its mirror joint's
token, a frame token stays in place, an image patch goes to the horizontally mirrored patch. Key
masks and token-keep masks ``(..., N)`` are mirrored with their tokens (``mask[..., permutation]``).

Framework-free (numpy / JAX only), like :mod:`chiral_jax.spec`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from chiral_jax.spec import ChiralSpec

__all__ = ["TokenSpec", "joint_channel_spec"]


def joint_channel_spec(spec: ChiralSpec) -> ChiralSpec:
    """The channel spec of one joint token of a pose spec: ``spec.dim`` coordinates, the ones in
    ``spec.negated`` negated (e.g. (x, y) with x negated); the joint swap is the token permutation."""
    return ChiralSpec(left=(), right=(), center=(0,), dim=spec.dim, negated=spec.negated)


@dataclasses.dataclass(frozen=True)
class TokenSpec:
    """The mirror on a token set ``(..., N, C)``.

    Attributes:
      permutation: (N,) ints, an involution: token ``n``'s mirror partner.
      channel_spec: the mirror inside each token (``C = channel_spec.size`` channels).
    """

    permutation: tuple[int, ...]
    channel_spec: ChiralSpec

    def __post_init__(self) -> None:
        try:
            perm = tuple(int(p) for p in self.permutation)
        except TypeError as err:
            raise TypeError(
                f"TokenSpec.permutation must be a sequence of ints, got {self.permutation!r}"
            ) from err
        if not isinstance(self.channel_spec, ChiralSpec):
            raise TypeError(
                f"TokenSpec.channel_spec must be a ChiralSpec, got {type(self.channel_spec).__name__}"
            )
        n = len(perm)
        if n == 0:
            raise ValueError("TokenSpec: the permutation is empty (no tokens)")
        if sorted(perm) != list(range(n)):
            raise ValueError(
                f"TokenSpec: permutation must be a permutation of 0..{n - 1} (each token once), got {perm}"
            )
        bad = [i for i in range(n) if perm[perm[i]] != i]
        if bad:
            i = bad[0]
            raise ValueError(
                f"TokenSpec: permutation must be an involution (the mirror of the mirror is the "
                f"identity), but token {i} -> {perm[i]} -> {perm[perm[i]]}"
            )
        object.__setattr__(self, "permutation", perm)

    # ----------------------------------------------------------------- factories

    @classmethod
    def fixed(cls, num_tokens: int, channel_spec: ChiralSpec) -> TokenSpec:
        """Tokens the mirror leaves in place (frames, a shape token): only channels change."""
        return cls(tuple(range(int(num_tokens))), channel_spec)

    @classmethod
    def joints(cls, spec: ChiralSpec, channel_spec: ChiralSpec, *, frames: int = 1) -> TokenSpec:
        """One token per joint of ``spec`` (per frame, frame-major: token = frame * J + joint)."""
        j = spec.num_joints
        perm = (np.arange(frames)[:, None] * j + spec.joint_permutation[None, :]).reshape(-1)
        return cls(tuple(perm), channel_spec)

    @classmethod
    def pose(cls, spec: ChiralSpec, *, frames: int = 1) -> TokenSpec:
        """The joint tokens of a pose: each token holds one joint's ``spec.dim`` coordinates, so
        ``x.reshape(..., frames * J, dim)`` of a ``(..., frames, spec.size)`` pose window."""
        return cls.joints(spec, joint_channel_spec(spec), frames=frames)

    @classmethod
    def grid(cls, height: int, width: int, channel_spec: ChiralSpec) -> TokenSpec:
        """Patches of an (H, W) feature map, row-major (token = row * W + column); the mirror flips
        the image horizontally (column ``c`` -> ``W - 1 - c``)."""
        rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
        return cls(tuple((rows * width + (width - 1 - cols)).reshape(-1)), channel_spec)

    def with_channels(self, channel_spec: ChiralSpec) -> TokenSpec:
        """The same tokens with another channel spec (what a per-token layer maps to)."""
        return TokenSpec(self.permutation, channel_spec)

    def concat(self, other: TokenSpec) -> TokenSpec:
        """Two token sets side by side (``[self tokens, other tokens]``), one channel spec."""
        if other.channel_spec != self.channel_spec:
            raise ValueError(
                f"TokenSpec.concat: channel specs differ ({self.channel_spec!r} vs {other.channel_spec!r})"
            )
        n = self.num_tokens
        return TokenSpec(self.permutation + tuple(p + n for p in other.permutation), self.channel_spec)

    # ----------------------------------------------------------------- facts

    @property
    def num_tokens(self) -> int:
        return len(self.permutation)

    @property
    def size(self) -> int:
        """Channels per token."""
        return self.channel_spec.size

    @functools.cached_property
    def perm_array(self) -> np.ndarray:
        out = np.asarray(self.permutation, np.int64)
        out.flags.writeable = False
        return out

    @functools.cached_property
    def orbits(self) -> dict[str, np.ndarray]:
        """Token orbits under the mirror, for tied embeddings.

        ``index`` (N,): each token's orbit (orbits ordered by their smaller token);
        ``pair_index`` (N,): each token's pair among the swapped pairs (0 for fixed tokens);
        ``pair_sign`` (N,): +1 on a pair's smaller token, -1 on its partner, 0 on fixed tokens.
        """
        perm = self.perm_array
        reps = [n for n in range(self.num_tokens) if n <= perm[n]]
        pairs = [n for n in reps if n < perm[n]]
        orbit_of = {n: k for k, n in enumerate(reps)}
        pair_of = {n: k for k, n in enumerate(pairs)}
        index = np.array([orbit_of[min(n, perm[n])] for n in range(self.num_tokens)], np.int64)
        pair_index = np.array([pair_of.get(min(n, perm[n]), 0) for n in range(self.num_tokens)], np.int64)
        sign = np.array(
            [0.0 if perm[n] == n else (1.0 if n < perm[n] else -1.0) for n in range(self.num_tokens)]
        )
        return {
            "index": index,
            "pair_index": pair_index,
            "pair_sign": sign,
            "num_pairs": np.array(len(pairs)),
        }

    @property
    def num_orbits(self) -> int:
        return int(self.orbits["index"].max()) + 1

    @property
    def num_pairs(self) -> int:
        return int(self.orbits["num_pairs"])

    def check_tokens(self, x: Any, what: str = "input") -> None:
        """Raises ValueError unless ``x`` is ``(..., num_tokens, size)``."""
        shape = tuple(getattr(x, "shape", ()))
        if len(shape) < 2 or shape[-2:] != (self.num_tokens, self.size):
            raise ValueError(
                f"{what}: expected tokens of shape (..., {self.num_tokens}, {self.size}) "
                f"({self.num_tokens} tokens x {self.size} channels), got {shape}"
            )

    def check_mask(self, mask: Any, what: str = "mask") -> None:
        shape = tuple(getattr(mask, "shape", ()))
        if len(shape) < 1 or shape[-1] != self.num_tokens:
            raise ValueError(f"{what}: expected a (..., {self.num_tokens}) token mask, got shape {shape}")

    def transform(self, x: Any) -> Any:
        """The mirror on ``(..., N, C)``: tokens permuted, channels mirrored."""
        self.check_tokens(x, "TokenSpec.transform")
        return self.channel_spec.transform(x[..., self.perm_array, :])

    def transform_mask(self, mask: Any) -> Any:
        """A per-token mask ``(..., N)`` mirrored with its tokens."""
        self.check_mask(mask, "TokenSpec.transform_mask")
        return mask[..., self.perm_array]

    def flat_spec(self) -> ChiralSpec | None:
        """The same action on the flattened ``(..., N * C)`` vector as a :class:`ChiralSpec`, when
        one exists (the channel spec must be a single center joint: then tokens are its joints);
        None otherwise."""
        cs = self.channel_spec
        if cs.num_joints != 1:
            return None
        perm = self.perm_array
        left = tuple(int(n) for n in range(self.num_tokens) if n < perm[n])
        return ChiralSpec(
            left=left,
            right=tuple(int(perm[n]) for n in left),
            center=tuple(int(n) for n in range(self.num_tokens) if perm[n] == n),
            dim=cs.dim,
            negated=cs.negated,
        )
