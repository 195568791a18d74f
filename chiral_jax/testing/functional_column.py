"""The functional column of the equivariance battery: one example call per public function of
:mod:`chiral_jax.functional` (and per ``EvenOdd`` form), and :func:`check_functional_case`, which runs
one under ``jit``, ``vmap`` or ``grad`` against the eager call.

Adding a function to ``functional.__all__`` adds one line to :data:`FUNCTIONAL_CASES`
(``tests/test_battery.py`` checks that every public name has one). Also importable from
:mod:`chiral_jax.testing.battery` and :mod:`chiral_jax.testing`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax import functional as F
from chiral_jax import tying
from chiral_jax.basis import to_even_odd
from chiral_jax.skeletons import H36M
from chiral_jax.spec import ChiralSpec
from chiral_jax.tokens import TokenSpec

__all__ = ["FUNCTIONAL_CASES", "FUNCTIONAL_TYPES", "FunctionalCase", "check_functional_case"]

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class FunctionalCase:
    """One example call of a public :mod:`chiral_jax.functional` function, default keyword arguments.

    Attributes:
      function: the name in ``functional.__all__`` it calls.
      call: ``(*args) -> output pytree``; specs and static arguments are closed over.
      args: one builder ``rng -> argument`` per argument (arrays, ``EvenOdd`` features, PRNG keys).
      variant: tells apart several calls of one function (``"even_odd"``: ``EvenOdd`` input).
    """

    function: str
    call: Callable[..., Any]
    args: tuple[Callable[[np.random.Generator], Any], ...]
    variant: str = ""

    @property
    def name(self) -> str:
        return f"{self.function}_{self.variant}" if self.variant else self.function

    def make_args(self, seed: int) -> tuple[Any, ...]:
        rng = np.random.default_rng(seed)
        return tuple(build(rng) for build in self.args)


# Negated channels on both sides, so the activation's oddness check runs.
_S, _T, _INV = H36M.spec(2), H36M.spec(3), ChiralSpec.invariant(5)


def _f32(a: np.ndarray) -> Array:
    return jnp.asarray(a, jnp.float32)


def _feat(*lead: int, eo: bool = False) -> Callable[[np.random.Generator], Any]:
    """``(*lead, _S.size)`` features (non-zero mean), or their ``EvenOdd`` form."""

    def build(r: np.random.Generator) -> Any:
        x = _f32(r.standard_normal((*lead, _S.size)) + 0.5)
        return to_even_odd(x, _S) if eo else x

    return build


def _free(init: Callable[[Array], Any]) -> Callable[[np.random.Generator], Any]:
    """Random values shaped like ``init(key)``'s output: numpy fills ``eval_shape``'s shapes, so no
    initializer compiles."""
    shapes = jax.eval_shape(init, jax.random.key(0))
    return lambda r: jax.tree.map(lambda a: _f32(0.3 * r.standard_normal(a.shape)), shapes)


def _vec(n: int, variance: bool = False) -> Callable[[np.random.Generator], Array]:
    return lambda r: _f32(r.uniform(0.5, 2.0, n) if variance else r.standard_normal(n))


def _key(r: np.random.Generator) -> Array:
    return jax.random.key(int(r.integers(2**31)))


_X, _X_EO, _SEQ, _SEQ_EO = _feat(4), _feat(4, eo=True), _feat(2, 9), _feat(2, 9, eo=True)
_K_LIN = _free(lambda k: tying.init_linear(k, _S, _T))
_K_INV = _free(lambda k: tying.init_linear(k, _S, _INV))
_K_CONV = _free(lambda k: tying.init_conv(k, _S, _T, 3))
_K_DENSE = _free(lambda k: jnp.zeros((3, _S.size, _T.size)))
_BN = (_vec(_S.num_even), _vec(_S.num_orbits, variance=True), _vec(_S.num_orbits), _vec(_S.num_even))

_linear = lambda x, k, b: F.linear(x, k, _S, _T, b)  # noqa: E731
_invariant = lambda x, k, b: F.invariant(x, k, _S, b)  # noqa: E731
_conv1d = lambda x, k, b: F.conv1d(x, k, _S, _T, b)  # noqa: E731
_bn = lambda x, m, v, s, b: F.batch_norm(x, m, v, _S, s, b)  # noqa: E731
_bn_stats = lambda x: F.batch_norm_statistics(x, _S)  # noqa: E731
_dropout = lambda x, k: F.dropout(x, 0.3, k)  # noqa: E731

_HID = ChiralSpec.hidden(8, num_centers=0)
_TOKS = lambda r: _f32(r.standard_normal((2, 17, 8)))  # noqa: E731
_TOKS_EO = lambda r: to_even_odd(_TOKS(r), _HID)  # noqa: E731
_HEADS = lambda r: _f32(r.standard_normal((2, 17, 2, 4)))  # noqa: E731  (batch, tokens, heads, d)
_MASK = lambda r: jnp.asarray(r.random((2, 17)) > 0.3)  # noqa: E731
_EMB = (_vec(TokenSpec.joints(_S, _HID).num_orbits * 4), _vec(TokenSpec.joints(_S, _HID).num_pairs * 4))


def _heads_eo(r: np.random.Generator) -> Any:
    from chiral_jax.basis import EvenOdd

    return EvenOdd(_HEADS(r)[..., :2], _HEADS(r)[..., 2:])


def _embedding(even: Array, odd: Array) -> Any:
    t = TokenSpec.joints(_S, _HID)
    return F.token_embedding({"even": even.reshape(t.num_orbits, 4), "odd": odd.reshape(t.num_pairs, 4)}, t)


_GRAPH_PARTS = np.stack([np.eye(17), np.full((17, 17), 1 / 17), np.eye(17)[H36M.spec(1).joint_permutation]])
_GRAPH = (
    _free(lambda k: tying.init_graph(k, _HID, ChiralSpec.hidden(6), 3)),
    lambda r: _f32(_GRAPH_PARTS + 0.1 * r.standard_normal((3, 17, 17))),
)
_graph = lambda x, k, a: F.graph_conv(x, k, a, _HID, ChiralSpec.hidden(6))  # noqa: E731
_graph_dense = lambda x, a: F.graph_conv_dense(x, jnp.ones((3, 8, 5)), a)  # noqa: E731
_attn = lambda q, k, v, m: F.dot_product_attention(q, k, v, m)  # noqa: E731
_ln = lambda x, s, b: F.layer_norm(x, _HID, s, b)  # noqa: E731
_LN = (_vec(_HID.num_orbits), _vec(_HID.num_even))

_odd_all = lambda x: [F.activation(x, name, _S) for name in F.ODD_ACTIVATIONS]  # noqa: E731
# A Python ``if`` on the verdict: it must be a concrete bool under every transformation.
_if_odd = lambda x: x if F.is_odd_function(jnp.sinh) else -x  # noqa: E731
_EO = "even_odd"

FUNCTIONAL_CASES: tuple[FunctionalCase, ...] = (
    FunctionalCase("linear", _linear, (_X, _K_LIN, _vec(_T.num_even))),
    FunctionalCase("linear", _linear, (_X_EO, _K_LIN, _vec(_T.num_even)), _EO),
    FunctionalCase("invariant", _invariant, (_X, _K_INV, _vec(5))),
    FunctionalCase("invariant", _invariant, (_X_EO, _K_INV, _vec(5)), _EO),
    FunctionalCase("invariance", lambda x: F.invariance(x, _S), (_X,)),
    FunctionalCase("invariance", lambda x: F.invariance(x, _S, mode="abs"), (_X_EO,), _EO),
    FunctionalCase("conv1d", _conv1d, (_SEQ, _K_CONV, _vec(_T.num_even))),
    FunctionalCase("conv1d", _conv1d, (_SEQ_EO, _K_CONV, _vec(_T.num_even)), _EO),
    FunctionalCase("conv1d_dense", F.conv1d_dense, (_SEQ, _K_DENSE, _vec(_T.size))),
    FunctionalCase("batch_norm_statistics", _bn_stats, (_SEQ,)),
    FunctionalCase("batch_norm_statistics", _bn_stats, (_SEQ_EO,), _EO),
    FunctionalCase("batch_norm", _bn, (_SEQ, *_BN)),
    FunctionalCase("batch_norm", _bn, (_SEQ_EO, *_BN), _EO),
    FunctionalCase("dropout", _dropout, (_X, _key)),
    FunctionalCase("dropout", _dropout, (_X_EO, _key), _EO),
    FunctionalCase("activation", lambda x: F.activation(x, "tanh", _S), (_X,)),
    FunctionalCase("activation", lambda x: F.activation(x, "softsign", _S), (_X_EO,), _EO),
    # A user callable: its oddness is probed at trace time, not looked up by name.
    FunctionalCase("activation", lambda x: F.activation(x, jnp.sinh, _S), (_X,), "callable"),
    FunctionalCase("ODD_ACTIVATIONS", _odd_all, (_X,)),
    FunctionalCase("check_activation", lambda x: F.check_activation("hard_tanh", _S)(x), (_X,)),
    FunctionalCase("get_activation", lambda x: F.get_activation("gelu")(x), (_X,)),
    FunctionalCase("is_odd_function", _if_odd, (_X,)),
    FunctionalCase("hard_tanh", F.hard_tanh, (_X,)),
    FunctionalCase("dot_product_attention", _attn, (_HEADS, _HEADS, _HEADS, _MASK)),
    FunctionalCase("dot_product_attention", _attn, (_heads_eo, _heads_eo, _heads_eo, _MASK), _EO),
    FunctionalCase("layer_norm", _ln, (_TOKS, *_LN)),
    FunctionalCase("layer_norm", _ln, (_TOKS_EO, *_LN), _EO),
    FunctionalCase("token_embedding", _embedding, _EMB),
    FunctionalCase("graph_conv", _graph, (_TOKS, *_GRAPH)),
    FunctionalCase("graph_conv", _graph, (_TOKS_EO, *_GRAPH), _EO),
    FunctionalCase("graph_conv_dense", _graph_dense, (_TOKS, _GRAPH[1])),
)
"""One example call per public :mod:`chiral_jax.functional` function (and per ``EvenOdd`` form)."""

FUNCTIONAL_TYPES: tuple[str, ...] = ("Padding",)
"""Names in ``functional.__all__`` that are type aliases, with nothing to call."""


def _floating(tree: Any) -> bool:
    return all(jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating) for leaf in jax.tree.leaves(tree))


def _assert_trees_close(got: Any, want: Any, what: str, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    """Same structure (an ``EvenOdd`` stays one), dtypes and values to float32 tolerance."""
    if jax.tree.structure(got) != jax.tree.structure(want):
        raise AssertionError(f"{what}: structure {jax.tree.structure(got)} != {jax.tree.structure(want)}")
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        g, w = np.asarray(g), np.asarray(w)
        if g.dtype != w.dtype:
            raise AssertionError(f"{what}: dtype {g.dtype} != {w.dtype}")
        scale = 1.0 + (float(np.max(np.abs(w))) if w.size else 0.0)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * scale, err_msg=what)


def check_functional_case(
    case: FunctionalCase, transform: Literal["jit", "vmap", "grad"], seed: int = 0
) -> None:
    """Runs ``case`` under ``transform`` and compares it with the eager call.

    ``jit``: ``jit(call)(*args) == call(*args)``. ``vmap``: over two examples stacked on a new axis
    (every argument batched), against the two eager calls. ``grad``: of ``sum(square(output))``
    w.r.t. the floating arguments, jitted against eager.
    """
    args = case.make_args(seed)
    if transform == "jit":
        _assert_trees_close(jax.jit(case.call)(*args), case.call(*args), f"{case.name} under jit")
    elif transform == "vmap":
        other = case.make_args(seed + 1)
        stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), args, other)
        want = jax.tree.map(lambda a, b: jnp.stack([a, b]), case.call(*args), case.call(*other))
        _assert_trees_close(jax.vmap(case.call)(*stacked), want, f"{case.name} under vmap")
    elif transform == "grad":
        argnums = tuple(i for i, a in enumerate(args) if _floating(a))

        def loss(*a: Any) -> Array:
            return sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(case.call(*a)))

        grad = jax.grad(loss, argnums=argnums)
        _assert_trees_close(jax.jit(grad)(*args), grad(*args), f"{case.name} under grad", rtol=1e-4)
    else:
        raise ValueError(f"unknown transform {transform!r}")
