"""Initialization: PyTorch's default rule for the VideoPose3D nets, chiral blocks by their half fan-in."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from chiral_jax import ChiralSpec, skeletons, tying
from chiral_jax.models import ChiralTemporalModel, TemporalModel
from chiral_jax.nn import ChiralConv1d, ChiralLinear

H2, H3 = skeletons.H36M.spec(2), skeletons.H36M.spec(3)


def test_torch_kernel_init_is_pytorch_kaiming_uniform():
    # kaiming_uniform_(a=sqrt(5)): bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + 5)).
    k, c_in, c_out = 3, 256, 512
    w = np.asarray(tying.torch_kernel_init(jax.random.key(0), (k, c_in, c_out), jnp.float32))
    bound = np.sqrt(2.0 / 6.0) * np.sqrt(3.0 / (k * c_in))
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # uniform, not a narrower law
    np.testing.assert_allclose(w.std(), bound / np.sqrt(3.0), rtol=0.01)


def test_torch_bias_init_bound_and_zero_fan():
    b = np.asarray(tying.torch_bias_init(64)(jax.random.key(1), (10_000,), jnp.float32))
    assert np.abs(b).max() <= 1 / 8 and np.abs(b).max() > 0.99 / 8
    np.testing.assert_array_equal(tying.torch_bias_init(0)(jax.random.key(1), (3,), jnp.float32), 0)
    with pytest.raises(ValueError, match="fan_in must be >= 0"):
        tying.torch_bias_init(-1)


def test_initializers_unknown_scheme_names_the_key():
    with pytest.raises(ValueError, match=r"model\.init must be one of torch, lecun, got 'xavier'"):
        tying.initializers("xavier", 4, "model.init")


def test_chiral_blocks_use_their_half_fan_in_so_the_dense_map_matches_pytorch():
    """Each block is a PyTorch layer of its own input half; the equivalent dense kernel then has
    PyTorch's entry std for the full fan-in (its Frobenius norm is the blocks')."""
    hid = ChiralSpec.hidden(512)
    k = 3
    kernel_init, _ = tying.initializers("torch", k * hid.num_even)
    conv = ChiralConv1d(hid, hid, k, use_bias=False, kernel_init=kernel_init, rngs=nnx.Rngs(0))
    even = np.asarray(conv.kernel["even"])
    np.testing.assert_allclose(even.std(), 1 / np.sqrt(3 * k * hid.num_even), rtol=0.02)
    dense = np.asarray(conv.weight)
    np.testing.assert_allclose(dense.std(), 1 / np.sqrt(3 * k * hid.size), rtol=0.02)


def test_random_bias_is_equivariant_and_drawn_only_when_asked():
    hid = ChiralSpec.hidden(16)
    _, bias_init = tying.initializers("torch", 4)
    lin = ChiralLinear(H2, hid, bias_init=bias_init, rngs=nnx.Rngs(0))
    assert np.abs(np.asarray(lin.bias[...])).max() > 0
    zero = ChiralLinear(H2, hid, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(zero.bias[...], 0)
    # Zero-bias layers draw no extra key: their kernels are what they always were.
    np.testing.assert_array_equal(lin.kernel["even"], zero.kernel["even"])


@pytest.mark.parametrize("init", ["torch", pytest.param("lecun", marks=pytest.mark.slow)])
def test_temporal_kernels_follow_the_scheme(init):
    c = 256
    dense = TemporalModel(34, 51, channels=c, init=init, rngs=nnx.Rngs(0))
    chiral = ChiralTemporalModel(H2, H3, channels=c, init=init, rngs=nnx.Rngs(0))
    fan = 3 * c  # the first dilated conv: kernel 3 over c channels
    expect = 1 / np.sqrt(3 * fan) if init == "torch" else 1 / np.sqrt(fan)  # lecun: std 1/sqrt(fan)
    np.testing.assert_allclose(np.asarray(dense.layers_conv[0].kernel[...]).std(), expect, rtol=0.03)
    np.testing.assert_allclose(np.asarray(chiral.layers_conv[0].weight).std(), expect, rtol=0.03)
    shrink_bias = np.asarray(dense.shrink.bias[...])
    if init == "torch":
        assert 0 < np.abs(shrink_bias).max() <= 1 / np.sqrt(c)
    else:
        np.testing.assert_array_equal(shrink_bias, 0)


@pytest.mark.slow
def test_initial_output_scale_matches_between_chiral_and_dense_and_pytorch_rule():
    """Training-mode outputs at init: batch norm makes the last hidden layer unit-variance, so the
    output std is the shrink layer's, sqrt(c * var(relu unit) / (3 c)) plus its bias, for both nets."""
    c = 256
    x = jax.random.normal(jax.random.key(3), (256, 27, 34))
    stds = {}
    for name, model in (
        ("dense", TemporalModel(34, 51, channels=c, dropout=0.0, rngs=nnx.Rngs(0))),
        ("chiral", ChiralTemporalModel(H2, H3, channels=c, dropout=0.0, rngs=nnx.Rngs(0))),
    ):
        stds[name] = float(model(x, strided=True).std())
    # A residual stack of unit-variance relu blocks: the final hidden variance is a small multiple of
    # 1; the shrink's U(+-1/sqrt(c)) rule gives an output std near 1/sqrt(3) times the hidden rms.
    assert 0.3 < stds["dense"] < 1.5
    np.testing.assert_allclose(stds["chiral"], stds["dense"], rtol=0.15)


def test_channel_dropout_masks_channels_and_keeps_eval_exact():
    """basis="channels": masked channels are exactly zero in the channel basis (the even/odd basis
    spreads a masked coordinate over both channels of a pair); evaluation stays the identity."""
    from chiral_jax.basis import from_even_odd, to_even_odd
    from chiral_jax.nn import ChiralDropout

    hid = ChiralSpec.hidden(64)
    x = jax.nn.relu(jax.random.normal(jax.random.key(0), (32, hid.size))) + 1.0  # no zero channel
    feats = to_even_odd(x, hid)
    chan = ChiralDropout(0.5, basis="channels", spec=hid, rngs=nnx.Rngs(0))
    y = np.asarray(from_even_odd(chan(feats), hid))
    zero_frac = (np.abs(y) < 1e-6).mean()
    assert 0.4 < zero_frac < 0.6
    kept = np.abs(y) >= 1e-6
    np.testing.assert_allclose(y[kept], 2 * np.asarray(x)[kept], rtol=1e-5)
    even_odd = ChiralDropout(0.5, rngs=nnx.Rngs(0))
    assert (np.abs(np.asarray(from_even_odd(even_odd(feats), hid))) < 1e-6).mean() < 0.4
    np.testing.assert_array_equal(chan(feats, deterministic=True).even, feats.even)
    with pytest.raises(ValueError, match="needs the features' spec"):
        ChiralDropout(0.5, basis="channels")


@pytest.mark.slow
def test_temporal_model_with_channel_dropout_is_equivariant_in_eval():
    from chiral_jax import assert_equivariant

    model = ChiralTemporalModel(H2, H3, filter_widths=(3, 3), channels=32, dropout_basis="channels",
                                rngs=nnx.Rngs(0))  # fmt: skip
    model(jax.random.normal(jax.random.key(1), (4, 9, 34)))  # a training-mode call runs
    model.eval()
    assert_equivariant(model, jax.random.normal(jax.random.key(2), (4, 9, 34)), H2, H3)


def test_square_orthogonal_init_draws_one_orthogonal_square_per_gate() -> None:
    import jax
    import numpy as np

    from chiral_jax import tying

    w = np.asarray(tying.square_orthogonal_init(jax.random.key(0), (6, 21)))
    assert w.shape == (6, 21)
    for g in range(3):  # three full squares, then a cut one
        sq = w[:, 6 * g : 6 * (g + 1)]
        np.testing.assert_allclose(sq.T @ sq, np.eye(6), atol=1e-5)
    assert not np.allclose(w[:, :6], w[:, 6:12])


def test_chiral_forecaster_recurrent_init_options() -> None:
    import numpy as np
    import pytest
    from flax import nnx

    from chiral_jax.models import ChiralPoseForecaster

    m = ChiralPoseForecaster(hidden=16, recurrent_init="orthogonal", forget_bias=0.0, rngs=nnx.Rngs(0))
    cell = m.decoder.cells[1]
    h = np.asarray(cell.hidden_even[...])
    n = h.shape[0]
    np.testing.assert_allclose(h[:, :n].T @ h[:, :n], np.eye(n), atol=1e-5)  # the input gate's block
    np.testing.assert_array_equal(np.asarray(cell.bias[...]), 0.0)  # no forget bias
    default = ChiralPoseForecaster(hidden=16, rngs=nnx.Rngs(0)).decoder.cells[1]
    assert np.asarray(default.bias[...]).max() > 0  # forget bias 1 by default
    with pytest.raises(ValueError, match="recurrent_init must be 'lecun' or 'orthogonal', got 'xavier'"):
        ChiralPoseForecaster(hidden=16, recurrent_init="xavier", rngs=nnx.Rngs(0))
