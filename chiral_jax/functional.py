"""Pure chiral layer functions (no Flax).

Each layer takes its free parameters (see :mod:`chiral_jax.tying`) and the specs it maps between.
Inputs are plain arrays ``(..., spec.size)`` or :class:`~chiral_jax.basis.EvenOdd` features; the
output has the same kind as the input, so a network can stay in the even/odd basis between layers.

Two paths:

* ``path="even_odd"`` (default): split, two half-size contractions (``x_E @ A``, ``x_O @ B``),
  merge; about half the multiply-adds of a dense layer and the dense weight is never built.
* ``path="dense"``: builds the dense weight with :func:`chiral_jax.tying.linear_weight` and applies it;
  the reference the tests compare the fast path with.
"""

from __future__ import annotations

import contextlib
import functools
import math
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax import tying
from chiral_jax.basis import EvenOdd, check_even_odd, from_even_odd, to_even_odd
from chiral_jax.spec import ChiralSpec, along_last_axis
from chiral_jax.tokens import TokenSpec

__all__ = [
    "ODD_ACTIVATIONS",
    "Padding",
    "activation",
    "batch_norm",
    "batch_norm_statistics",
    "check_activation",
    "conv1d",
    "conv1d_dense",
    "dot_product_attention",
    "dropout",
    "get_activation",
    "hard_tanh",
    "invariance",
    "invariant",
    "is_odd_function",
    "layer_norm",
    "linear",
    "token_embedding",
]

Array = jax.Array
Features = Array | EvenOdd
Path = Literal["even_odd", "dense"]
Padding = str | int | tuple[int, int]
"""``"VALID"``, ``"SAME"``, ``"CAUSAL"`` (all padding on the left), an int (both sides) or ``(lo, hi)``."""

_SQRT_HALF = float(1.0 / np.sqrt(2.0))


def _check_path(path: str) -> None:
    if path not in ("even_odd", "dense"):
        raise ValueError(f"path must be 'even_odd' or 'dense', got {path!r}")


def _input_even_odd(x: Features, spec: ChiralSpec, what: str) -> EvenOdd:
    if isinstance(x, EvenOdd):
        check_even_odd(x, spec, what)
        return x
    spec.check_channels(x, what)
    return to_even_odd(x, spec)


def _like_input(x: Features, y: EvenOdd, spec: ChiralSpec) -> Features:
    """Returns ``y`` in the kind of ``x``: stays ``EvenOdd`` or merges to channels."""
    return y if isinstance(x, EvenOdd) else from_even_odd(y, spec)


def _matmul(x: Array, w: Array, precision: Any = None) -> Array:
    """``x @ w`` for ``x`` (..., n) as one 2-D matmul: on XLA:CPU a batched (3-D) matmul's weight
    gradient adds a transpose and copy of the output gradient (measured ~2x on the input conv)."""
    lead = x.shape[:-1]
    y = jnp.matmul(x.reshape(math.prod(lead), x.shape[-1]), w, precision=precision)
    return y.reshape(*lead, w.shape[-1])


def _add_bias(y: Array, bias: Array | None) -> Array:
    return y if bias is None else y + along_last_axis(bias, y)


# ---------------------------------------------------------------------------------- linear


def linear(
    x: Features,
    kernel: tying.KernelFree,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    bias: Array | None = None,
    *,
    path: Path = "even_odd",
    precision: Any = None,
) -> Features:
    """Chiral linear map ``(..., in_spec.size) -> (..., out_spec.size)``.

    Args:
      x: array ``(..., in_spec.size)`` or ``EvenOdd`` in ``in_spec``'s basis.
      kernel: free parameters ``{"even": (nE_in, nE_out), "odd": (nO_in, nO_out)}``.
      bias: free bias ``(out_spec.num_even,)`` or None.
      path: ``"even_odd"`` (fast) or ``"dense"`` (reference; array inputs only).
    """
    _check_path(path)
    tying.check_kernel(kernel, in_spec, out_spec, "linear")
    if path == "dense":
        if isinstance(x, EvenOdd):
            raise ValueError("linear(path='dense') takes channel arrays, got EvenOdd features")
        in_spec.check_channels(x, "linear input")
        y = _matmul(x, tying.linear_weight(kernel, in_spec, out_spec), precision)
        return _add_bias(y, None if bias is None else tying.linear_bias(bias, out_spec))
    h = _input_even_odd(x, in_spec, "linear input")
    even = _add_bias(_matmul(h.even, kernel["even"], precision), bias)
    odd = _matmul(h.odd, kernel["odd"], precision)
    return _like_input(x, EvenOdd(even, odd), out_spec)


def invariant(
    x: Features,
    kernel: tying.KernelFree,
    in_spec: ChiralSpec,
    bias: Array | None = None,
    *,
    odd_magnitudes: Array | None = None,
) -> Array:
    """Mirror-invariant head ``(..., in_spec.size) -> (..., out_features)``.

    A linear map into an invariant output reads the even part only (``kernel["odd"]`` has zero
    columns). ``odd_magnitudes`` (nO_in, out) optionally adds ``|x_O| @ odd_magnitudes``, an
    invariant nonlinear read of the odd part (``|-v| = |v|``), which a linear head cannot see.
    """
    h = _input_even_odd(x, in_spec, "invariant input")
    out_features = kernel["even"].shape[-1]
    tying.check_kernel(kernel, in_spec, ChiralSpec.invariant(out_features), "invariant")
    y = _matmul(h.even, kernel["even"])
    if odd_magnitudes is not None:
        y = y + _matmul(jnp.abs(h.odd), odd_magnitudes)
    return _add_bias(y, bias)


InvarianceMode = Literal["abs_pairs", "abs", "square"]


def invariance_size(spec: ChiralSpec, mode: InvarianceMode = "abs_pairs") -> int:
    """Channels of :func:`invariance`'s output for ``spec``: ``num_even + num_odd`` (``abs``,
    ``square``), plus ``num_odd - 1`` neighbour relative signs (``abs_pairs``)."""
    if mode not in ("abs_pairs", "abs", "square"):
        raise ValueError(f"invariance mode must be 'abs_pairs', 'abs' or 'square', got {mode!r}")
    extra = max(spec.num_odd - 1, 0) if mode == "abs_pairs" else 0
    return spec.num_even + spec.num_odd + extra


def invariance(
    x: Features, spec: ChiralSpec, *, mode: InvarianceMode = "abs_pairs", epsilon: float = 1e-6
) -> Array:
    """Chiral invariance layer: equivariant features ``(..., spec.size)`` (or ``EvenOdd``) ->
    mirror-invariant features ``(..., invariance_size(spec, mode))``, parameter-free.

    The even coordinates ``e`` are invariant already and are kept as they are; only the odd ones
    ``o`` (which the mirror negates) need an even function:

    * ``"abs"``: ``[e, |o|]``; keeps every magnitude, loses the signs of ``o``;
    * ``"square"``: ``[e, o**2]`` (smooth; squares the scale of ``o``);
    * ``"abs_pairs"`` (default): ``[e, |o|, r]`` with the neighbour relative signs
      ``r_k = o_k o_{k+1} / (|o_k| + |o_{k+1}| + epsilon)`` (even: the mirror negates both factors;
      homogeneous of degree 1 like ``|o|``, with bounded gradients). ``|o|`` and the signs of
      ``r`` give ``o`` up to ONE global sign wherever the odd coordinates are non-zero, so the
      output identifies the pair ``{x, T x}`` itself: no information is dropped beyond which of the
      two mirror images was seen (a zero odd coordinate breaks the chain of relative signs there).
    """
    size = invariance_size(spec, mode)  # validates the mode
    h = _input_even_odd(x, spec, "invariance input")
    e, o = h.even, h.odd
    if mode == "square":
        parts = [e, jnp.square(o)]
    else:
        a = jnp.abs(o)
        parts = [e, a]
        if mode == "abs_pairs" and size > spec.num_even + spec.num_odd:
            parts.append(o[..., :-1] * o[..., 1:] / (a[..., :-1] + a[..., 1:] + epsilon))
    return jnp.concatenate(parts, axis=-1)


# ---------------------------------------------------------------------------------- conv


def _conv_padding(padding: Padding, kernel_size: int, dilation: int) -> tuple[int, int]:
    span = dilation * (kernel_size - 1)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return (0, 0)
        if mode == "SAME":
            return (span // 2, span - span // 2)
        if mode == "CAUSAL":
            return (span, 0)
        raise ValueError(f"padding must be VALID, SAME, CAUSAL, an int or (lo, hi), got {padding!r}")
    if isinstance(padding, int):
        return (padding, padding)
    lo, hi = padding
    return (int(lo), int(hi))


def _conv_time(
    x: Array,
    kernel: Array,
    strides: int,
    dilation: int,
    padding: Padding,
    precision: Any,
    impl: Literal["matmul", "xla"],
) -> Array:
    """Plain 1-D conv of (B, T, C_in) with (k, C_in, C_out) -> (B, T_out, C_out)."""
    k, c_in, c_out = kernel.shape
    lo, hi = _conv_padding(padding, k, dilation)
    if impl == "xla" and c_in and c_out:
        return jax.lax.conv_general_dilated(
            x,
            kernel,
            (strides,),
            [(lo, hi)],
            rhs_dilation=(dilation,),
            dimension_numbers=("NWC", "WIO", "NWC"),
            precision=precision,
        )
    if lo or hi:
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(lo, hi), (0, 0)])
    t = x.shape[-2]
    t_out = (t - dilation * (k - 1) - 1) // strides + 1
    if t_out < 1:
        raise ValueError(
            f"conv1d: input of {t - lo - hi} frames (padded to {t}) is shorter than the receptive "
            f"field {dilation * (k - 1) + 1} (kernel {k}, dilation {dilation})"
        )
    if strides == k and dilation == 1:
        # Non-overlapping windows: a reshape, no copies (VideoPose3D's strided training model).
        taps = x[..., : t_out * k, :].reshape(*x.shape[:-2], t_out, k * c_in)
    else:
        # im2col: k shifted (strided) slices side by side, then one matmul. XLA:CPU's conv is
        # pathologically slow for some dilated shapes (docs/design.md section 5); this is not.
        stop = (t_out - 1) * strides + 1
        taps = jnp.concatenate(
            [x[..., i * dilation : i * dilation + stop : strides, :] for i in range(k)], axis=-1
        )
    return _matmul(taps, kernel.reshape(k * c_in, c_out), precision)


def _check_sequence(x: Features, what: str) -> None:
    ndim = x.even.ndim if isinstance(x, EvenOdd) else x.ndim
    if ndim < 3:
        shape = x.shape
        raise ValueError(f"{what}: expected (batch, time, channels), got shape {tuple(shape)}")


def conv1d(
    x: Features,
    kernel: tying.KernelFree,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    bias: Array | None = None,
    *,
    strides: int = 1,
    dilation: int = 1,
    padding: Padding = "VALID",
    path: Path = "even_odd",
    impl: Literal["matmul", "xla"] = "matmul",
    precision: Any = None,
) -> Features:
    """Chiral 1-D convolution over time: ``(batch, time, in_spec.size) -> (batch, time', out_spec.size)``.

    Args:
      x: ``(batch, time, in_spec.size)`` array or ``EvenOdd`` halves with the same leading dims.
      kernel: ``{"even": (k, nE_in, nE_out), "odd": (k, nO_in, nO_out)}``.
      bias: free bias ``(out_spec.num_even,)`` or None.
      strides, dilation, padding: as in ``flax.nnx.Conv`` (padding also ``"CAUSAL"``).
      impl: ``"matmul"`` (slices + one matmul; default, fastest here) or ``"xla"``
        (``lax.conv_general_dilated``).
    """
    _check_path(path)
    _check_sequence(x, "conv1d input")
    tying.check_kernel(kernel, in_spec, out_spec, "conv1d")
    if kernel["even"].ndim != 3:
        raise ValueError(f"conv1d: kernel blocks must be (k, in, out), got {kernel['even'].shape}")
    conv = lambda h, w: _conv_time(h, w, strides, dilation, padding, precision, impl)  # noqa: E731
    if path == "dense":
        if isinstance(x, EvenOdd):
            raise ValueError("conv1d(path='dense') takes channel arrays, got EvenOdd features")
        in_spec.check_channels(x, "conv1d input")
        y = conv(x, tying.conv_kernel(kernel, in_spec, out_spec))
        return _add_bias(y, None if bias is None else tying.linear_bias(bias, out_spec))
    h = _input_even_odd(x, in_spec, "conv1d input")
    even, odd = _add_bias(conv(h.even, kernel["even"]), bias), conv(h.odd, kernel["odd"])
    return _like_input(x, EvenOdd(even, odd), out_spec)


def conv1d_dense(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    *,
    strides: int = 1,
    dilation: int = 1,
    padding: Padding = "VALID",
    impl: Literal["matmul", "xla"] = "matmul",
    precision: Any = None,
) -> Array:
    """A plain (non-chiral) conv with the same conventions, for baselines and benchmarks."""
    return _add_bias(_conv_time(x, kernel, strides, dilation, padding, precision, impl), bias)


# ---------------------------------------------------------------------------------- batch norm


def batch_norm_statistics(
    x: Features, spec: ChiralSpec, axes: Sequence[int] | None = None
) -> tuple[Array, Array]:
    """Mean and variance of the mirror-augmented batch ``{x, T x}``.

    The augmented mean has no odd part, so it is returned as its even coordinates; the variance is
    shared by the two channels of a pair, so it is returned per channel orbit.

    Args:
      x: ``(..., spec.size)`` or ``EvenOdd``.
      axes: axes reduced over (default: all but the last).

    Returns:
      ``mean_even (num_even,)`` and ``var_orbits (num_orbits,)`` (biased, as in Flax).
    """
    h = _input_even_odd(x, spec, "batch_norm input")
    if axes is None:
        axes = tuple(range(h.even.ndim - 1))
    axes = tuple(axes)
    mean_even = jnp.mean(h.even, axis=axes)
    # One pass over the data (as Flax does): E[x^2] - E[x]^2, clipped at 0 against rounding.
    var_even = jnp.maximum(jnp.mean(jnp.square(h.even), axis=axes) - jnp.square(mean_even), 0.0)
    var_odd = jnp.mean(jnp.square(h.odd), axis=axes)  # the augmented batch's odd mean is 0
    p = spec.num_pairs
    # A pair's augmented variance averages its two channels; in the orthonormal basis that is
    # the mean of its u (even) and v (odd) variances.
    var_pairs = 0.5 * (var_even[:p] + var_odd[:p])
    return mean_even, jnp.concatenate([var_pairs, var_even[p:], var_odd[p:]])


def batch_norm(
    x: Features,
    mean_even: Array,
    var_orbits: Array,
    spec: ChiralSpec,
    scale: Array | None = None,
    bias: Array | None = None,
    *,
    epsilon: float = 1e-5,
) -> Features:
    """Normalizes with given statistics (see :func:`batch_norm_statistics`) and the tied affine.

    Args:
      x: ``(..., spec.size)`` or ``EvenOdd``.
      mean_even: ``(num_even,)``; var_orbits: ``(num_orbits,)``.
      scale: free scale ``(num_orbits,)`` or None; bias: free shift ``(num_even,)`` or None.
    """
    h = _input_even_odd(x, spec, "batch_norm input")
    inv = jax.lax.rsqrt(var_orbits + epsilon)
    if scale is not None:
        inv = inv * scale
    inv_even, inv_odd = spec.orbits_to_halves(inv)
    even = _add_bias((h.even - along_last_axis(mean_even, h.even)) * along_last_axis(inv_even, h.even), bias)
    return _like_input(x, EvenOdd(even, h.odd * along_last_axis(inv_odd, h.odd)), spec)


# ---------------------------------------------------------------------------------- dropout


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
    mode = check_mask_bits(_MASK_BITS[0] if mask_bits is None else mask_bits, "dropout mask bits")
    threshold = min(max(round(256 * rate), 1), 255)
    scale = 256.0 / (256 - threshold)
    leaves, treedef = jax.tree_util.tree_flatten(x)
    keys = jax.random.split(key, len(leaves))
    out = [
        jnp.where(_keep_mask(k, leaf.shape, threshold, mode), leaf * scale, 0).astype(leaf.dtype)
        for k, leaf in zip(keys, leaves, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, out)


_MASK_BITS = ["byte"]


def check_mask_bits(mode: str, what: str) -> str:
    """``mode`` if it names a way of drawing dropout masks (:data:`MASK_BITS`), else a ValueError
    that starts with ``what`` (the argument or config key the value came from)."""
    if mode not in MASK_BITS:
        raise ValueError(f"{what} must be one of 'byte', 'word' or 'packed', got {mode!r}")
    return mode


@contextlib.contextmanager
def dropout_mask_bits(mode: MaskBits) -> Iterator[None]:
    """Within the context, :func:`dropout` calls without ``mask_bits`` draw their masks in ``mode``
    (see :func:`dropout`). Programs already traced keep their masks."""
    saved = _MASK_BITS[0]
    _MASK_BITS[0] = check_mask_bits(mode, "dropout mask bits")
    try:
        yield
    finally:
        _MASK_BITS[0] = saved


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


# ---------------------------------------------------------------------------------- activations


def hard_tanh(x: Array) -> Array:
    """``clip(x, -1, 1)``: odd."""
    return jnp.clip(x, -1.0, 1.0)


ODD_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "softsign": jax.nn.soft_sign,
    "hard_tanh": hard_tanh,
    "identity": lambda x: x,
}
"""Named odd activations (usable on specs with negated channels)."""

_ANY_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    **ODD_ACTIVATIONS,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
    "leaky_relu": jax.nn.leaky_relu,
}

_PROBE = np.concatenate([np.linspace(-4.0, 4.0, 81), [-1e-3, 1e-3, -0.37, 0.37, -10.0, 10.0]])


def get_activation(fn: str | Callable[[Array], Array]) -> Callable[[Array], Array]:
    """A callable for a name in ``{tanh, softsign, hard_tanh, identity, relu, gelu, silu, elu,
    leaky_relu}`` or the callable itself."""
    if callable(fn):
        return fn
    try:
        return _ANY_ACTIVATIONS[fn]
    except KeyError:
        raise ValueError(f"unknown activation {fn!r}; known: {sorted(_ANY_ACTIVATIONS)}") from None


def is_odd_function(fn: Callable[[Array], Array]) -> bool:
    """Whether ``fn(-x) == -fn(x)`` on a fixed float32 probe grid (compared in float64, tolerance 1e-6).

    Safe to call inside ``jax.jit`` / ``vmap`` / ``grad``: the probe is evaluated eagerly
    (``jax.ensure_compile_time_eval``), since a staged-out probe would be a tracer numpy cannot read.
    """
    with jax.ensure_compile_time_eval():
        probe = jnp.asarray(_PROBE, jnp.float32)
        a, b = fn(probe), fn(-probe)
    if isinstance(a, jax.core.Tracer) or isinstance(b, jax.core.Tracer):
        raise ValueError(
            f"is_odd_function: {fn!r} depends on traced values (it closes over a jit/grad input), so "
            "its oddness cannot be checked at trace time; check it outside the transformation, or "
            "pass check=False to activation()"
        )
    return bool(np.allclose(np.asarray(b, np.float64), -np.asarray(a, np.float64), rtol=1e-5, atol=1e-6))


@functools.cache
def _is_odd_named(name: str) -> bool:
    """Verdict per named activation, computed once: a module checks its activation on every trace."""
    return is_odd_function(_ANY_ACTIVATIONS[name])


def check_activation(fn: str | Callable[[Array], Array], spec: ChiralSpec) -> Callable[[Array], Array]:
    """Returns the activation callable, or raises ValueError if it would break equivariance on
    ``spec``: a negated channel needs an odd function (``f(-x) = -f(x)``)."""
    f = get_activation(fn)
    if spec.has_negated and not (_is_odd_named(fn) if isinstance(fn, str) else is_odd_function(f)):
        name = fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))
        raise ValueError(
            f"activation {name!r} is not odd (f(-x) != -f(x)), but {spec!r} negates coordinates "
            f"{spec.negated} under the mirror, so the net would not be equivariant. Use an odd "
            f"activation ({', '.join(ODD_ACTIVATIONS)}) or a hidden spec without negated channels "
            "(ChiralSpec.hidden(n, negated=False)), on which any activation is exact."
        )
    return f


def activation(
    x: Features, fn: str | Callable[[Array], Array], spec: ChiralSpec, *, check: bool = True
) -> Features:
    """An elementwise activation, applied per channel (checked against ``spec``).

    On ``EvenOdd`` features it acts on each pair's channels ``a = (u + v)/sqrt2``,
    ``b = (u - v)/sqrt2`` and returns to the basis, with contiguous slices only.
    """
    f = check_activation(fn, spec) if check else get_activation(fn)
    if not isinstance(x, EvenOdd):
        spec.check_channels(x, "activation input")
        return f(x)
    check_even_odd(x, spec, "activation input")
    p = spec.num_pairs
    u, v = x.even[..., :p], x.odd[..., :p]
    # a = x_left, b = s * x_right; f(s b) = s f(b) for s = +1 or f odd, so this is f per channel.
    # (XLA fuses this round trip into one pass over u and v, as cheap as the activation on the
    # merged channels; a ReLU-only form in the basis, (u + max(|u|, |v|)) / 2 and
    # (v + sign(u) clip(v, -|u|, |u|)) / 2, measured slower: docs/performance.md.)
    fa, fb = f((u + v) * _SQRT_HALF), f((u - v) * _SQRT_HALF)
    even = jnp.concatenate([(fa + fb) * _SQRT_HALF, f(x.even[..., p:])], axis=-1)
    odd = jnp.concatenate([(fa - fb) * _SQRT_HALF, f(x.odd[..., p:])], axis=-1)
    return EvenOdd(even, odd)


# ---------------------------------------------------------------------------------- token sets
# Attention, layer norm and embeddings of token sets (..., N, C): see docs/transformer.md.


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
    h = _input_even_odd(x, spec, "layer_norm input")
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
    return _like_input(x, EvenOdd(_add_bias(even, bias), odd), spec)


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
