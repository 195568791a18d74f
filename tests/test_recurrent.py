"""Chiral LSTM / GRU cells and stacked layers: equivariance with carries, the reference equations,
gradients reaching every gate, the pure-function path, errors, and the benchmark's smoke run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from chiral_jax import nn, testing, tying
from chiral_jax.basis import to_even_odd
from chiral_jax.nn import recurrent
from chiral_jax.skeletons import H36M, PENN_ACTION
from chiral_jax.spec import ChiralSpec

F64 = jnp.float64
STEPS = 10

# (input spec, hidden spec): other joint sets, other negated coordinates, hidden specs with and
# without negated channels, with centers (odd sizes).
SPECS = {
    "h36m2d_hidden_negated": (H36M.spec(2), ChiralSpec.hidden(21, negated=True)),
    "penn2d_hidden_plain": (PENN_ACTION.spec(2), ChiralSpec.hidden(31, negated=False)),
    "penn2d_allneg_to_h36m3d": (PENN_ACTION.spec(2, negated=(0, 1)), H36M.spec(3)),
    "hidden_to_joints_no_neg": (ChiralSpec.hidden(15, negated=True), H36M.spec(2, negated=())),
}
# The quick loop runs each kind on the first pair; the others (another compile each) in the slow set.
QUICK_SPECS = "h36m2d_hidden_negated"
CELLS = {"lstm": nn.ChiralLSTMCell, "gru": nn.ChiralGRUCell}
STACKS = {"lstm": nn.ChiralLSTM, "gru": nn.ChiralGRU}


def _random_carry(kind: str, batch: int, spec: ChiralSpec, seed: int, dtype=jnp.float32):
    k1, k2 = jax.random.split(jax.random.key(seed))
    c = jax.random.normal(k1, (batch, spec.size), dtype)
    h = jnp.tanh(jax.random.normal(k2, (batch, spec.size), dtype))
    return (c, h) if kind == "lstm" else h


def _specs(names):
    return [pytest.param(n, marks=() if n == QUICK_SPECS else pytest.mark.slow) for n in names]


def _carry_spec(kind: str, spec: ChiralSpec):
    return (spec, spec) if kind == "lstm" else spec


def _seq(spec: ChiralSpec, batch: int = 3, steps: int = STEPS, seed: int = 0, dtype=jnp.float32) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (batch, steps, spec.size), dtype) + 0.3


# ---------------------------------------------------------------------------------- unsigned


def test_unsigned_drops_signs_only():
    spec = H36M.spec(3, negated=(0, 2))
    u = nn.unsigned(spec)
    assert (u.left, u.right, u.center, u.dim, u.negated) == (spec.left, spec.right, spec.center, 3, ())
    np.testing.assert_array_equal(u.permutation, spec.permutation)
    assert nn.unsigned(u) is u
    with pytest.raises(TypeError, match="ChiralSpec"):
        nn.unsigned(7)


# ---------------------------------------------------------------------------------- equivariance


@pytest.mark.x64
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("specs", _specs(SPECS))
def test_cell_scan_equivariant_with_carry(kind, specs):
    """The cell stepped with lax.scan over 10 steps from a random carry: outputs and final carry."""
    in_spec, hidden = SPECS[specs]
    cell = CELLS[kind](in_spec, hidden, rngs=nnx.Rngs(0))
    testing.randomize_params(cell, seed=1, dtype=F64)
    x = _seq(in_spec, dtype=F64)

    def run(args):
        carry, xs = args
        carry, ys = jax.lax.scan(lambda c, xt: cell(c, xt), carry, jnp.moveaxis(xs, 1, 0))
        return carry, jnp.moveaxis(ys, 0, 1)

    carry = _random_carry(kind, 3, hidden, seed=5, dtype=F64)
    cs = _carry_spec(kind, hidden)
    testing.assert_equivariant(jax.jit(run), (carry, x), (cs, in_spec), (cs, hidden))


@pytest.mark.x64
@pytest.mark.parametrize("kind", list(STACKS))
@pytest.mark.parametrize("specs", _specs(["h36m2d_hidden_negated", "penn2d_allneg_to_h36m3d"]))
def test_stack_equivariant_with_initial_and_final_carries(kind, specs):
    """Two layers with dropout (training, fixed masks), 9 steps, random per-layer initial carries."""
    in_spec, hidden = SPECS[specs]
    layer = STACKS[kind](in_spec, hidden, num_layers=2, dropout_rate=0.3, rngs=nnx.Rngs(0))
    testing.randomize_params(layer, seed=1, dtype=F64)
    graphdef, state = nnx.split(layer)

    def run(args):
        xs, carries = args
        return nnx.merge(graphdef, state, copy=True)(xs, carries)

    carries = tuple(_random_carry(kind, 3, hidden, seed=s, dtype=F64) for s in (5, 6))
    cs = tuple(_carry_spec(kind, hidden) for _ in carries)
    xs = _seq(in_spec, steps=9, dtype=F64)
    testing.assert_equivariant(jax.jit(run), (xs, carries), (in_spec, cs), (hidden, cs))


@pytest.mark.slow  # each of these three: seconds of eager compiles
def test_stack_accepts_even_odd_input():
    in_spec, hidden = SPECS["penn2d_hidden_plain"]
    layer = nn.ChiralLSTM(in_spec, hidden, num_layers=2, rngs=nnx.Rngs(0))
    x = _seq(in_spec)
    ys, carries = layer(x)
    ys_eo, _ = layer(to_even_odd(x, in_spec))
    np.testing.assert_allclose(ys_eo, ys, rtol=1e-6, atol=1e-6)
    assert ys.shape == (3, STEPS, hidden.size)
    assert len(carries) == 2 and carries[1][1].shape == (3, hidden.size)
    np.testing.assert_allclose(carries[1][1], ys[:, -1], rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------- reference


def _dense(block, in_spec, out_spec):
    return tying.linear_weight(block, in_spec, out_spec)


def _reference_lstm(cell, carry, xs):
    """The textbook LSTM on dense weights rebuilt gate by gate from the free parameters."""
    gates, gs, hs, ins = cell.gates(), cell.gate_spec, cell.hidden_spec, cell.in_spec

    def pre(name, spec, x, h):
        g = gates[name]
        return (
            x @ _dense(g["input"], ins, spec)
            + h @ _dense(g["hidden"], hs, spec)
            + tying.linear_bias(g["bias"], spec)[None, :]
        )

    c, h = carry
    out = []
    for t in range(xs.shape[1]):
        x = xs[:, t]
        i = jax.nn.sigmoid(pre("input", gs, x, h))
        f = jax.nn.sigmoid(pre("forget", gs, x, h))
        o = jax.nn.sigmoid(pre("output", gs, x, h))
        g = jnp.tanh(pre("cell", hs, x, h))
        c = f * c + i * g
        h = o * jnp.tanh(c)
        out.append(h)
    return (c, h), jnp.stack(out, axis=1)


def _reference_gru(cell, h, xs):
    gates, gs, hs, ins = cell.gates(), cell.gate_spec, cell.hidden_spec, cell.in_spec
    out = []
    for t in range(xs.shape[1]):
        x = xs[:, t]

        def pre(name, spec, x=x, h=h):
            g = gates[name]
            return (
                x @ _dense(g["input"], ins, spec)
                + h @ _dense(g["hidden"], hs, spec)
                + tying.linear_bias(g["bias"], spec)[None, :]
            )

        r, z = jax.nn.sigmoid(pre("reset", gs)), jax.nn.sigmoid(pre("update", gs))
        n_ = gates["candidate"]
        n = jnp.tanh(
            x @ _dense(n_["input"], ins, hs)
            + tying.linear_bias(n_["bias"], hs)[None, :]
            + r * (h @ _dense(n_["hidden"], hs, hs) + tying.linear_bias(n_["hidden_bias"], hs)[None, :])
        )
        h = (1.0 - z) * n + z * h
        out.append(h)
    return h, jnp.stack(out, axis=1)


@pytest.mark.x64
# GRU in the quick loop (~2 s); the LSTM's eager reference loop takes ~6 s.
@pytest.mark.parametrize("kind", ["gru", pytest.param("lstm", marks=pytest.mark.slow)])
@pytest.mark.parametrize("specs", _specs(["h36m2d_hidden_negated", "penn2d_allneg_to_h36m3d"]))
def test_matches_reference_equations(kind, specs):
    """Cell, pure step, pure sequence and stacked layer all equal the textbook equations."""
    in_spec, hidden = SPECS[specs]
    stack = STACKS[kind](in_spec, hidden, rngs=nnx.Rngs(0))
    testing.randomize_params(stack, seed=1, dtype=F64)
    cell = stack.cells[0]
    xs = _seq(in_spec, steps=6, dtype=F64)
    carry = _random_carry(kind, 3, hidden, seed=5, dtype=F64)
    ref_carry, ref = (_reference_lstm if kind == "lstm" else _reference_gru)(cell, carry, xs)

    ys, carries = stack(xs, (carry,))
    np.testing.assert_allclose(ys, ref, rtol=1e-10, atol=1e-10)
    chex_close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)  # noqa: E731
    jax.tree.map(chex_close, carries[0], ref_carry)

    step = recurrent.lstm_step if kind == "lstm" else recurrent.gru_step
    sequence = recurrent.lstm_sequence if kind == "lstm" else recurrent.gru_sequence
    c = carry
    for t in range(xs.shape[1]):
        c, y = step(cell.params, c, xs[:, t], in_spec, hidden)
    np.testing.assert_allclose(y, ref[:, -1], rtol=1e-10, atol=1e-10)
    _, y_cell = cell(carry, xs[:, 0])
    np.testing.assert_allclose(y_cell, ref[:, 0], rtol=1e-10, atol=1e-10)
    _, ys_pure = sequence(cell.params, xs, in_spec, hidden, carry)
    np.testing.assert_allclose(ys_pure, ref, rtol=1e-10, atol=1e-10)
    # Flax's RNN driver takes the cell as it takes nnx.LSTMCell.
    _, ys_rnn = nnx.RNN(cell, return_carry=True)(xs, initial_carry=carry)
    np.testing.assert_allclose(ys_rnn, ref, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------- gradients


# An LSTM that overwrote c would starve its forget gate (both kinds in the slow set).
@pytest.mark.parametrize("kind", ["lstm", pytest.param("gru", marks=pytest.mark.slow)])
@pytest.mark.slow
def test_every_gate_gets_gradient(kind):
    """A loss on the outputs reaches every gate's input and hidden weights (both halves) and bias
    (an LSTM that overwrote c with the candidate would leave the forget gate without any)."""
    in_spec, hidden = SPECS["h36m2d_hidden_negated"]
    layer = STACKS[kind](in_spec, hidden, num_layers=2, rngs=nnx.Rngs(0))
    xs = _seq(in_spec, steps=8)
    carries = tuple(_random_carry(kind, 3, hidden, s) for s in (1, 2))

    def loss(model):
        ys, _ = model(xs, carries)
        return jnp.sum(jnp.square(ys - 0.1))

    grads = nnx.jit(nnx.grad(loss))(layer)  # one compile, not a compile per eager op
    for layer_idx, cell in enumerate(layer.cells):
        g = grads["cells"][layer_idx]
        fused = {
            "input": {"even": g["input_even"][...], "odd": g["input_odd"][...]},
            "hidden": {"even": g["hidden_even"][...], "odd": g["hidden_odd"][...]},
            "bias": g["bias"][...],
        }
        if kind == "gru":
            fused["hidden_bias"] = g["hidden_bias"][...]
        per_gate = recurrent.split_gates(fused, cell.in_spec, hidden, kind=kind)
        names = (*recurrent.LSTM_GATES, "cell") if kind == "lstm" else (*recurrent.GRU_GATES, "candidate")
        assert tuple(per_gate) == names
        for name, blocks in per_gate.items():
            for path, leaf in jax.tree_util.tree_leaves_with_path(blocks):
                if leaf.size:
                    norm = float(jnp.max(jnp.abs(leaf)))
                    assert norm > 1e-8, (
                        f"layer {layer_idx} gate {name} {jax.tree_util.keystr(path)}: zero grad"
                    )


# ---------------------------------------------------------------------------------- init, counts


def test_forget_bias_is_one_on_every_channel():
    in_spec, hidden = SPECS["penn2d_allneg_to_h36m3d"]
    cell = nn.ChiralLSTMCell(in_spec, hidden, rngs=nnx.Rngs(0))
    gates = cell.gates()
    gs = cell.gate_spec
    np.testing.assert_allclose(tying.linear_bias(gates["forget"]["bias"], gs), np.ones(gs.size), atol=1e-6)
    for name in ("input", "output"):
        np.testing.assert_array_equal(gates[name]["bias"], 0.0)
    assert gs.negated == () and gs.permutation.tolist() == hidden.permutation.tolist()


def test_parameter_count_is_the_equivariant_count():
    in_spec, hidden = SPECS["h36m2d_hidden_negated"]
    cell = nn.ChiralLSTMCell(in_spec, hidden, rngs=nnx.Rngs(0))
    gs = nn.unsigned(hidden)
    want = 3 * (tying.num_free_linear(in_spec, gs) + tying.num_free_linear(hidden, gs) + gs.num_even)
    want += tying.num_free_linear(in_spec, hidden) + tying.num_free_linear(hidden, hidden) + hidden.num_even
    got = sum(leaf.size for leaf in jax.tree.leaves(nnx.state(cell, nnx.Param)))
    assert got == want


# ---------------------------------------------------------------------------------- modes


@pytest.mark.slow
def test_dropout_between_layers_only_in_training():
    in_spec, hidden = SPECS["penn2d_hidden_plain"]
    layer = nn.ChiralGRU(in_spec, hidden, num_layers=2, dropout_rate=0.5, rngs=nnx.Rngs(0))
    xs = _seq(in_spec)
    train_a, _ = layer(xs)
    train_b, _ = layer(xs)
    assert not np.allclose(train_a, train_b)  # fresh masks per call
    layer.eval()
    eval_a, _ = layer(xs)
    np.testing.assert_array_equal(eval_a, layer(xs)[0])
    single = nn.ChiralGRU(in_spec, hidden, num_layers=1, dropout_rate=0.5, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(single(xs)[0], single(xs)[0])  # nothing between layers to drop


@pytest.mark.slow
def test_jit_and_step_match_sequence():
    in_spec, hidden = SPECS["h36m2d_hidden_negated"]
    layer = nn.ChiralLSTM(in_spec, hidden, num_layers=2, rngs=nnx.Rngs(0))
    xs = _seq(in_spec)
    ys, carries = nnx.jit(lambda m, x: m(x))(layer, xs)
    c = layer.initialize_carry((3,))
    for t in range(xs.shape[1]):
        c, y = layer.step(c, xs[:, t])
    np.testing.assert_allclose(y, ys[:, -1], rtol=1e-5, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), c, carries)


# ---------------------------------------------------------------------------------- errors


def test_bad_inputs_raise_clear_errors():
    in_spec, hidden = H36M.spec(2), ChiralSpec.hidden(20)
    cell = nn.ChiralLSTMCell(in_spec, hidden, rngs=nnx.Rngs(0))
    x = jnp.ones((3, in_spec.size), jnp.float32)
    good = cell.initialize_carry(x.shape)
    with pytest.raises(ValueError, match=r"expected 34 channels .* got 30"):
        cell(good, jnp.ones((3, 30), jnp.float32))
    with pytest.raises(ValueError, match=r"carry c: expected shape \(3, 20\) .* got \(3, 19\)"):
        cell((jnp.zeros((3, 19)), good[1]), x)
    with pytest.raises(ValueError, match=r"carry h: expected shape \(3, 20\)"):
        cell((good[0], jnp.zeros((2, 20))), x)
    with pytest.raises(ValueError, match=r"expected an LSTM carry \(c, h\)"):
        cell(good[0], x)
    gru = nn.ChiralGRUCell(in_spec, hidden, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"carry h: expected shape \(3, 20\)"):
        gru(jnp.zeros((3, 21)), x)
    stack = nn.ChiralLSTM(in_spec, hidden, num_layers=2, rngs=nnx.Rngs(0))
    xs = jnp.ones((3, 5, in_spec.size), jnp.float32)
    with pytest.raises(ValueError, match="sequence of 2 per-layer carries"):
        stack(xs, (good,))
    with pytest.raises(ValueError, match=r"layer 1 initial carry: carry c: expected shape \(3, 20\)"):
        stack(xs, (good, (jnp.zeros((3, 7)), good[1])))
    with pytest.raises(ValueError, match=r"expected 34 channels"):
        stack(jnp.ones((3, 5, 33), jnp.float32))
    with pytest.raises(ValueError, match="num_layers"):
        nn.ChiralGRU(in_spec, hidden, num_layers=0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="dropout_rate"):
        nn.ChiralGRU(in_spec, hidden, dropout_rate=1.0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"params\['input'\]\['even'\] must be"):
        recurrent.lstm_step(cell.params, good, x, in_spec, ChiralSpec.hidden(22))


# ---------------------------------------------------------------------------------- benchmark


@pytest.mark.slow
def test_benchmark_quick(tmp_path, capsys, benchmark_script):
    module = benchmark_script("recurrent")
    out = tmp_path / "rec.json"
    result = module.main(["--quick", "--repeats", "1", "--json", str(out)])
    assert out.is_file() and all(t > 0 for t in result["median_ms"].values())
    assert "| variant |" in capsys.readouterr().out
