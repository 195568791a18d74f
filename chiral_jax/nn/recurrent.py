"""Chiral recurrent layers: LSTM and GRU cells and their stacked, scanned sequence layers.

The NNX modules hold the fused free parameters; the equations, the parameter layout and init, and
the scan are the pure functions of :mod:`chiral_jax.functional` (:func:`~chiral_jax.functional.lstm_step`,
:func:`~chiral_jax.functional.lstm_sequence`, :func:`~chiral_jax.functional.init_lstm`, their GRU
counterparts and :func:`~chiral_jax.functional.split_gates`), re-exported here. The gates live in
``unsigned(hidden_spec)``, the candidate and the states in ``hidden_spec`` (docs/design.md section 4).

:class:`ChiralLSTMCell` and :class:`ChiralGRUCell` subclass ``nnx.RNNCellBase``:
``nnx.RNN(ChiralLSTMCell(...))`` works. :class:`ChiralLSTM` and :class:`ChiralGRU` are one stack of
cells scanned over time, with the LSTM or the GRU cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
from flax import nnx

from chiral_jax import tying
from chiral_jax.basis import to_even_odd
from chiral_jax.functional import (
    GRU_GATES,
    LSTM_GATES,
    Array,
    Features,
    GRUCarry,
    LSTMCarry,
    RecurrentParams,
    _recurrent,
    gru_sequence,
    gru_step,
    init_gru,
    init_lstm,
    lstm_sequence,
    lstm_step,
    split_gates,
    unsigned,
)
from chiral_jax.nn.elementwise import ChiralDropout
from chiral_jax.nn.precision import cast
from chiral_jax.spec import ChiralSpec

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
        return _recurrent.step(
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
            return _recurrent.zero_carry(self.kind, batch, self.hidden_spec, dtype)
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
    """Stacked chiral cells scanned over time: :class:`ChiralLSTM` and :class:`ChiralGRU` are this
    stack with another :attr:`cell_type`."""

    cell_type: type[_ChiralCell]

    @property
    def kind(self) -> str:
        """The cell's kind, "lstm" or "gru"."""
        return self.cell_type.kind

    def __init__(
        self,
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
                self.cell_type(
                    s, self.hidden_spec, dtype=dtype, param_dtype=param_dtype, rngs=rngs, **cell_kwargs
                )
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
        batch = tuple(batch_shape)
        return tuple(_recurrent.zero_carry(self.kind, batch, self.hidden_spec, dtype) for _ in self.cells)

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
            carry, ys = _recurrent.sequence(
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
      in_spec, hidden_spec, negated, forget_bias, recurrent_kernel_init: as in :class:`ChiralLSTMCell`.
      num_layers: stacked layers.
      dropout_rate: dropout on the outputs of every layer but the last (training only).

    Attributes:
      cells: the :class:`ChiralLSTMCell` of each layer.
    """

    cell_type = ChiralLSTMCell

    def __init__(
        self,
        in_spec: ChiralSpec,
        hidden_spec: ChiralSpec | int,
        *,
        num_layers: int = 1,
        dropout_rate: float = 0.0,
        negated: bool = False,
        forget_bias: float = 1.0,
        recurrent_kernel_init: tying.Initializer = tying.default_kernel_init,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        super().__init__(
            in_spec,
            hidden_spec,
            num_layers=num_layers,
            dropout_rate=dropout_rate,
            negated=negated,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
            forget_bias=forget_bias,
            recurrent_kernel_init=recurrent_kernel_init,
        )


class ChiralGRU(_ChiralStack):
    """Stacked chiral GRU over ``(batch, time, in_spec.size)`` sequences; as :class:`ChiralLSTM`."""

    cell_type = ChiralGRUCell

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
            in_spec,
            hidden_spec,
            num_layers=num_layers,
            dropout_rate=dropout_rate,
            negated=negated,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
        )
