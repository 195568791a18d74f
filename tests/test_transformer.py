"""Token sets and transformer lifters: TokenSpec, random token actions on the attention layers, the
lifters' outputs (twist and shape heads, feature maps), the training recipe's pieces and the task."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from chiral_jax import functional, nn, skeletons
from chiral_jax.data.fixtures import TINY_SYNTHETIC
from chiral_jax.models import ChiralTransformerLifter, TransformerLifter
from chiral_jax.models.transformer import TWIST_SPEC
from chiral_jax.spec import ChiralSpec
from chiral_jax.testing.battery import as_function, randomize_params
from chiral_jax.tokens import TokenSpec

H2, H3 = skeletons.H36M.spec(2), skeletons.H36M.spec(3)


def _random_action(rng: np.random.Generator, num_tokens: int) -> tuple[int, ...]:
    """A random involution: a random number of random disjoint swaps."""
    perm = np.arange(num_tokens)
    order = rng.permutation(num_tokens)
    for k in range(int(rng.integers(0, num_tokens // 2 + 1))):
        a, b = order[2 * k], order[2 * k + 1]
        perm[a], perm[b] = b, a
    return tuple(int(p) for p in perm)


def _random_channels(rng: np.random.Generator) -> ChiralSpec:
    joints = rng.permutation(int(rng.integers(2, 6)))
    pairs = int(rng.integers(0, len(joints) // 2 + 1))
    dim = int(rng.integers(1, 4))
    negated = tuple(d for d in range(dim) if rng.random() < 0.5)
    return ChiralSpec(
        left=joints[:pairs],
        right=joints[pairs : 2 * pairs],
        center=joints[2 * pairs :],
        dim=dim,
        negated=negated,
    )


def test_token_spec_validation_and_transform():
    cs = ChiralSpec.hidden(4)
    with pytest.raises(ValueError, match="involution"):
        TokenSpec((1, 2, 0), cs)
    with pytest.raises(ValueError, match=r"permutation of 0\.\.2"):
        TokenSpec((0, 0, 1), cs)
    with pytest.raises(TypeError, match="ChiralSpec"):
        TokenSpec((0,), "x")
    grid = TokenSpec.grid(2, 3, cs)
    assert grid.permutation == (2, 1, 0, 5, 4, 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., 6, 4\)"):
        grid.transform(np.zeros((2, 5, 4)))
    # The pose's joint tokens act on the flattened pose exactly as the pose spec does.
    tok = TokenSpec.pose(H2, frames=2)
    x = np.random.default_rng(0).standard_normal((3, 2, H2.size))
    np.testing.assert_array_equal(tok.transform(x.reshape(3, 34, 2)).reshape(3, 2, -1), H2.transform(x))
    assert tok.flat_spec().num_joints == 34
    assert TokenSpec.joints(H2, cs).num_orbits == 11 and TokenSpec.joints(H2, cs).num_pairs == 6


@pytest.mark.parametrize(
    "seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)]
)
def test_attention_norm_embedding_under_random_token_actions(seed):
    """Random involutions of the tokens and random channel specs (pairs, centers, negated coords):
    self-attention with a key mask, cross-attention from a tied embedding, layer norm."""
    rng = np.random.default_rng(seed)
    q_tok = TokenSpec(_random_action(rng, 7), _random_channels(rng))
    kv_tok = TokenSpec(_random_action(rng, 5), _random_channels(rng))
    out_cs = _random_channels(rng)
    r = nnx.Rngs(seed)
    self_attn = nn.ChiralMultiHeadAttention(kv_tok, kv_tok, 2, qkv_features=12, rngs=r)
    cross = nn.ChiralMultiHeadAttention(q_tok, q_tok.with_channels(out_cs), 3, kv_spec=kv_tok, rngs=r)
    emb = nn.ChiralTokenEmbedding(q_tok, rngs=r)
    ln = nn.ChiralLayerNorm(out_cs, center_odd=True)
    mods = randomize_params(nnx.List([self_attn, cross, emb, ln]), seed)

    def f(args):
        q, kv, mask = args
        kv = kv + mods[0](kv, mask=mask)
        return mods[3](mods[1](q + mods[2]()[None], kv, mask=mask))

    q = jnp.asarray(rng.standard_normal((3, 7, q_tok.size)), jnp.float32)
    kv = jnp.asarray(rng.standard_normal((3, 5, kv_tok.size)), jnp.float32)
    mask = jnp.asarray(rng.random((3, 5)) > 0.3)
    fn = jax.jit(f)
    y = fn((q, kv, mask))
    y_m = fn((q_tok.transform(q), kv_tok.transform(kv), kv_tok.transform_mask(mask)))
    np.testing.assert_allclose(
        y_m, q_tok.with_channels(out_cs).transform(y), atol=2e-5 * (1 + np.abs(y).max())
    )


def test_fully_masked_queries_get_zero_and_plain_attention_matches_channels():
    rng = np.random.default_rng(0)
    q, k, v = (jnp.asarray(rng.standard_normal((2, 4, 2, 6)), jnp.float32) for _ in range(3))
    mask = jnp.asarray([[False] * 4, [True, False, True, True]])
    out = functional.dot_product_attention(q, k, v, mask)
    assert float(jnp.abs(out[0]).max()) == 0.0 and float(jnp.abs(out[1]).max()) > 0
    # In the even/odd basis the score is the channel dot product: split channels 3 + 3.
    from chiral_jax.basis import EvenOdd

    eo = lambda a: EvenOdd(a[..., :3], a[..., 3:])  # noqa: E731
    got = functional.dot_product_attention(eo(q), eo(k), eo(v), mask)
    np.testing.assert_allclose(jnp.concatenate([got.even, got.odd], -1), out, atol=1e-6)
    with pytest.raises(ValueError, match="boolean"):
        functional.dot_product_attention(q, k, v, mask.astype(jnp.float32))


@pytest.mark.slow
def test_lifter_twist_and_shape_heads_are_chiral():
    """The issue-12 outputs: (cos, sin) per output joint with sin odd and left/right swapped, and
    invariant shape coefficients; with keep masks mirrored with their joints."""
    model = ChiralTransformerLifter(
        H2, H3, frames=2, layers=1, heads=2, width=8, ffn_layers=1, twist=True, shape=3, rngs=nnx.Rngs(0)
    )
    randomize_params(model)
    model.eval()
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((2, 2, H2.size)), jnp.float32)
    keep = jnp.asarray(rng.random((2, 34)) > 0.4)
    fn = jax.jit(lambda x, k: as_function(model)(x) if k is None else nnx.merge(*nnx.split(model))(x, keep=k))
    y = fn(x, keep)
    y_m = fn(H2.transform(x), TokenSpec.pose(H2, frames=2).transform_mask(keep))
    assert y["joints"].shape == (2, 51) and y["twist"].shape == (2, 17, 2) and y["shape"].shape == (2, 3)
    np.testing.assert_allclose(y_m["joints"], H3.transform(y["joints"]), atol=1e-4)
    np.testing.assert_allclose(
        y_m["twist"], TokenSpec.joints(H3, TWIST_SPEC).transform(y["twist"]), atol=1e-5
    )
    np.testing.assert_allclose(y_m["shape"], y["shape"], atol=1e-5)
    np.testing.assert_allclose(jnp.linalg.norm(y["twist"], axis=-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match=r"keep must be boolean \(batch, 34\)"):
        model(x, keep=keep[:, :10])
    with pytest.raises(ValueError, match="2 frames, 34 channels"):
        model(x[:, :1])


@pytest.mark.slow
def test_feature_map_source_and_plain_lifter():
    """(H*W, C) random features with learned 2D positions: the mirror flips the grid and the channels."""
    cs = ChiralSpec.hidden(6, negated=True)
    model = ChiralTransformerLifter(
        cs, H3, frames=1, layers=1, heads=2, width=8, tokens="feature_map", grid=(3, 4), rngs=nnx.Rngs(0)
    )
    randomize_params(model)
    model.eval()
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 12, 6)), jnp.float32)
    grid = TokenSpec.grid(3, 4, cs)
    fn = jax.jit(as_function(model))
    np.testing.assert_allclose(fn(grid.transform(x)), H3.transform(fn(x)), atol=1e-4)
    plain = TransformerLifter(
        34, 51, frames=3, layers=1, heads=2, width=8, tokens="frame", shape=2, rngs=nnx.Rngs(0)
    )
    graphdef, state = nnx.split(plain)
    # The state goes in as an argument: training-mode dropout advances its RNG count inside the trace.
    out = jax.jit(lambda st, x, k: nnx.merge(graphdef, st)(x, keep=k))(
        state, jnp.zeros((2, 3, 34)), jnp.ones((2, 3), bool)
    )
    assert out["joints"].shape == (2, 51) and out["shape"].shape == (2, 2) and "twist" not in out
    with pytest.raises(ValueError, match="grid"):
        TransformerLifter(34, 51, frames=1, tokens="feature_map", rngs=nnx.Rngs(0))


def test_recipe_pieces(tmp_path):
    from chiral_jax.tasks.transformer_lifting import draw_keep, inverse_sqrt_schedule
    from chiral_jax.train import Checkpointer, average_checkpoints

    keep = draw_keep(np.random.default_rng(0), 64, 51, 0.2)
    counts = keep.sum(1)
    assert keep.dtype == bool and len(set(counts)) == 1 and 11 <= counts[0] <= 51
    assert len({tuple(r) for r in keep}) > 1  # which tokens differs per sample
    drawn = [draw_keep(np.random.default_rng(s), 1, 10, 0.2).sum() for s in range(200)]
    assert min(drawn) == 2 and max(drawn) == 10
    sched = inverse_sqrt_schedule(1e-3, 100)
    np.testing.assert_allclose(
        [sched(0), sched(50), sched(100), sched(400)], [0, 5e-4, 1e-3, 5e-4], rtol=1e-5
    )
    with Checkpointer(str(tmp_path), keep=5, async_save=False) as ckpt:
        for epoch in range(1, 5):
            ckpt.save(
                epoch, {"w": np.full((2,), float(epoch), np.float32), "step": np.array(epoch, np.int32)}
            )
        epochs, mean = average_checkpoints(
            ckpt, {"w": np.zeros(2, np.float32), "step": np.array(0, np.int32)}, 3
        )
    assert epochs == [2, 3, 4]
    np.testing.assert_allclose(mean["w"], 3.0)
    assert int(mean["step"]) == 4


@pytest.mark.slow
def test_transformer_lifting_end_to_end(tmp_path):
    import ml_collections

    from chiral_jax.tasks import transformer_lifting
    from chiral_jax.tasks.configs import load_config_file

    c = load_config_file("experiments/configs/transformer_lift.py")
    c.num_seeds, c.progress = 1, False
    c.data.data_dir = str(tmp_path / "tfds")
    c.data.synthetic = ml_collections.ConfigDict(TINY_SYNTHETIC)
    c.data.train_fraction = 1.0
    c.model.update({"width": 8, "heads": 2, "layers": 1, "ffn_layers": 1, "equal_params": False})
    c.train.update({"epochs": 2, "batch_size": 64, "warmup_steps": 2})
    c.eval.average_last = 2
    transformer_lifting.train_and_evaluate(c, str(tmp_path / "run"))
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    names = [m["name"] for m in saved["models"]]
    assert names == ["transformer_chiral_w8", "transformer_baseline_aug_w8"]
    for m in saved["models"]:
        assert np.isfinite(m["mpjpe_mm"]) and m["averaged_epochs"] == [1, 2]
        assert ("tta" in m) == (m["kind"] == "baseline") and m["architecture"] == "transformer"
    assert [r["name"] for r in saved["summary"]][-1] == "transformer_baseline_aug_w8 + TTA"


@pytest.mark.slow
def test_transformer_throughput_benchmark_smoke(benchmark_script):
    bench = benchmark_script("transformer_throughput")
    out = bench.main(
        ["--width", "8", "--layers", "1", "--heads", "2", "--frames", "1", "--batch", "4", "--repeats", "1"]
    )
    assert out["params"]["chiral"] * 2 == pytest.approx(out["params"]["baseline"], rel=0.1)
    assert out["windows_per_s"]["train_chiral"] > 0 and out["windows_per_s"]["infer_baseline"] > 0
    assert out["memory"]["train_baseline"].get("footprint", 1) > 0
