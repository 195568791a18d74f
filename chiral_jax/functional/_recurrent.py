"""Chiral LSTM and GRU as pure functions: parameter layout and init, one step, a scanned sequence.

The equations are the standard ones (PyTorch's / Flax's). What makes them chiral is the
representation every pre-activation lives in (docs/design.md section 4):

* the **gates** (LSTM input, forget, output; GRU reset, update) take the hidden spec's permutation
  *without signs*, :func:`unsigned` ``(hidden_spec)``: ``sigmoid`` is not odd, but on a spec that
  only permutes channels any elementwise function commutes with the mirror;
* the **candidate** (LSTM ``g``, GRU ``n``) and the states ``c``, ``h`` use the full hidden spec
  (``tanh`` is odd, so negated hidden channels are fine);
* a product ``gate * state`` of an unsigned-permuted vector with a signed-permuted one is
  equivariant in the hidden spec: ``(P f) * (S P c) = S P (f * c)``.

Every map into a pre-activation is a chiral linear map with its own ``(in, out)`` specs
(input -> gate: ``(in_spec, unsigned(hidden))``, hidden -> gate: ``(hidden, unsigned(hidden))``,
input/hidden -> candidate: ``(in_spec | hidden, hidden)``), so the hidden spec is independent of the
input spec: any joint layout, any size, with or without negated channels.

Parameters are stored fused: the free blocks of all gates and the candidate side by side, one
``(n_in_even, C_even)`` and one ``(n_in_odd, C_odd)`` matrix per source (input, hidden), with columns

    even: [gate_0 (gE) | gate_1 (gE) | ... | candidate (hE)]      gE = unsigned(hidden).num_even
    odd:  [gate_0 (gO) | gate_1 (gO) | ... | candidate (hO)]      hE = hidden.num_even, ...

so a step costs two matmuls per source in the even/odd basis (about half of a dense LSTM's
multiply-adds), and :func:`lstm_sequence` / :func:`gru_sequence` compute the input projection of
all time steps at once, before the scan. Gating is elementwise in the channel basis, so the
pre-activations are merged to channels once per step (slices and adds for contiguous hidden specs).
:func:`split_gates` returns the per-gate view of the fused parameters.

:func:`step`, :func:`sequence` and :func:`zero_carry` take the cell ``kind`` ("lstm" or "gru"); the
NNX modules of :mod:`chiral_jax.nn.recurrent` call them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from chiral_jax import tying
from chiral_jax.basis import EvenOdd
from chiral_jax.functional._common import Array, Features, add_bias, input_even_odd
from chiral_jax.spec import ChiralSpec, along_last_axis

LSTMCarry = tuple[Array, Array]
"""``(c, h)``, each ``(*batch, hidden_spec.size)`` (Flax's order)."""
GRUCarry = Array
"""``h`` ``(*batch, hidden_spec.size)``."""
RecurrentParams = dict[str, Any]
"""``{"input": {"even": (nE_in, C_even), "odd": (nO_in, C_odd)},
"hidden": {"even": (hE, C_even), "odd": (hO, C_odd)}, "bias": (C_even,)}`` and, for the GRU,
``"hidden_bias": (hE,)`` (the candidate's recurrent bias, inside ``r * (W_hn h + b_hn)``)."""

LSTM_GATES: tuple[str, ...] = ("input", "forget", "output")
"""LSTM gate names, in column order; the candidate ``"cell"`` (``g``) follows them."""
GRU_GATES: tuple[str, ...] = ("reset", "update")
"""GRU gate names, in column order; the candidate ``"candidate"`` (``n``) follows them."""
_CANDIDATE = {"lstm": "cell", "gru": "candidate"}


def unsigned(spec: ChiralSpec) -> ChiralSpec:
    """The same joint permutation without signs: ``ChiralSpec(left, right, center, dim, negated=())``.

    The representation of gates: any elementwise function (``sigmoid``) commutes with a pure
    permutation, and a gate multiplies a state of ``spec`` elementwise into ``spec`` again.
    """
    if not isinstance(spec, ChiralSpec):
        raise TypeError(f"unsigned: expected a ChiralSpec, got {type(spec).__name__}")
    return spec.unsigned()


# ---------------------------------------------------------------------------------- layout


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Column layout of the fused pre-activations of one cell."""

    kind: str  # "lstm" or "gru"
    in_spec: ChiralSpec
    hidden_spec: ChiralSpec

    @property
    def gate_names(self) -> tuple[str, ...]:
        return LSTM_GATES if self.kind == "lstm" else GRU_GATES

    @property
    def num_gates(self) -> int:
        return len(self.gate_names)

    @functools.cached_property
    def gate_spec(self) -> ChiralSpec:
        return unsigned(self.hidden_spec)

    @property
    def columns_even(self) -> int:
        return self.num_gates * self.gate_spec.num_even + self.hidden_spec.num_even

    @property
    def columns_odd(self) -> int:
        return self.num_gates * self.gate_spec.num_odd + self.hidden_spec.num_odd

    def blocks(self, half: str) -> list[tuple[str, int, int]]:
        """``(name, start, stop)`` of every gate's and the candidate's columns in one half."""
        g = self.gate_spec.num_even if half == "even" else self.gate_spec.num_odd
        out = [(name, k * g, (k + 1) * g) for k, name in enumerate(self.gate_names)]
        stop = self.columns_even if half == "even" else self.columns_odd
        out.append((_CANDIDATE[self.kind], self.num_gates * g, stop))
        return out

    def to_channels(self, even: Array, odd: Array) -> tuple[Array, Array]:
        """Fused pre-activations in the basis -> gates ``(..., num_gates, H)`` and candidate ``(..., H)``.

        The gates share one spec, so they merge in one call on a ``(..., num_gates, g)`` view.
        """
        gs, hs, n = self.gate_spec, self.hidden_spec, self.num_gates
        ge, go = n * gs.num_even, n * gs.num_odd
        lead = even.shape[:-1]
        gates = gs.merge(
            even[..., :ge].reshape(*lead, n, gs.num_even), odd[..., :go].reshape(*lead, n, gs.num_odd)
        )
        return gates, hs.merge(even[..., ge:], odd[..., go:])


@functools.cache
def _layout(kind: str, in_spec: ChiralSpec, hidden_spec: ChiralSpec) -> _Layout:
    return _Layout(kind, in_spec, hidden_spec)


# ---------------------------------------------------------------------------------- parameters


def _init_fused(
    key: Array,
    layout: _Layout,
    source: ChiralSpec,
    kernel_init: tying.Initializer,
    dtype: Any,
) -> tying.KernelFree:
    """Fused free blocks from ``source`` into every gate and the candidate.

    Every block of one half reads the same input half, so drawing the fused ``(n_in, columns)``
    matrix at once is drawing each block with its own fan-in (``n_in``), as
    :func:`tying.init_linear` does per ``(in, out)`` spec pair.
    """
    k_even, k_odd = jax.random.split(key)
    out = {}
    for half, k, rows, cols in (
        ("even", k_even, source.num_even, layout.columns_even),
        ("odd", k_odd, source.num_odd, layout.columns_odd),
    ):
        # An empty block has nothing to draw, and Flax initializers divide by its zero fan.
        out[half] = (
            jnp.zeros((rows, cols), dtype) if rows * cols == 0 else kernel_init(k, (rows, cols), dtype)
        )
    return out


def _init(
    kind: str,
    key: Array,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    kernel_init: tying.Initializer,
    recurrent_kernel_init: tying.Initializer,
    dtype: Any,
    forget_bias: float,
) -> RecurrentParams:
    layout = _layout(kind, in_spec, hidden_spec)
    k_in, k_h = jax.random.split(key)
    params = {
        "input": _init_fused(k_in, layout, in_spec, kernel_init, dtype),
        "hidden": _init_fused(k_h, layout, hidden_spec, recurrent_kernel_init, dtype),
        "bias": jnp.zeros((layout.columns_even,), dtype),
    }
    if kind == "lstm" and forget_bias:
        gs = layout.gate_spec
        free = tying.project_bias(jnp.full((gs.size,), forget_bias, dtype), gs)
        k = LSTM_GATES.index("forget")
        g = gs.num_even
        params["bias"] = params["bias"].at[k * g : (k + 1) * g].set(free)
    if kind == "gru":
        params["hidden_bias"] = tying.init_bias(hidden_spec, dtype)
    return params


def init_lstm(
    key: Array,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    *,
    forget_bias: float = 1.0,
    kernel_init: tying.Initializer = tying.default_kernel_init,
    recurrent_kernel_init: tying.Initializer = tying.default_kernel_init,
    dtype: Any = jnp.float32,
) -> RecurrentParams:
    """Random free LSTM parameters (see :data:`RecurrentParams`).

    Kernels: ``kernel_init`` / ``recurrent_kernel_init`` per even/odd block (lecun normal by
    default). Biases zero, except the forget gate's: the free bias whose dense bias is
    ``forget_bias`` on every channel (``tying.project_bias`` of a constant on the unsigned gate
    spec: ``sqrt(2) * forget_bias`` on each pair sum, ``forget_bias`` on each center).
    """
    return _init(
        "lstm", key, in_spec, hidden_spec, kernel_init, recurrent_kernel_init, dtype, float(forget_bias)
    )


def init_gru(
    key: Array,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    *,
    kernel_init: tying.Initializer = tying.default_kernel_init,
    recurrent_kernel_init: tying.Initializer = tying.default_kernel_init,
    dtype: Any = jnp.float32,
) -> RecurrentParams:
    """Random free GRU parameters (see :data:`RecurrentParams`); biases zero."""
    return _init("gru", key, in_spec, hidden_spec, kernel_init, recurrent_kernel_init, dtype, 0.0)


def _check_params(params: RecurrentParams, layout: _Layout, what: str) -> None:
    want = {
        "input": (layout.in_spec.num_even, layout.in_spec.num_odd),
        "hidden": (layout.hidden_spec.num_even, layout.hidden_spec.num_odd),
    }
    cols = {"even": layout.columns_even, "odd": layout.columns_odd}
    for source, (n_even, n_odd) in want.items():
        for half, rows in (("even", n_even), ("odd", n_odd)):
            shape = tuple(params[source][half].shape)
            if shape != (rows, cols[half]):
                raise ValueError(
                    f"{what}: params[{source!r}][{half!r}] must be ({rows}, {cols[half]}) for in_spec "
                    f"{layout.in_spec!r} and hidden_spec {layout.hidden_spec!r}, got {shape}"
                )
    if tuple(params["bias"].shape) != (layout.columns_even,):
        raise ValueError(
            f"{what}: params['bias'] must be ({layout.columns_even},), got {params['bias'].shape}"
        )
    if layout.kind == "gru" and tuple(params["hidden_bias"].shape) != (layout.hidden_spec.num_even,):
        raise ValueError(
            f"{what}: params['hidden_bias'] must be ({layout.hidden_spec.num_even},), got "
            f"{params['hidden_bias'].shape}"
        )


def split_gates(
    params: RecurrentParams, in_spec: ChiralSpec, hidden_spec: ChiralSpec, *, kind: str = "lstm"
) -> dict[str, RecurrentParams]:
    """The per-gate view of fused parameters (also of their gradients, which share the layout).

    Returns:
      ``{name: {"input": {"even", "odd"}, "hidden": {"even", "odd"}, "bias"}}`` for every gate of
      ``kind`` and its candidate (LSTM: input, forget, output, cell; GRU: reset, update,
      candidate, the latter with ``"hidden_bias"`` too). Input/hidden blocks map their source spec
      to ``unsigned(hidden_spec)`` (gates) or ``hidden_spec`` (candidate).
    """
    if kind not in _CANDIDATE:
        raise ValueError(f"split_gates: kind must be 'lstm' or 'gru', got {kind!r}")
    layout = _layout(kind, in_spec, hidden_spec)
    _check_params(params, layout, "split_gates")
    out: dict[str, RecurrentParams] = {}
    for (name, e0, e1), (_, o0, o1) in zip(layout.blocks("even"), layout.blocks("odd"), strict=True):
        out[name] = {
            source: {"even": params[source]["even"][:, e0:e1], "odd": params[source]["odd"][:, o0:o1]}
            for source in ("input", "hidden")
        }
        out[name]["bias"] = params["bias"][e0:e1]
    if kind == "gru":
        out[_CANDIDATE["gru"]]["hidden_bias"] = params["hidden_bias"]
    return out


# ---------------------------------------------------------------------------------- pure steps


def _project(
    x: Features, kernel: tying.KernelFree, spec: ChiralSpec, bias: Array | None, what: str
) -> EvenOdd:
    """Fused pre-activations of ``x`` in the even/odd basis: ``(x_E @ A + b, x_O @ B)``."""
    h = input_even_odd(x, spec, what)
    # A batched jnp.matmul, not _common.matmul's 2-D form: seeded results stay bit-for-bit.
    even = add_bias(jnp.matmul(h.even, kernel["even"]), bias)
    return EvenOdd(even, jnp.matmul(h.odd, kernel["odd"]))


def _check_state(state: Any, batch: tuple[int, ...], spec: ChiralSpec, what: str) -> None:
    shape = getattr(state, "shape", None)
    want = (*batch, spec.size)
    if shape is None or tuple(shape) != want:
        raise ValueError(
            f"{what}: expected shape {want} (the input's batch dims + hidden_spec.size = {spec.size}), "
            f"got {None if shape is None else tuple(shape)}"
        )


def _check_carry(kind: str, carry: Any, batch: tuple[int, ...], spec: ChiralSpec, what: str) -> None:
    if kind == "lstm":
        if not isinstance(carry, tuple | list) or len(carry) != 2:
            raise ValueError(f"{what}: expected an LSTM carry (c, h), got {type(carry).__name__}")
        _check_state(carry[0], batch, spec, f"{what}: carry c")
        _check_state(carry[1], batch, spec, f"{what}: carry h")
    else:
        _check_state(carry, batch, spec, f"{what}: carry h")


def _lstm_recurrence(
    params: RecurrentParams, carry: LSTMCarry, pre: EvenOdd, layout: _Layout
) -> tuple[LSTMCarry, Array]:
    """One LSTM update given the input's fused pre-activations ``pre`` (bias included)."""
    c, h = carry
    z = _project(h, params["hidden"], layout.hidden_spec, None, "LSTM hidden state")
    gates, cand = layout.to_channels(pre.even + z.even, pre.odd + z.odd)
    gates = jax.nn.sigmoid(gates)
    i, f, o = gates[..., 0, :], gates[..., 1, :], gates[..., 2, :]
    g = jnp.tanh(cand)
    new_c = f * c + i * g
    new_h = o * jnp.tanh(new_c)
    return (new_c, new_h), new_h


def _gru_recurrence(
    params: RecurrentParams, carry: GRUCarry, pre: EvenOdd, layout: _Layout
) -> tuple[GRUCarry, Array]:
    """One GRU update: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1-z) n + z h``."""
    h = carry
    z_h = _project(h, params["hidden"], layout.hidden_spec, None, "GRU hidden state")
    gs, hs, n = layout.gate_spec, layout.hidden_spec, layout.num_gates
    ge, go = n * gs.num_even, n * gs.num_odd
    # Gates: input and hidden parts summed; candidate: the two parts merged separately (stacked).
    even = jnp.concatenate([pre.even[..., :ge] + z_h.even[..., :ge], pre.even[..., ge:]], axis=-1)
    odd = jnp.concatenate([pre.odd[..., :go] + z_h.odd[..., :go], pre.odd[..., go:]], axis=-1)
    gates, cand_x = layout.to_channels(even, odd)
    hn_even = z_h.even[..., ge:] + along_last_axis(params["hidden_bias"], z_h.even[..., ge:])
    cand_h = hs.merge(hn_even, z_h.odd[..., go:])
    gates = jax.nn.sigmoid(gates)
    r, u = gates[..., 0, :], gates[..., 1, :]
    cand = jnp.tanh(cand_x + r * cand_h)
    new_h = (1.0 - u) * cand + u * h
    return new_h, new_h


_RECURRENCE: dict[str, Callable[..., tuple[Any, Array]]] = {
    "lstm": _lstm_recurrence,
    "gru": _gru_recurrence,
}


def _cast_carry(carry: Any, dtype: Any) -> Any:
    return jax.tree.map(lambda a: jnp.asarray(a).astype(dtype), carry)


def step(
    kind: str,
    params: RecurrentParams,
    carry: Any,
    x: Features,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    what: str,
) -> tuple[Any, Array]:
    """One step of a ``kind`` ("lstm" | "gru") cell: :func:`lstm_step` / :func:`gru_step`, with
    ``what`` (the caller's name) starting every error message."""
    layout = _layout(kind, in_spec, hidden_spec)
    _check_params(params, layout, what)
    pre = _project(x, params["input"], in_spec, params["bias"], f"{what} input")
    _check_carry(kind, carry, pre.even.shape[:-1], hidden_spec, what)
    carry = _cast_carry(carry, pre.even.dtype)
    return _RECURRENCE[kind](params, carry, pre, layout)


def lstm_step(
    params: RecurrentParams,
    carry: LSTMCarry,
    x: Features,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
) -> tuple[LSTMCarry, Array]:
    """One chiral LSTM step, a pure function of ``(carry, x)`` (use it in ``jax.lax.scan``).

    Args:
      params: see :func:`init_lstm`.
      carry: ``(c, h)``, each ``(*batch, hidden_spec.size)``.
      x: ``(*batch, in_spec.size)`` or ``EvenOdd`` in ``in_spec``'s basis.

    Returns:
      ``((c', h'), h')`` with ``h'`` of shape ``(*batch, hidden_spec.size)``.
    """
    return step("lstm", params, carry, x, in_spec, hidden_spec, "lstm_step")


def gru_step(
    params: RecurrentParams,
    carry: GRUCarry,
    x: Features,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
) -> tuple[GRUCarry, Array]:
    """One chiral GRU step ``(h, x) -> (h', h')``; shapes as in :func:`lstm_step`."""
    return step("gru", params, carry, x, in_spec, hidden_spec, "gru_step")


def sequence(
    kind: str,
    params: RecurrentParams,
    x: Features,
    carry: Any,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    what: str,
    unroll: int = 1,
) -> tuple[Any, Array]:
    """A ``kind`` ("lstm" | "gru") layer over ``x`` ``(*batch, time, in_spec.size)``:
    :func:`lstm_sequence` / :func:`gru_sequence`, with ``what`` starting every error message."""
    layout = _layout(kind, in_spec, hidden_spec)
    _check_params(params, layout, what)
    ndim = x.even.ndim if isinstance(x, EvenOdd) else getattr(x, "ndim", 0)
    if ndim < 2:
        raise ValueError(f"{what}: expected (*batch, time, {in_spec.size}), got shape {tuple(x.shape)}")
    # The input projection of every time step at once: one big matmul per half, outside the scan.
    pre = _project(x, params["input"], in_spec, params["bias"], f"{what} input")
    batch = pre.even.shape[:-2]
    if carry is None:
        carry = zero_carry(kind, batch, hidden_spec, pre.even.dtype)
    _check_carry(kind, carry, batch, hidden_spec, f"{what} initial carry")
    carry = _cast_carry(carry, pre.even.dtype)
    time_major = jax.tree.map(lambda a: jnp.moveaxis(a, -2, 0), pre)
    recurrence = _RECURRENCE[kind]

    def body(c: Any, p: EvenOdd) -> tuple[Any, Array]:
        return recurrence(params, c, p, layout)

    carry, ys = jax.lax.scan(body, carry, time_major, unroll=unroll)
    return carry, jnp.moveaxis(ys, 0, -2)


def lstm_sequence(
    params: RecurrentParams,
    x: Features,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    carry: LSTMCarry | None = None,
    *,
    unroll: int = 1,
) -> tuple[LSTMCarry, Array]:
    """Runs the LSTM over time: ``(*batch, time, in_spec.size) -> (*batch, time, hidden_spec.size)``.

    Args:
      x: array or ``EvenOdd`` with the time axis second to last.
      carry: initial ``(c, h)`` (``(*batch, hidden_spec.size)`` each) or None for zeros.

    Returns:
      ``(final carry, outputs)``.
    """
    return sequence("lstm", params, x, carry, in_spec, hidden_spec, "lstm_sequence", unroll)


def gru_sequence(
    params: RecurrentParams,
    x: Features,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    carry: GRUCarry | None = None,
    *,
    unroll: int = 1,
) -> tuple[GRUCarry, Array]:
    """Runs the GRU over time; shapes as in :func:`lstm_sequence`."""
    return sequence("gru", params, x, carry, in_spec, hidden_spec, "gru_sequence", unroll)


def zero_carry(kind: str, batch: tuple[int, ...], spec: ChiralSpec, dtype: Any) -> Any:
    """A zero carry of a ``kind`` cell: ``(c, h)`` (LSTM) or ``h`` (GRU), each ``(*batch, spec.size)``."""
    h = jnp.zeros((*batch, spec.size), dtype)
    return (h, h) if kind == "lstm" else h
