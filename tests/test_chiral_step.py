"""The chiral step's cheaper dropout: bytes from split 32-bit words (equivariance of the nets using
it: the battery)."""

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chiral_jax import functional as F
from chiral_jax.functional._dropout import _field_bits, _random_bytes, _random_fields


@pytest.mark.parametrize("shape", [(64, 128), (3, 7, 5), (10,)])
def test_random_bytes_are_uniform_bytes_of_the_shape(shape):
    b = np.asarray(_random_bytes(jax.random.key(0), shape))
    assert b.shape == shape and b.dtype == np.uint8
    big = np.asarray(_random_bytes(jax.random.key(1), (256, 1024)))
    counts = np.bincount(big.ravel(), minlength=256)
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()
    # Different keys, different bytes; the same key, the same bytes.
    assert not np.array_equal(big, np.asarray(_random_bytes(jax.random.key(2), (256, 1024))))
    np.testing.assert_array_equal(big, np.asarray(_random_bytes(jax.random.key(1), (256, 1024))))


def test_dropout_keeps_its_rate_and_scale():
    x = jnp.ones((512, 256))
    y = np.asarray(F.dropout(x, 0.25, jax.random.key(3)))
    assert abs((y == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(np.unique(y[y != 0]), [4 / 3], rtol=1e-6)


def test_default_masks_are_byte_draws_and_word_draws_are_opt_in():
    x, key = jnp.ones((16, 64)), jax.random.key(5)
    keep = np.asarray(jax.random.bits(jax.random.split(key, 1)[0], (16, 64), jnp.uint8) >= 64)
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.25, key)) != 0, keep)
    with F.dropout_mask_bits("word"):
        word = np.asarray(F.dropout(x, 0.25, key)) != 0
    assert not np.array_equal(word, keep)
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.25, key)) != 0, keep)  # restored
    with pytest.raises(ValueError, match="'byte', 'word' or 'packed'"):
        F.dropout_mask_bits("bits").__enter__()


def test_mask_mode_is_scoped_to_its_block_and_thread():
    seen = {}
    with F.dropout_mask_bits("word"):
        with F.dropout_mask_bits("packed"):
            assert F.current_mask_bits() == "packed"
        assert F.current_mask_bits() == "word"
        # Another thread does not see this block's mode.
        worker = threading.Thread(target=lambda: seen.setdefault("mode", F.current_mask_bits()))
        worker.start()
        worker.join()
        with pytest.raises(RuntimeError), F.dropout_mask_bits("packed"):
            raise RuntimeError
        assert F.current_mask_bits() == "word"
    assert seen == {"mode": "byte"} and F.current_mask_bits() == "byte"


@pytest.mark.parametrize(
    ("threshold", "bits"), [(128, 1), (64, 2), (192, 2), (32, 4), (16, 4), (51, 8), (1, 8)]
)
def test_packed_masks_use_the_fewest_bits_that_express_the_rate(threshold, bits):
    assert _field_bits(threshold) == bits


@pytest.mark.parametrize("shape", [(64, 128), (3, 7, 5), (10,)])
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_random_fields_are_uniform_and_independent(shape, bits):
    f = np.asarray(_random_fields(jax.random.key(0), shape, bits))
    assert f.shape == shape and f.max() < 2**bits
    big = np.asarray(_random_fields(jax.random.key(1), (256, 1024), bits)).astype(np.int64)
    counts = np.bincount(big.ravel(), minlength=2**bits)
    df = 2**bits - 1  # chi-square of uniform counts: mean df, sd sqrt(2 df); 6 sd is far
    chi2 = ((counts - counts.mean()) ** 2 / counts.mean()).sum()
    assert chi2 < df + 6 * np.sqrt(2 * df)
    # Neighbouring fields come from one word: they must still be uncorrelated.
    c = np.corrcoef(big[:, :-1].ravel(), big[:, 1:].ravel())[0, 1]
    assert abs(c) < 0.01
    np.testing.assert_array_equal(big, np.asarray(_random_fields(jax.random.key(1), (256, 1024), bits)))


@pytest.mark.parametrize("rate", [0.5, 0.25, 0.125, 0.2, 0.7])
@pytest.mark.parametrize("mode", ["byte", "word", "packed"])
def test_every_mask_mode_keeps_the_rate_and_scale(rate, mode):
    y = np.asarray(F.dropout(jnp.ones((512, 512)), rate, jax.random.key(4), mask_bits=mode))
    threshold = round(256 * rate)
    assert abs((y == 0).mean() - threshold / 256) < 0.01
    np.testing.assert_allclose(np.unique(y[y != 0]), [256 / (256 - threshold)], rtol=1e-6)


def test_mask_bits_argument_overrides_the_context_and_is_checked():
    x, key = jnp.ones((16, 64)), jax.random.key(5)
    with F.dropout_mask_bits("word"):
        explicit = np.asarray(F.dropout(x, 0.25, key, mask_bits="packed"))
    np.testing.assert_array_equal(explicit, np.asarray(F.dropout(x, 0.25, key, mask_bits="packed")))
    assert not np.array_equal(explicit, np.asarray(F.dropout(x, 0.25, key)))  # byte by default
    with pytest.raises(ValueError, match="'byte', 'word' or 'packed', got 'bits'"):
        F.dropout(x, 0.25, key, mask_bits="bits")
    from chiral_jax.nn import ChiralDropout

    with pytest.raises(
        ValueError, match="ChiralDropout: mask_bits must be one of 'byte', 'word' or 'packed'"
    ):
        ChiralDropout(0.25, mask_bits="nibble")


def test_lifting_nets_take_dropout_bits_and_reject_unknown_ones():
    from chiral_jax import skeletons
    from chiral_jax.tasks import lifting

    for kind in ("chiral", "baseline"):
        m = lifting.make_model(
            lifting.Variant(kind, kind, 16),
            skeletons.H36M,
            filter_widths=(3,),
            dropout=0.25,
            dropout_bits="packed",
        )
        assert m.drop.mask_bits == "packed"
        # Without dropout_bits the layer follows dropout_mask_bits where the step is traced.
        plain = lifting.make_model(
            lifting.Variant(kind, kind, 16), skeletons.H36M, filter_widths=(3,), dropout=0.25
        )
        assert plain.drop.mask_bits is None
    with pytest.raises(ValueError, match=r"train\.dropout_bits must be one of"):
        lifting.make_model(
            lifting.Variant("chiral", "chiral", 16),
            skeletons.H36M,
            filter_widths=(3,),
            dropout=0.25,
            dropout_bits="nibble",
        )
