"""Elementwise chiral layers: activations checked against their spec, and dropout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import jax
from flax import nnx

from chiral_jax import functional
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.nn.precision import cast
from chiral_jax.spec import ChiralSpec

Array = jax.Array


class ChiralActivation(nnx.Module):
    """An elementwise activation on features of ``spec``.

    Construction fails with a ValueError if ``fn`` is not odd and ``spec`` has negated channels
    (the net would not be equivariant); on a negation-free spec any activation is exact.
    ``dtype``: compute dtype the input is cast to (None: the input's); no parameters.
    """

    def __init__(self, spec: ChiralSpec, fn: str | Callable[[Array], Array] = "tanh", *, dtype: Any = None):
        self.spec, self.dtype = spec, dtype
        self.fn = functional.check_activation(fn, spec)

    def __call__(self, x: Array | EvenOdd) -> Array | EvenOdd:
        return functional.activation(cast(x, self.dtype), self.fn, self.spec, check=False)


class ChiralDropout(nnx.Module):
    """Dropout on arrays or even/odd features; identity when ``deterministic`` (``model.eval()``).

    ``dtype``: compute dtype the input is cast to (None: the input's); no parameters.
    ``mask_bits``: how the masks' random bits are drawn, "byte" | "word" | "packed" (None: the
    :func:`chiral_jax.functional.dropout_mask_bits` mode at trace time, "byte" by default); same
    distribution, different masks per key (:func:`chiral_jax.functional.dropout`).
    ``basis``: where even/odd features are masked. ``"even_odd"`` (default) masks the even and
    odd coordinates: exactly equivariant for every mask, but after a ReLU it also puts noise into
    zeroed channels. ``"channels"`` merges to the channel basis (``spec`` needed), masks channels
    as plain dropout does, and splits back: equivariant in distribution only (a left/right pair
    draws two masks), which is what the PyTorch chirality nets train with (docs/performance.md,
    "Parity with PyTorch VideoPose3D"). Arrays are always masked as they come.
    """

    def __init__(
        self,
        rate: float,
        *,
        deterministic: bool = False,
        dtype: Any = None,
        mask_bits: functional.MaskBits | None = None,
        basis: Literal["even_odd", "channels"] = "even_odd",
        spec: ChiralSpec | None = None,
        rngs: nnx.Rngs | None = None,
    ):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"ChiralDropout: rate must be in [0, 1), got {rate}")
        if mask_bits is not None:
            functional.check_mask_bits(mask_bits, "ChiralDropout: mask_bits")
        if basis not in ("even_odd", "channels"):
            raise ValueError(f"ChiralDropout: basis must be 'even_odd' or 'channels', got {basis!r}")
        if basis == "channels" and spec is None:
            raise ValueError("ChiralDropout: basis='channels' needs the features' spec (spec=...)")
        self.basis, self.spec = basis, spec
        self.rate, self.deterministic, self.dtype, self.mask_bits = rate, deterministic, dtype, mask_bits
        # A forked stream of its own, as nnx.Dropout keeps: the layer draws fresh masks per call.
        self.rngs = rngs["dropout"].fork() if rngs is not None else nnx.data(None)

    def __call__(self, x: Array | EvenOdd, *, deterministic: bool | None = None) -> Array | EvenOdd:
        det = self.deterministic if deterministic is None else deterministic
        x = cast(x, self.dtype)
        if det or self.rate == 0.0:
            return x
        if self.rngs is None:
            raise ValueError("ChiralDropout: pass rngs= at construction to use it in training mode")
        if self.basis == "channels" and isinstance(x, EvenOdd):
            assert self.spec is not None  # checked at construction
            y = functional.dropout(
                from_even_odd(x, self.spec),
                self.rate,
                self.rngs(),
                deterministic=False,
                mask_bits=self.mask_bits,
            )
            return to_even_odd(y, self.spec)
        return functional.dropout(x, self.rate, self.rngs(), deterministic=False, mask_bits=self.mask_bits)
