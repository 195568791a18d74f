"""NNX modules and models: state handling, train/eval, errors, parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from chiral_jax import nn, skeletons, testing, tying
from chiral_jax.models import MLP, ChiralMLP, ChiralTemporalModel, TemporalModel
from chiral_jax.spec import ChiralSpec

H2, H3 = skeletons.H36M.spec(2), skeletons.H36M.spec(3)


def _count(module, kind=nnx.Param) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(module, kind)))


def test_linear_module_matches_its_dense_weight():
    layer = nn.ChiralLinear(H2, H3, rngs=nnx.Rngs(0))
    layer.bias[...] = jnp.arange(H3.num_even, dtype=jnp.float32)
    x = jax.random.normal(jax.random.key(1), (3, 34))
    want = x @ layer.weight + tying.linear_bias(layer.bias[...], H3)[None, :]
    np.testing.assert_allclose(layer(x), want, rtol=1e-5, atol=1e-5)
    assert _count(layer) == tying.num_free_linear(H2, H3) + H3.num_even


def test_conv_module_matches_flax_conv_with_its_dense_kernel():
    layer = nn.ChiralConv1d(H2, ChiralSpec.hidden(64), 3, kernel_dilation=2, rngs=nnx.Rngs(0))
    ref = nnx.Conv(34, 64, (3,), kernel_dilation=(2,), padding="VALID", rngs=nnx.Rngs(0))
    ref.kernel[...] = layer.weight
    ref.bias[...] = tying.linear_bias(layer.bias[...], layer.out_spec)
    x = jax.random.normal(jax.random.key(1), (2, 11, 34))
    np.testing.assert_allclose(layer(x), ref(x), rtol=1e-5, atol=1e-5)


def test_batch_norm_train_eval_and_running_averages():
    spec = ChiralSpec.hidden(10, negated=True)
    bn = nn.ChiralBatchNorm(spec, momentum=0.5)
    x = jax.random.normal(jax.random.key(0), (64, spec.size)) * 3.0 + 2.0
    y = bn(x)
    # Normalized (augmented batch): per-channel second moment about 1 after scaling.
    assert np.allclose(np.mean(np.asarray(y) ** 2, axis=0).mean(), 1.0, atol=0.1)
    mean_even, var = np.asarray(bn.mean[...]), np.asarray(bn.var[...])
    assert not np.allclose(mean_even, 0.0) and not np.allclose(var, 1.0)  # updated
    bn.eval()
    assert bn.use_running_average
    y_eval = bn(x)
    assert not np.allclose(y_eval, y)  # uses running averages, not the batch
    np.testing.assert_array_equal(bn.mean[...], mean_even)  # and does not update them
    bn.train()
    assert not bn.use_running_average


@pytest.mark.slow  # the battery's quick loop checks sample-wise mirroring of batch norm
def test_batch_norm_mirroring_one_sample_mirrors_only_that_output():
    spec = skeletons.H36M.spec(3)
    x = jax.random.normal(jax.random.key(0), (8, 5, spec.size), jnp.float32) + 1.0
    chiral = testing.as_function(nn.ChiralBatchNorm(spec))
    testing.assert_samplewise_equivariant(chiral, x, spec, spec)
    # Flax's plain batch norm is equivariant when the whole batch is mirrored (its statistics
    # permute with the channels), but not sample by sample: that is why ours symmetrizes.
    plain = testing.as_function(nnx.BatchNorm(spec.size, rngs=nnx.Rngs(0)))
    testing.assert_equivariant(plain, x, spec, spec)
    with pytest.raises(AssertionError, match="sample by sample"):
        testing.assert_samplewise_equivariant(plain, x, spec, spec)


def test_dropout_module_train_eval():
    drop = nn.ChiralDropout(0.5, rngs=nnx.Rngs(0))
    x = jnp.ones((4, 100))
    a, b = drop(x), drop(x)
    assert not np.array_equal(a, b)  # fresh masks per call
    drop.eval()
    np.testing.assert_array_equal(drop(x), x)
    with pytest.raises(ValueError, match="pass rngs"):
        nn.ChiralDropout(0.5)(x)


def test_activation_module_rejects_relu_on_negated_spec():
    with pytest.raises(ValueError, match="is not odd"):
        nn.ChiralActivation(ChiralSpec.hidden(16, negated=True), "relu")
    with pytest.raises(ValueError, match="is not odd"):
        ChiralMLP(H2, H3, (32,), activation="gelu", negated=True, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="is not odd"):
        # The input spec negates x: a ReLU there would break equivariance.
        nn.ChiralActivation(H2, "relu")


def test_modules_reject_wrong_channel_counts():
    with pytest.raises(ValueError, match=r"expected 34 channels .* got 30"):
        nn.ChiralLinear(H2, H3, rngs=nnx.Rngs(0))(jnp.zeros((2, 30)))
    with pytest.raises(ValueError, match=r"expected 34 channels"):
        nn.ChiralConv1d(H2, H3, 3, rngs=nnx.Rngs(0))(jnp.zeros((2, 9, 51)))
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        nn.ChiralConv1d(H2, H3, 0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"frames >= 27"):
        ChiralTemporalModel(H2, H3, channels=16, rngs=nnx.Rngs(0))(jnp.zeros((1, 20, 34)))
    with pytest.raises(ValueError, match="odd ints"):
        ChiralTemporalModel(H2, H3, filter_widths=(3, 2), channels=16, rngs=nnx.Rngs(0))


@pytest.mark.slow  # ~9 s of eager compiles; the battery's quick loop runs the chiral stack jitted
def test_temporal_models_shapes_params_and_jit():
    chiral = ChiralTemporalModel(H2, H3, filter_widths=(3, 3, 3), channels=64, rngs=nnx.Rngs(0))
    plain = TemporalModel(34, 51, filter_widths=(3, 3, 3), channels=64, rngs=nnx.Rngs(0))
    assert chiral.receptive_field == plain.receptive_field == 27
    x = jax.random.normal(jax.random.key(0), (2, 30, 34), jnp.float32)
    assert chiral(x).shape == plain(x).shape == (2, 4, 51)
    # Equal width: about half the parameters (the input conv and biases do not halve exactly).
    ratio = _count(chiral) / _count(plain)
    assert 0.45 < ratio < 0.56, ratio
    step = nnx.jit(lambda m, x: m(x))
    chiral.eval()
    np.testing.assert_allclose(step(chiral, x), chiral(x), rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # ~3 s; the battery's quick loop runs both chiral MLPs
def test_mlp_and_baseline():
    chiral = ChiralMLP(H2, H3, (128, 128), rngs=nnx.Rngs(0))
    plain = MLP(34, 51, (128, 128), rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (5, 34))
    assert chiral(x).shape == plain(x).shape == (5, 51)
    assert _count(chiral) < 0.56 * _count(plain)


def test_module_checkpoint_round_trip_of_free_parameters():
    layer = nn.ChiralConv1d(H2, H3, 3, rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(layer)
    restored = nnx.merge(graphdef, jax.tree.map(lambda a: np.asarray(a).copy(), state))
    x = jax.random.normal(jax.random.key(1), (1, 7, 34))
    np.testing.assert_array_equal(restored(x), layer(x))


@pytest.mark.slow  # ~20 s of eager compiles; test_lifting checks chunked vs dilated nets in the quick loop
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("kind", ["chiral", "baseline"])
def test_strided_training_net_shares_weights_with_dilated_net(kind, causal):
    widths = (3, 3, 3)
    if kind == "chiral":
        make = lambda strided, seed: ChiralTemporalModel(  # noqa: E731
            H2, H3, filter_widths=widths, channels=32, causal=causal, strided=strided, rngs=nnx.Rngs(seed)
        )
    else:
        make = lambda strided, seed: TemporalModel(  # noqa: E731
            34, 51, filter_widths=widths, channels=32, causal=causal, strided=strided, rngs=nnx.Rngs(seed)
        )
    trained, evaluator = make(True, 0), make(False, 1)
    # Non-trivial batch statistics, then load the strided net's state into the dilated one.
    trained(jax.random.normal(jax.random.key(5), (16, 27, 34), jnp.float32) + 0.3)
    nnx.update(evaluator, nnx.state(trained))
    trained.eval()
    evaluator.eval()
    seq = jax.random.normal(jax.random.key(2), (2, 40, 34), jnp.float32)
    dense_out = evaluator(seq)  # (2, 14, 51): one frame per 27-frame window
    windows = jnp.stack([seq[:, t : t + 27] for t in range(dense_out.shape[1])], axis=1)
    strided_out = trained(windows.reshape(-1, 27, 34)).reshape(2, -1, 51)
    np.testing.assert_allclose(strided_out, dense_out, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="multiple of 27"):
        trained(seq)
