"""Chiral recurrent layers: LSTM and GRU cells and their stacked, scanned sequence layers.

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
multiply-adds), and the sequence layers compute the input projection of all time steps at once,
before the scan. Gating is elementwise in the channel basis, so the pre-activations are merged to
channels once per step (slices and adds for contiguous hidden specs). :func:`split_gates` returns
the per-gate view of the fused parameters.

Pure functions (:func:`lstm_step`, :func:`gru_step`, :func:`lstm_sequence`, :func:`gru_sequence`,
:func:`init_lstm`, :func:`init_gru`) work on the parameter pytree without Flax; the NNX modules
(:class:`ChiralLSTMCell`, :class:`ChiralGRUCell`, :class:`ChiralLSTM`, :class:`ChiralGRU`) hold
it. The cells subclass ``nnx.RNNCellBase``: ``nnx.RNN(ChiralLSTMCell(...))`` works.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import tying
from chiral_jax.basis import EvenOdd, check_even_odd, to_even_odd
from chiral_jax.nn.elementwise import ChiralDropout
from chiral_jax.nn.precision import cast
from chiral_jax.spec import ChiralSpec, along_last_axis

__all__ = [
    "GRU_GATES",
    "LSTM_GATES",
    "ChiralGRU",
    "ChiralGRUCell",
    "ChiralLSTM",
    "ChiralLSTMCell",
    "GRUCarry",
    "LSTMCarry",
    "RecurrentParams",
    "gru_sequence",
    "gru_step",
    "init_gru",
    "init_lstm",
    "lstm_sequence",
    "lstm_step",
    "split_gates",
    "unsigned",
]

Array = jax.Array
Features = Array | EvenOdd
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
    if isinstance(x, EvenOdd):
        check_even_odd(x, spec, what)
    else:
        spec.check_channels(x, what)
    h = to_even_odd(x, spec)
    even = jnp.matmul(h.even, kernel["even"])
    if bias is not None:
        even = even + along_last_axis(bias, even)
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


def _step(
    kind: str,
    params: RecurrentParams,
    carry: Any,
    x: Features,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    what: str,
) -> tuple[Any, Array]:
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
    return _step("lstm", params, carry, x, in_spec, hidden_spec, "lstm_step")


def gru_step(
    params: RecurrentParams,
    carry: GRUCarry,
    x: Features,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
) -> tuple[GRUCarry, Array]:
    """One chiral GRU step ``(h, x) -> (h', h')``; shapes as in :func:`lstm_step`."""
    return _step("gru", params, carry, x, in_spec, hidden_spec, "gru_step")


def _sequence(
    kind: str,
    params: RecurrentParams,
    x: Features,
    carry: Any,
    in_spec: ChiralSpec,
    hidden_spec: ChiralSpec,
    what: str,
    unroll: int = 1,
) -> tuple[Any, Array]:
    layout = _layout(kind, in_spec, hidden_spec)
    _check_params(params, layout, what)
    ndim = x.even.ndim if isinstance(x, EvenOdd) else getattr(x, "ndim", 0)
    if ndim < 2:
        raise ValueError(f"{what}: expected (*batch, time, {in_spec.size}), got shape {tuple(x.shape)}")
    # The input projection of every time step at once: one big matmul per half, outside the scan.
    pre = _project(x, params["input"], in_spec, params["bias"], f"{what} input")
    batch = pre.even.shape[:-2]
    if carry is None:
        carry = _zero_carry(kind, batch, hidden_spec, pre.even.dtype)
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
    return _sequence("lstm", params, x, carry, in_spec, hidden_spec, "lstm_sequence", unroll)


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
    return _sequence("gru", params, x, carry, in_spec, hidden_spec, "gru_sequence", unroll)


def _zero_carry(kind: str, batch: tuple[int, ...], spec: ChiralSpec, dtype: Any) -> Any:
    h = jnp.zeros((*batch, spec.size), dtype)
    return (h, h) if kind == "lstm" else h


# ---------------------------------------------------------------------------------- modules


def _as_spec(spec: ChiralSpec | int, negated: bool, what: str) -> ChiralSpec:
    if isinstance(spec, ChiralSpec):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        return ChiralSpec.hidden(spec, negated=negated)
    raise TypeError(f"{what}: expected a ChiralSpec or an int width, got {spec!r}")


class _ChiralCell(nnx.RNNCellBase):
    """Shared storage and plumbing of :class:`ChiralLSTMCell` and :class:`ChiralGRUCell`."""

    kind: str = ""

    def _setup(self, params: RecurrentParams) -> None:
        self.input_even = nnx.Param(params["input"]["even"])
        self.input_odd = nnx.Param(params["input"]["odd"])
        self.hidden_even = nnx.Param(params["hidden"]["even"])
        self.hidden_odd = nnx.Param(params["hidden"]["odd"])
        self.bias = nnx.Param(params["bias"])

    @property
    def gate_spec(self) -> ChiralSpec:
        """``unsigned(hidden_spec)``: the representation of the gates."""
        return unsigned(self.hidden_spec)

    @property
    def params(self) -> RecurrentParams:
        """The fused free parameters as a plain pytree (for the pure functions)."""
        out: RecurrentParams = {
            "input": {"even": self.input_even[...], "odd": self.input_odd[...]},
            "hidden": {"even": self.hidden_even[...], "odd": self.hidden_odd[...]},
            "bias": self.bias[...],
        }
        if self.kind == "gru":
            out["hidden_bias"] = self.hidden_bias[...]
        return out

    def gates(self) -> dict[str, RecurrentParams]:
        """The per-gate view of the parameters (see :func:`split_gates`)."""
        return split_gates(self.params, self.in_spec, self.hidden_spec, kind=self.kind)

    @property
    def compute_params(self) -> RecurrentParams:
        """:attr:`params` in the compute dtype (``dtype``; as stored when None)."""
        return cast(self.params, self.dtype)

    def __call__(self, carry: Any, inputs: Features) -> tuple[Any, Array]:
        inputs = cast(inputs, self.dtype)
        return _step(
            self.kind, self.compute_params, carry, inputs, self.in_spec, self.hidden_spec, type(self).__name__
        )

    def initialize_carry(
        self,
        input_shape: tuple[int, ...],
        rngs: nnx.Rngs | nnx.RngStream | None = None,
        carry_init: tying.Initializer | None = None,
    ) -> Any:
        """A carry for inputs of shape ``(*batch, in_spec.size)``: zeros (or ``carry_init``, e.g. a
        random carry; a random carry is not mirrored with the input, so only zeros or a carry
        computed from the input keep a sequence equivariant)."""
        batch = tuple(input_shape[:-1])
        dtype = self.bias[...].dtype if self.dtype is None else self.dtype
        if carry_init is None:
            return _zero_carry(self.kind, batch, self.hidden_spec, dtype)
        if rngs is None:
            raise ValueError(f"{type(self).__name__}.initialize_carry: carry_init needs rngs")
        stream = rngs.carry if isinstance(rngs, nnx.Rngs) else rngs
        shape = (*batch, self.hidden_spec.size)
        if self.kind == "lstm":
            return (carry_init(stream(), shape, dtype), carry_init(stream(), shape, dtype))
        return carry_init(stream(), shape, dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1


class ChiralLSTMCell(_ChiralCell):
    """Chiral LSTM cell: ``((c, h), x) -> ((c', h'), h')`` (Flax's ``nnx.LSTMCell`` interface).

    ``i, f, o = sigmoid(W_x x + W_h h + b)`` in ``unsigned(hidden_spec)``;
    ``g = tanh(W_xg x + W_hg h + b_g)``, ``c' = f * c + i * g``, ``h' = o * tanh(c')`` in
    ``hidden_spec``.

    Args:
      in_spec: spec of the inputs ``(*batch, in_spec.size)``.
      hidden_spec: spec of ``c`` and ``h``: any spec (e.g. ``ChiralSpec.hidden(n, negated=...)`` or
        a skeleton's), independent of ``in_spec``; an int ``n`` means
        ``ChiralSpec.hidden(n, negated=negated)``.
      forget_bias: dense forget-gate bias at init (1.0, as is usual).

    Attributes:
      input_even: (in_spec.num_even, 3 * gE + hE); input_odd: (in_spec.num_odd, 3 * gO + hO).
      hidden_even: (hidden_spec.num_even, 3 * gE + hE); hidden_odd: (hidden_spec.num_odd, 3 * gO + hO).
      bias: (3 * gE + hE,). Columns: input, forget, output gates, then the candidate; ``gE, gO``
        are the even/odd sizes of ``unsigned(hidden_spec)``, ``hE, hO`` those of ``hidden_spec``.
    """

    kind = "lstm"

    def __init__(
        self,
        in_spec: ChiralSpec,
        hidden_spec: ChiralSpec | int,
        *,
        negated: bool = False,
        forget_bias: float = 1.0,
        kernel_init: tying.Initializer = tying.default_kernel_init,
        recurrent_kernel_init: tying.Initializer = tying.default_kernel_init,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_spec, self.dtype = in_spec, dtype
        self.hidden_spec = _as_spec(hidden_spec, negated, "ChiralLSTMCell hidden_spec")
        params = init_lstm(
            rngs.params(),
            in_spec,
            self.hidden_spec,
            forget_bias=forget_bias,
            kernel_init=kernel_init,
            recurrent_kernel_init=recurrent_kernel_init,
            dtype=param_dtype,
        )
        self._setup(params)


class ChiralGRUCell(_ChiralCell):
    """Chiral GRU cell: ``(h, x) -> (h', h')`` (Flax's ``nnx.GRUCell`` interface).

    ``r, z = sigmoid(W_x x + W_h h + b)`` in ``unsigned(hidden_spec)``;
    ``n = tanh(W_xn x + b_n + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h`` in ``hidden_spec``.

    Args: as :class:`ChiralLSTMCell` (no forget bias).

    Attributes:
      input_even, input_odd, hidden_even, hidden_odd, bias: as in :class:`ChiralLSTMCell` with two
        gates (reset, update) and the candidate.
      hidden_bias: (hidden_spec.num_even,), the candidate's recurrent bias ``b_hn``.
    """

    kind = "gru"

    def __init__(
        self,
        in_spec: ChiralSpec,
        hidden_spec: ChiralSpec | int,
        *,
        negated: bool = False,
        kernel_init: tying.Initializer = tying.default_kernel_init,
        recurrent_kernel_init: tying.Initializer = tying.default_kernel_init,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_spec, self.dtype = in_spec, dtype
        self.hidden_spec = _as_spec(hidden_spec, negated, "ChiralGRUCell hidden_spec")
        params = init_gru(
            rngs.params(),
            in_spec,
            self.hidden_spec,
            kernel_init=kernel_init,
            recurrent_kernel_init=recurrent_kernel_init,
            dtype=param_dtype,
        )
        self._setup(params)
        self.hidden_bias = nnx.Param(params["hidden_bias"])


class _ChiralStack(nnx.Module):
    """Stacked chiral cells scanned over time; shared by :class:`ChiralLSTM` and :class:`ChiralGRU`."""

    kind: str = ""

    def __init__(
        self,
        cell_cls: type[_ChiralCell],
        in_spec: ChiralSpec,
        hidden_spec: ChiralSpec | int,
        *,
        num_layers: int,
        dropout_rate: float,
        negated: bool,
        dtype: Any,
        param_dtype: Any,
        rngs: nnx.Rngs,
        **cell_kwargs: Any,
    ):
        name = type(self).__name__
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if not 0.0 <= dropout_rate < 1.0:
            raise ValueError(f"{name}: dropout_rate must be in [0, 1), got {dropout_rate}")
        self.in_spec = in_spec
        self.hidden_spec = _as_spec(hidden_spec, negated, f"{name} hidden_spec")
        self.num_layers, self.dropout_rate = num_layers, dropout_rate
        specs = [in_spec] + [self.hidden_spec] * (num_layers - 1)
        self.cells = nnx.List(
            [
                cell_cls(s, self.hidden_spec, dtype=dtype, param_dtype=param_dtype, rngs=rngs, **cell_kwargs)
                for s in specs
            ]
        )
        self.dtype = dtype
        # Between layers, on the even/odd coordinates of the layer below (the next layer's input
        # projection reads them anyway): a fixed mask commutes with the mirror, which only flips
        # the odd coordinates' signs.
        self.dropout = ChiralDropout(dropout_rate, rngs=rngs)

    def initialize_carry(self, batch_shape: tuple[int, ...], dtype: Any = None) -> tuple[Any, ...]:
        """Zero carries, one per layer, for inputs ``(*batch_shape, time, in_spec.size)``."""
        if dtype is None:
            dtype = self.cells[0].bias[...].dtype if self.dtype is None else self.dtype
        return tuple(_zero_carry(self.kind, tuple(batch_shape), self.hidden_spec, dtype) for _ in self.cells)

    def _check_initial(self, initial_carry: Any) -> None:
        name = type(self).__name__
        if not isinstance(initial_carry, tuple | list) or len(initial_carry) != self.num_layers:
            got = len(initial_carry) if isinstance(initial_carry, tuple | list) else type(initial_carry)
            raise ValueError(
                f"{name}: initial_carry must be a sequence of {self.num_layers} per-layer carries "
                f"({'(c, h)' if self.kind == 'lstm' else 'h'} each), got {got}"
            )

    def __call__(
        self,
        x: Features,
        initial_carry: Sequence[Any] | None = None,
        *,
        deterministic: bool | None = None,
        unroll: int = 1,
    ) -> tuple[Array, tuple[Any, ...]]:
        """Runs every layer over the whole sequence.

        Args:
          x: ``(*batch, time, in_spec.size)`` (batch-major: ``(batch, time, channels)``) or
            ``EvenOdd`` halves with the same leading dims.
          initial_carry: one carry per layer (``(c, h)`` for the LSTM, ``h`` for the GRU, each
            ``(*batch, hidden_spec.size)``), or None for zeros.
          deterministic: no dropout between layers (default: ``not training``, see ``.eval()``).

        Returns:
          ``(outputs (*batch, time, hidden_spec.size), final carries (one per layer))``.
        """
        name = type(self).__name__
        if initial_carry is not None:
            self._check_initial(initial_carry)
        carries = []
        h: Features = x
        for layer, cell in enumerate(self.cells):
            carry = None if initial_carry is None else initial_carry[layer]
            what = f"{name} layer {layer}"
            carry, ys = _sequence(
                self.kind,
                cell.compute_params,
                cast(h, cell.dtype),
                carry,
                cell.in_spec,
                self.hidden_spec,
                what,
                unroll,
            )
            carries.append(carry)
            if layer + 1 < self.num_layers:
                h = self.dropout(to_even_odd(ys, self.hidden_spec), deterministic=deterministic)
            else:
                h = ys
        return h, tuple(carries)

    def step(self, carries: Sequence[Any], x: Features) -> tuple[tuple[Any, ...], Array]:
        """One time step through every layer (no dropout): for decoders that feed outputs back.

        Args:
          carries: one carry per layer; x: ``(*batch, in_spec.size)``.

        Returns:
          ``(new carries, top layer output (*batch, hidden_spec.size))``.
        """
        self._check_initial(carries)
        new = []
        h: Features = x
        for layer, cell in enumerate(self.cells):
            carry, h = cell(carries[layer], h)
            new.append(carry)
        return tuple(new), h


class ChiralLSTM(_ChiralStack):
    """Stacked chiral LSTM over ``(batch, time, in_spec.size)`` sequences, scanned with ``lax.scan``.

    Layer 0 maps ``in_spec`` to ``hidden_spec``, the others ``hidden_spec`` to itself; dropout
    between layers in training only. The input projection of each layer runs on the whole sequence
    before its scan.

    Args:
      in_spec, hidden_spec, negated, forget_bias: as in :class:`ChiralLSTMCell`.
      num_layers: stacked layers.
      dropout_rate: dropout on the outputs of every layer but the last (training only).

    Attributes:
      cells: the :class:`ChiralLSTMCell` of each layer.
    """

    kind = "lstm"

    def __init__(
        self,
        in_spec: ChiralSpec,
        hidden_spec: ChiralSpec | int,
        *,
        num_layers: int = 1,
        dropout_rate: float = 0.0,
        negated: bool = False,
        forget_bias: float = 1.0,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        super().__init__(
            ChiralLSTMCell,
            in_spec,
            hidden_spec,
            num_layers=num_layers,
            dropout_rate=dropout_rate,
            negated=negated,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
            forget_bias=forget_bias,
        )


class ChiralGRU(_ChiralStack):
    """Stacked chiral GRU over ``(batch, time, in_spec.size)`` sequences; as :class:`ChiralLSTM`."""

    kind = "gru"

    def __init__(
        self,
        in_spec: ChiralSpec,
        hidden_spec: ChiralSpec | int,
        *,
        num_layers: int = 1,
        dropout_rate: float = 0.0,
        negated: bool = False,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        super().__init__(
            ChiralGRUCell,
            in_spec,
            hidden_spec,
            num_layers=num_layers,
            dropout_rate=dropout_rate,
            negated=negated,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
        )
