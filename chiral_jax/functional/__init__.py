"""Pure chiral layer functions (no Flax).

Each layer takes its free parameters (see :mod:`chiral_jax.tying`) and the specs it maps between.
Inputs are plain arrays ``(..., spec.size)`` or :class:`~chiral_jax.basis.EvenOdd` features; the
output has the same kind as the input, so a network can stay in the even/odd basis between layers.

Two paths for the linear maps:

* ``path="even_odd"`` (default): split, two half-size contractions (``x_E @ A``, ``x_O @ B``),
  merge; about half the multiply-adds of a dense layer and the dense weight is never built.
* ``path="dense"``: builds the dense weight with :func:`chiral_jax.tying.linear_weight` and applies it;
  the reference the tests compare the fast path with.

The code lives in private submodules, one per family; this module is the public surface:

* linear maps (``_linear``): :func:`linear`, :func:`invariant`, :func:`conv1d`, :func:`conv1d_dense`;
* batch norm (``_norm``): :func:`batch_norm_statistics`, :func:`batch_norm`;
* dropout (``_dropout``): :func:`dropout`, :func:`dropout_mask_bits`, :func:`check_mask_bits`;
* graph convolution over joints (``_graph``): :func:`graph_conv`, :func:`graph_conv_dense`;
* activations and invariance (``_activation``): :func:`activation`, :func:`check_activation`,
  :func:`get_activation`, :func:`is_odd_function`, :func:`hard_tanh`, :func:`invariance`;
* token sets (``_tokens``): :func:`dot_product_attention`, :func:`layer_norm`, :func:`token_embedding`;
* recurrent cells (``_recurrent``): :func:`init_lstm`, :func:`lstm_step`, :func:`lstm_sequence`,
  their GRU counterparts, :func:`split_gates`, :func:`unsigned`.

``__all__`` lists the layer functions that ``chiral_jax.testing.battery.FUNCTIONAL_CASES`` runs
under jit, vmap and grad (its coverage test holds the two lists equal). The recurrent functions
(checked in tests/test_recurrent.py), the type aliases and the dropout mode helpers are public too,
re-exported below with explicit ``as`` aliases.
"""

from chiral_jax.functional._activation import (
    ODD_ACTIVATIONS,
    activation,
    check_activation,
    get_activation,
    hard_tanh,
    invariance,
    is_odd_function,
)
from chiral_jax.functional._activation import InvarianceMode as InvarianceMode
from chiral_jax.functional._activation import invariance_size as invariance_size
from chiral_jax.functional._common import Array as Array
from chiral_jax.functional._common import Features as Features
from chiral_jax.functional._common import Path as Path
from chiral_jax.functional._dropout import MASK_BITS as MASK_BITS
from chiral_jax.functional._dropout import MaskBits as MaskBits
from chiral_jax.functional._dropout import check_mask_bits as check_mask_bits
from chiral_jax.functional._dropout import current_mask_bits as current_mask_bits
from chiral_jax.functional._dropout import dropout
from chiral_jax.functional._dropout import dropout_mask_bits as dropout_mask_bits
from chiral_jax.functional._graph import graph_conv, graph_conv_dense
from chiral_jax.functional._linear import Padding, conv1d, conv1d_dense, invariant, linear
from chiral_jax.functional._norm import batch_norm, batch_norm_statistics
from chiral_jax.functional._recurrent import GRU_GATES as GRU_GATES
from chiral_jax.functional._recurrent import LSTM_GATES as LSTM_GATES
from chiral_jax.functional._recurrent import GRUCarry as GRUCarry
from chiral_jax.functional._recurrent import LSTMCarry as LSTMCarry
from chiral_jax.functional._recurrent import RecurrentParams as RecurrentParams
from chiral_jax.functional._recurrent import gru_sequence as gru_sequence
from chiral_jax.functional._recurrent import gru_step as gru_step
from chiral_jax.functional._recurrent import init_gru as init_gru
from chiral_jax.functional._recurrent import init_lstm as init_lstm
from chiral_jax.functional._recurrent import lstm_sequence as lstm_sequence
from chiral_jax.functional._recurrent import lstm_step as lstm_step
from chiral_jax.functional._recurrent import split_gates as split_gates
from chiral_jax.functional._recurrent import unsigned as unsigned
from chiral_jax.functional._tokens import dot_product_attention, layer_norm, token_embedding

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
    "graph_conv",
    "graph_conv_dense",
    "hard_tanh",
    "invariance",
    "invariant",
    "is_odd_function",
    "layer_norm",
    "linear",
    "token_embedding",
]
