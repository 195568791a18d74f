"""Chirality specifications: how a mirror acts on a flat pose (or feature) vector.

A pose vector lists joints x coordinates, flattened joint-major: ``channel = joint * dim + coord``.
The mirror ``T`` swaps each left joint with its right partner and negates the coordinates listed in
``negated``; it is a signed permutation with ``T @ T = id``:

    T(x)_i = s_i * x_{pi(i)}

Because ``T`` is an involution, the channel space splits into the even part ``E`` (``T = +1``) and
the odd part ``O`` (``T = -1``). :meth:`ChiralSpec.split` maps a vector to its coordinates in an
orthonormal basis of ``E`` and ``O`` with O(N) additions, :meth:`ChiralSpec.merge` maps back.

The basis, per channel orbit (see docs/design.md section 2):

* a pair ``(i, j = pi(i))`` with common sign ``s`` gives ``u = (x_i + s x_j) / sqrt(2)`` in ``E`` and
  ``v = (x_i - s x_j) / sqrt(2)`` in ``O``;
* a center channel goes to ``E`` if it is not negated, else to ``O``.

Layout: ``even = [u of every pair channel (P), non-negated center channels]`` and
``odd = [v of every pair channel (P), negated center channels]``. The first ``P`` entries of both
halves belong to the same pairs, in the same order, which lets elementwise functions and batch norm
act on the halves without going back to the channel basis.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

__all__ = ["ChiralSpec", "along_last_axis"]

_SQRT_HALF = 1.0 / math.sqrt(2.0)


def _as_index_tuple(name: str, values: Any) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in values)
    except TypeError as err:
        raise TypeError(f"ChiralSpec.{name} must be a sequence of ints, got {values!r}") from err
    for v, orig in zip(out, values, strict=True):
        if v != orig:
            raise TypeError(f"ChiralSpec.{name} must hold integers, got {orig!r}")
    return out


def _contiguous(idx: np.ndarray) -> slice | None:
    """Returns ``slice(a, b)`` when ``idx == arange(a, b)`` (a cheap slice instead of a gather)."""
    if idx.size == 0:
        return slice(0, 0)
    if np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0] + idx.size))
    return None


def _take(x: Any, idx: np.ndarray) -> Any:
    """``x[..., idx]`` for numpy and jax arrays, as a slice when ``idx`` is contiguous."""
    sl = _contiguous(idx)
    if sl is not None:
        return x[..., sl]
    return x[..., idx]


def _xp(x: Any) -> Any:
    """The array namespace of ``x``: numpy for numpy inputs (and Python scalars), else jax.numpy."""
    if isinstance(x, np.ndarray | np.generic | float | int):
        return np
    import jax.numpy as jnp  # local import: the spec module stays usable without touching JAX

    return jnp


def along_last_axis(v: Any, x: Any) -> Any:
    """Reshapes a vector ``v`` (n,) to ``(1, ..., 1, n)`` to broadcast against ``x`` explicitly
    (keeps the library usable under ``jax_numpy_rank_promotion="raise"``)."""
    return v.reshape((1,) * (x.ndim - 1) + (v.shape[-1],))


@dataclasses.dataclass(frozen=True)
class ChiralSpec:
    """How the mirror acts on the last axis of an array.

    Attributes:
      left: joint indices on the left; ``left[i]`` mirrors ``right[i]``.
      right: joint indices on the right, paired with ``left`` by position.
      center: joints mapped to themselves. ``left + right + center`` must cover
        ``0 .. J-1`` exactly once, in any order.
      dim: coordinates per joint (2 for image poses, 3 for 3D poses, 1 for hidden features).
      negated: coordinate indices (``0 <= d < dim``) whose sign the mirror flips (x is 0).
    """

    left: tuple[int, ...]
    right: tuple[int, ...]
    center: tuple[int, ...] = ()
    dim: int = 1
    negated: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("left", "right", "center", "negated"):
            object.__setattr__(self, name, _as_index_tuple(name, getattr(self, name)))
        if isinstance(self.dim, bool) or not isinstance(self.dim, int | np.integer) or self.dim < 1:
            raise ValueError(f"ChiralSpec.dim must be a positive int, got {self.dim!r}")
        object.__setattr__(self, "dim", int(self.dim))
        if len(self.left) != len(self.right):
            raise ValueError(
                "ChiralSpec: left and right must pair up joint by joint, but left has "
                f"{len(self.left)} joints {self.left} and right has {len(self.right)} {self.right}"
            )
        joints = self.left + self.right + self.center
        if len(joints) == 0:
            raise ValueError("ChiralSpec: no joints given (left, right and center are all empty)")
        num_joints = len(joints)
        seen: dict[int, str] = {}
        for name in ("left", "right", "center"):
            for j in getattr(self, name):
                if j < 0 or j >= num_joints:
                    raise ValueError(
                        f"ChiralSpec: joint {j} in {name} is out of range; with {num_joints} joints "
                        f"given, indices must cover 0..{num_joints - 1} exactly once"
                    )
                if j in seen:
                    raise ValueError(
                        f"ChiralSpec: joint {j} appears twice (in {seen[j]} and in {name}); each "
                        "joint must be listed exactly once in left, right or center"
                    )
                seen[j] = name
        for d in self.negated:
            if d < 0 or d >= self.dim:
                raise ValueError(
                    f"ChiralSpec: negated coordinate {d} is out of range for dim={self.dim} "
                    f"(expected indices in 0..{self.dim - 1}), got negated={self.negated}"
                )
        if len(set(self.negated)) != len(self.negated):
            raise ValueError(f"ChiralSpec: negated lists a coordinate twice: {self.negated}")

    # ----------------------------------------------------------------- factories

    @classmethod
    def hidden(cls, channels: int, *, negated: bool = False, num_centers: int | None = None) -> ChiralSpec:
        """A spec for ``channels`` hidden features, laid out contiguously.

        Channels ``[0, P)`` are left, ``[P, 2P)`` their right partners, ``[2P, channels)`` centers,
        so split and merge are slices and adds. Any channel count works, independently of the
        skeleton the network reads.

        Args:
          channels: number of features.
          negated: if True every channel changes sign under the mirror (odd activations such as
            tanh only; the paper's choice); if False the mirror is a pure permutation and any
            elementwise activation (ReLU, GELU) keeps the net exactly equivariant.
          num_centers: self-mirrored channels; default ``channels % 2`` (the most balanced split).
            Without negation the even part has ``P + num_centers`` channels and the odd part ``P``;
            with negation it is the other way round.
        """
        if not isinstance(channels, int | np.integer) or channels < 1:
            raise ValueError(f"ChiralSpec.hidden: channels must be a positive int, got {channels!r}")
        if num_centers is None:
            num_centers = channels % 2
        if not 0 <= num_centers <= channels or (channels - num_centers) % 2:
            raise ValueError(
                f"ChiralSpec.hidden: num_centers must be in 0..{channels} with channels - num_centers "
                f"even (pairs), got channels={channels}, num_centers={num_centers}"
            )
        pairs = (channels - num_centers) // 2
        return cls(
            left=tuple(range(pairs)),
            right=tuple(range(pairs, 2 * pairs)),
            center=tuple(range(2 * pairs, channels)),
            dim=1,
            negated=(0,) if negated else (),
        )

    @classmethod
    def hidden_ratio(cls, channels: int, *, even_fraction: float, negated: bool = False) -> ChiralSpec:
        """A hidden spec whose even part holds about ``even_fraction`` of the channels.

        Without negation the even fraction is at least 1/2 (centers are even); with negation at
        most 1/2 (centers are odd).
        """
        odd_or_even_extra = even_fraction if not negated else 1.0 - even_fraction
        if not 0.5 <= odd_or_even_extra <= 1.0:
            side = "at least" if not negated else "at most"
            raise ValueError(
                f"ChiralSpec.hidden_ratio: with negated={negated} the even fraction must be {side} "
                f"0.5, got {even_fraction}"
            )
        centers = round((2 * odd_or_even_extra - 1.0) * channels)
        if (channels - centers) % 2:
            centers += 1 if centers < channels else -1
        return cls.hidden(channels, negated=negated, num_centers=centers)

    @classmethod
    def invariant(cls, channels: int) -> ChiralSpec:
        """Channels the mirror leaves unchanged (class scores): centers only, nothing negated."""
        if not isinstance(channels, int | np.integer) or channels < 1:
            raise ValueError(f"ChiralSpec.invariant: channels must be a positive int, got {channels!r}")
        return cls(left=(), right=(), center=tuple(range(channels)), dim=1, negated=())

    def unsigned(self) -> ChiralSpec:
        """The same joint permutation without signs (nothing negated).

        The representation of recurrent gates: any elementwise function (``sigmoid``) commutes with
        a pure permutation, and a gate multiplies a state of ``self`` elementwise into ``self``.
        """
        if not self.negated:
            return self
        return ChiralSpec(self.left, self.right, self.center, self.dim, negated=())

    # ----------------------------------------------------------------- basic facts

    @property
    def num_joints(self) -> int:
        return len(self.left) + len(self.right) + len(self.center)

    @property
    def size(self) -> int:
        """Number of channels, ``num_joints * dim``."""
        return self.num_joints * self.dim

    @functools.cached_property
    def joint_permutation(self) -> np.ndarray:
        """(num_joints,) int: the mirror partner of each joint."""
        perm = np.arange(self.num_joints)
        perm[list(self.left)] = self.right
        perm[list(self.right)] = self.left
        return perm

    @functools.cached_property
    def permutation(self) -> np.ndarray:
        """(size,) int: ``T(x)_i = signs[i] * x[permutation[i]]``."""
        perm = self.joint_permutation[:, None] * self.dim + np.arange(self.dim)[None, :]
        out = perm.reshape(-1)
        out.flags.writeable = False
        return out

    @functools.cached_property
    def signs(self) -> np.ndarray:
        """(size,) float: -1 on negated coordinates, +1 elsewhere."""
        coord = np.ones(self.dim)
        coord[list(self.negated)] = -1.0
        out = np.tile(coord, self.num_joints)
        out.flags.writeable = False
        return out

    @property
    def has_negated(self) -> bool:
        return len(self.negated) > 0

    def matrix(self) -> np.ndarray:
        """(size, size) float64 ``M`` with ``T(x) = M @ x`` for a column vector ``x``."""
        m = np.zeros((self.size, self.size))
        m[np.arange(self.size), self.permutation] = self.signs
        return m

    # ----------------------------------------------------------------- even / odd basis

    @functools.cached_property
    def _basis(self) -> dict[str, np.ndarray]:
        d = np.arange(self.dim)
        left = (np.asarray(self.left, dtype=np.int64)[:, None] * self.dim + d).reshape(-1)
        right = (np.asarray(self.right, dtype=np.int64)[:, None] * self.dim + d).reshape(-1)
        center = (np.asarray(self.center, dtype=np.int64)[:, None] * self.dim + d).reshape(-1)
        pair_sign = self.signs[left] if left.size else np.zeros(0)
        center_neg = self.signs[center] < 0 if center.size else np.zeros(0, bool)
        center_even, center_odd = center[~center_neg], center[center_neg]
        # Channel order of merge's output before the final permutation back to channel order.
        order = np.concatenate([left, right, center_even, center_odd]).astype(np.int64)
        return {
            "left": left,
            "right": right,
            "pair_sign": pair_sign,
            "center_even": center_even,
            "center_odd": center_odd,
            "inverse_order": np.argsort(order),
        }

    @property
    def num_pairs(self) -> int:
        """Number of paired channels ``P`` (left joints x dim); the first ``P`` of both halves."""
        return int(self._basis["left"].size)

    @property
    def num_even(self) -> int:
        return self.num_pairs + int(self._basis["center_even"].size)

    @property
    def num_odd(self) -> int:
        return self.num_pairs + int(self._basis["center_odd"].size)

    @property
    def num_orbits(self) -> int:
        """Channel orbits under the mirror: pairs plus center channels (tied batch-norm scales)."""
        return self.size - self.num_pairs

    def orbits_to_halves(self, values: Any) -> tuple[Any, Any]:
        """Per-orbit values (num_orbits,) -> their copies on the even and odd halves.

        Orbit order: ``[pairs (P), even centers, odd centers]``. A pair's value lands on its ``u``
        (even) and its ``v`` (odd) coordinate alike: a per-channel scale shared by both members of
        a pair is the same scale in the even/odd basis.
        """
        p, n_even = self.num_pairs, self.num_even
        pairs, center_even, center_odd = values[..., :p], values[..., p:n_even], values[..., n_even:]
        xp = _xp(values)
        return (
            xp.concatenate([pairs, center_even], axis=-1),
            xp.concatenate([pairs, center_odd], axis=-1),
        )

    def orbits_to_channels(self, values: Any) -> Any:
        """Per-orbit values (num_orbits,) -> per-channel (size,) (both pair members get the value)."""
        p, n_even = self.num_pairs, self.num_even
        pairs = values[..., :p]
        stacked = _xp(values).concatenate([pairs, pairs, values[..., p:n_even], values[..., n_even:]], -1)
        return _take(stacked, self._basis["inverse_order"])

    def channels_to_orbits(self, values: Any) -> Any:
        """Per-channel (size,) -> per-orbit (num_orbits,), averaging each pair (left-inverse of
        :meth:`orbits_to_channels`; the nearest orbit-constant vector in the least-squares sense)."""
        b = self._basis
        pairs = (_take(values, b["left"]) + _take(values, b["right"])) * 0.5
        return _xp(values).concatenate(
            [pairs, _take(values, b["center_even"]), _take(values, b["center_odd"])], axis=-1
        )

    def check_channels(self, x: Any, what: str = "input") -> None:
        """Raises ValueError unless the last axis of ``x`` has ``size`` channels."""
        shape = getattr(x, "shape", None)
        if shape is None or len(shape) == 0 or shape[-1] != self.size:
            got = "a scalar" if not shape else f"{shape[-1]} (shape {tuple(shape)})"
            raise ValueError(
                f"{what}: expected {self.size} channels on the last axis ({self.num_joints} joints x "
                f"{self.dim} coords), got {got}"
            )

    def transform(self, x: Any) -> Any:
        """The mirror ``T`` on the last axis of a numpy or jax array of any leading shape."""
        self.check_channels(x, "ChiralSpec.transform")
        xp = _xp(x)
        signs = xp.asarray(self.signs, dtype=x.dtype)
        return x[..., self.permutation] * along_last_axis(signs, x)

    def split(self, x: Any) -> tuple[Any, Any]:
        """(..., size) -> ((..., num_even), (..., num_odd)), orthonormal coordinates in E and O."""
        self.check_channels(x, "ChiralSpec.split")
        b = self._basis
        xp = _xp(x)
        a = _take(x, b["left"])
        c = _take(x, b["right"])
        if self.num_pairs and np.any(b["pair_sign"] < 0):
            c = c * along_last_axis(xp.asarray(b["pair_sign"], dtype=x.dtype), c)
        u = (a + c) * _SQRT_HALF
        v = (a - c) * _SQRT_HALF
        even = xp.concatenate([u, _take(x, b["center_even"])], axis=-1)
        odd = xp.concatenate([v, _take(x, b["center_odd"])], axis=-1)
        return even, odd

    def merge(self, even: Any, odd: Any) -> Any:
        """Inverse (and transpose) of :meth:`split`: ((..., num_even), (..., num_odd)) -> (..., size)."""
        for part, want, name in ((even, self.num_even, "even"), (odd, self.num_odd, "odd")):
            if part.shape[-1] != want:
                raise ValueError(
                    f"ChiralSpec.merge: expected {want} {name} channels, got shape {tuple(part.shape)}"
                )
        b = self._basis
        xp = _xp(even)
        p = self.num_pairs
        u, v = even[..., :p], odd[..., :p]
        a = (u + v) * _SQRT_HALF
        c = (u - v) * _SQRT_HALF
        if p and np.any(b["pair_sign"] < 0):
            c = c * along_last_axis(xp.asarray(b["pair_sign"], dtype=c.dtype), c)
        stacked = xp.concatenate([a, c, even[..., p:], odd[..., p:]], axis=-1)
        return _take(stacked, b["inverse_order"])

    def basis(self) -> tuple[np.ndarray, np.ndarray]:
        """The basis as matrices: ``(size, num_even)`` and ``(size, num_odd)``; ``split(x) = x @ each``."""
        return self.split(np.eye(self.size))

    def __repr__(self) -> str:  # compact: hidden specs have long index tuples
        if (
            self.dim == 1
            and self.left == tuple(range(len(self.left)))
            and self.right == tuple(range(len(self.left), 2 * len(self.left)))
            and self.center == tuple(range(2 * len(self.left), self.num_joints))
        ):
            return (
                f"ChiralSpec.hidden({self.size}, negated={self.has_negated}, num_centers={len(self.center)})"
            )
        return (
            f"ChiralSpec(left={self.left}, right={self.right}, center={self.center}, "
            f"dim={self.dim}, negated={self.negated})"
        )
