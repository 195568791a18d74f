"""Dropout and the ways its masks' random bits are drawn ("byte", "word", "packed")."""

from __future__ import annotations

import contextlib
import contextvars
import math
import typing
from collections.abc import Iterator, Sequence
from typing import Literal

import jax
import jax.numpy as jnp

from chiral_jax.functional._common import Array, Features

MaskBits = Literal["byte", "word", "packed"]
MASK_BITS: tuple[str, ...] = typing.get_args(MaskBits)


def dropout(
    x: Features,
    rate: float,
    key: Array | None,
    *,
    deterministic: bool = False,
    mask_bits: MaskBits | None = None,
) -> Features:
    """Inverted dropout on every channel (or even/odd coordinate); identity when deterministic.

    Masks are independent per coordinate (the paper found tied masks over-fit): equivariance holds
    in distribution while training and exactly at evaluation (and exactly for one key on
    :class:`EvenOdd` features, whose mirror only flips signs).

    The rate is rounded to ``threshold / 256`` (``threshold = round(256 * rate)``, 1..255; 0.25 is
    exact) and kept outputs are scaled by the exact ``256 / (256 - threshold)``. How the random
    bits are drawn (``mask_bits``; None: :func:`dropout_mask_bits`' current mode, "byte" unless a
    ``with`` block says otherwise):

    * ``"byte"`` (the default, the masks every published seeded result used): one 8-bit draw per
      coordinate, ``jax.random.bits(key, shape, uint8)``, kept when ``>= threshold``; on CPU this
      draws one threefry word per byte.
    * ``"word"``: 32-bit words split into four bytes, same test (a quarter of the random words).
    * ``"packed"``: the fewest bits ``k`` in {1, 2, 4, 8} that express ``threshold / 256`` exactly
      (0.5: 1 bit, 0.25: 2 bits, 0.125: 4 bits, 0.2: 8 bits), ``32 / k`` fields per word, kept when
      ``field >= threshold >> (8 - k)`` (a sixteenth of the words at rate 0.25).

    All three draw the same distribution (independent keeps with probability
    ``1 - threshold / 256``); for a given key the masks differ between modes.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    if deterministic or rate == 0.0:
        return x
    if key is None:
        raise ValueError("dropout: a PRNG key is needed when not deterministic")
    mode = check_mask_bits(current_mask_bits() if mask_bits is None else mask_bits, "dropout mask bits")
    threshold = min(max(round(256 * rate), 1), 255)
    scale = 256.0 / (256 - threshold)
    leaves, treedef = jax.tree_util.tree_flatten(x)
    keys = jax.random.split(key, len(leaves))
    out = [
        jnp.where(_keep_mask(k, leaf.shape, threshold, mode), leaf * scale, 0).astype(leaf.dtype)
        for k, leaf in zip(keys, leaves, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, out)


# The mode of the calls without ``mask_bits``: a context variable, so a ``with dropout_mask_bits``
# block reaches the code it runs (tracing included) and no other thread or task.
_MASK_BITS_MODE: contextvars.ContextVar[str] = contextvars.ContextVar(
    "chiral_jax_dropout_mask_bits", default="byte"
)


def check_mask_bits(mode: str, what: str) -> str:
    """``mode`` if it names a way of drawing dropout masks (:data:`MASK_BITS`), else a ValueError
    that starts with ``what`` (the argument or config key the value came from)."""
    if mode not in MASK_BITS:
        raise ValueError(f"{what} must be one of 'byte', 'word' or 'packed', got {mode!r}")
    return mode


def current_mask_bits() -> MaskBits:
    """The mode :func:`dropout` uses when called without ``mask_bits``: "byte" unless within
    :func:`dropout_mask_bits`."""
    return typing.cast(MaskBits, _MASK_BITS_MODE.get())


@contextlib.contextmanager
def dropout_mask_bits(mode: MaskBits) -> Iterator[None]:
    """Within the context, :func:`dropout` calls without ``mask_bits`` draw their masks in ``mode``
    (see :func:`dropout`). Programs already traced keep their masks. The mode is scoped to the
    current thread (or asyncio task) and restored on exit, also when contexts nest."""
    token = _MASK_BITS_MODE.set(check_mask_bits(mode, "dropout mask bits"))
    try:
        yield
    finally:
        _MASK_BITS_MODE.reset(token)


def _keep_mask(key: Array, shape: Sequence[int], threshold: int, mode: str) -> Array:
    """Boolean keep mask of ``shape``: each entry True with probability ``1 - threshold / 256``."""
    if mode == "byte":
        return jax.random.bits(key, tuple(shape), jnp.uint8) >= threshold
    if mode == "word":
        return _random_bytes(key, shape) >= threshold
    bits = _field_bits(threshold)
    return _random_fields(key, shape, bits) >= (threshold >> (8 - bits))


def _field_bits(threshold: int) -> int:
    """The fewest bits k in (1, 2, 4, 8) with ``threshold / 256`` a multiple of ``2**-k``."""
    return next(k for k in (1, 2, 4, 8) if threshold % (1 << (8 - k)) == 0)


def _random_fields(key: Array, shape: Sequence[int], bits: int) -> Array:
    """Independent uniform ``bits``-bit integers (``uint32``) of ``shape``, ``32 // bits`` per
    random 32-bit word (the bit fields of a uniform word are independent and uniform)."""
    shape = tuple(int(d) for d in shape)
    per = 32 // bits
    field = jnp.uint32((1 << bits) - 1)

    def split(words: Array) -> Array:  # (..., m) -> (..., m, per): field i = bits [i*k, (i+1)*k)
        shifts = jax.lax.broadcasted_iota(jnp.uint32, (*words.shape, per), words.ndim) * jnp.uint32(bits)
        return (words[..., None] >> shifts) & field

    if shape and shape[-1] % per == 0:
        words = jax.random.bits(key, (*shape[:-1], shape[-1] // per), jnp.uint32)
        return split(words).reshape(shape)
    n = math.prod(shape)
    words = jax.random.bits(key, (-(-n // per),), jnp.uint32)
    return split(words).reshape(-1)[:n].reshape(shape)


def _random_bytes(key: Array, shape: Sequence[int]) -> Array:
    """Uniform random ``uint8`` of ``shape``: 32-bit random words split into four bytes each.

    ``jax.random.bits(key, shape, jnp.uint8)`` draws one (threefry) word per byte on CPU; this draws
    one per four bytes (the bytes of a word are independent uniform bytes).
    """
    shape = tuple(int(d) for d in shape)
    n = math.prod(shape)
    if shape and shape[-1] % 4 == 0:
        words = jax.random.bits(key, (*shape[:-1], shape[-1] // 4), jnp.uint32)
        return jax.lax.bitcast_convert_type(words, jnp.uint8).reshape(shape)
    words = jax.random.bits(key, (-(-n // 4),), jnp.uint32)
    return jax.lax.bitcast_convert_type(words, jnp.uint8).reshape(-1)[:n].reshape(shape)
