"""Graph convolution over joints: the partitions, the tied adjacency, the functional layer against a
dense reference, the modules' checks, and the graph action nets in the action task."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from chiral_jax import functional, runner, skeletons, tying
from chiral_jax.data import fixtures
from chiral_jax.models import ChiralGraphActionNet, GraphActionNet
from chiral_jax.models.graph_action import block_strides
from chiral_jax.nn import ChiralGraphConv, GraphConv
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import action
from chiral_jax.tasks.configs import load_config_file
from chiral_jax.testing import randomize_params
from chiral_jax.tokens import TokenSpec

KINECT = skeletons.KINECT_V1
SPEC = KINECT.spec(3)
CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "action.py"


def test_partitions_of_the_kinect_tree() -> None:
    a = skeletons.graph_partitions(KINECT.parents, SPEC.joint_permutation)
    assert a.shape == (3, 20, 20)
    np.testing.assert_array_equal(a[0], np.eye(20))
    assert a[1, 5, 4] == 1.0 and a[1].sum() == 19  # l_elbow reads its parent, the l_shoulder
    np.testing.assert_allclose(a[2, 0, [1, 12, 16]], 1 / 3)  # hip_center: the mean of its 3 children
    np.testing.assert_array_equal(a[2, 3], 0.0)  # the head is a leaf
    perm = SPEC.joint_permutation
    np.testing.assert_array_equal(a[:, perm][:, :, perm], a)


def test_partitions_refuse_an_asymmetric_tree_and_bad_parents() -> None:
    parents = list(KINECT.parents)
    parents[5] = 8  # l_elbow hangs from the right shoulder
    with pytest.raises(ValueError, match="not mirror-symmetric"):
        skeletons.graph_partitions(parents, SPEC.joint_permutation)
    with pytest.raises(ValueError, match="joint 1 has parent 1"):
        skeletons.graph_partitions([-1, 1, 0])


def test_tied_adjacency_commutes_with_the_mirror() -> None:
    perm = SPEC.joint_permutation
    base = skeletons.graph_partitions(KINECT.parents, perm)
    free = jax.random.normal(jax.random.key(0), (3, 20, 20))
    a = np.asarray(tying.graph_adjacency(free, base, perm))
    np.testing.assert_allclose(a[:, perm][:, :, perm], a, atol=1e-6)
    sym = base + 0.3  # already symmetric: the projection keeps it
    np.testing.assert_allclose(tying.graph_adjacency(jnp.asarray(sym - base), base, perm), sym, atol=1e-6)


@pytest.mark.parametrize("joint_axis", [-2, 1])
def test_graph_conv_matches_the_dense_sum(joint_axis: int) -> None:
    """``y_i = sum_k sum_j A_k[i, j] x_j W_k`` with the dense chiral weights, both input kinds."""
    c_in, c_out = ChiralSpec.hidden(6), ChiralSpec.hidden(5)
    kernel = tying.init_graph(jax.random.key(1), c_in, c_out, 3)
    adj = jax.random.normal(jax.random.key(2), (3, 20, 20))
    x = jax.random.normal(jax.random.key(3), (2, 20, 7, 6) if joint_axis == 1 else (2, 7, 20, 6))
    dense = jnp.stack([tying.linear_weight({h: kernel[h][k] for h in kernel}, c_in, c_out) for k in range(3)])
    xj = x if joint_axis == 1 else jnp.swapaxes(x, 1, 2)
    want = jnp.einsum("kij,njtc,kcd->nitd", adj, xj, dense)
    want = want if joint_axis == 1 else jnp.swapaxes(want, 1, 2)
    got = functional.graph_conv(x, kernel, adj, c_in, c_out, joint_axis=joint_axis)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        functional.graph_conv_dense(x, dense, adj, joint_axis=joint_axis), want, rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="expected adjacency"):
        functional.graph_conv(x, kernel, adj[:, :5, :5], c_in, c_out, joint_axis=joint_axis)


def test_graph_conv_modules_check_their_partitions() -> None:
    tokens = TokenSpec.pose(SPEC)
    base = skeletons.graph_partitions(KINECT.parents)
    bad = base.copy()
    bad[1, 4, 0] = 1.0  # the left shoulder reads the hip centre, the right one does not
    with pytest.raises(ValueError, match="do not commute"):
        ChiralGraphConv(tokens, ChiralSpec.hidden(4), bad, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"partitions must be \(K, 20, 20\)"):
        ChiralGraphConv(tokens, ChiralSpec.hidden(4), base[:, :4, :4], rngs=nnx.Rngs(0))
    plain = GraphConv(3, 4, bad, rngs=nnx.Rngs(0))  # the baseline needs no symmetry
    assert plain(jnp.ones((2, 20, 3))).shape == (2, 20, 4)


def test_graph_action_nets_shapes_invariance_and_errors() -> None:
    x = jax.random.normal(jax.random.key(0), (3, 2, 10, 60))
    chiral = ChiralGraphActionNet(SPEC, KINECT.parents, 4, widths=(6, 8), kernel_size=3, rngs=nnx.Rngs(0))
    plain = GraphActionNet(20, 3, KINECT.parents, 4, widths=(6, 8), kernel_size=3, rngs=nnx.Rngs(0))
    randomize_params(chiral, seed=1)
    randomize_params(plain, seed=1)
    for net in (chiral, plain):
        net.eval()
        assert net(x).shape == (3, 4)
        assert net(x.reshape(3, 2, 10, 20, 3)).shape == (3, 4)
    gap = lambda net: float(jnp.max(jnp.abs(net(x) - net(SPEC.transform(x)))))  # noqa: E731
    assert gap(chiral) <= 1e-5 * (1 + float(jnp.max(jnp.abs(chiral(x)))))
    assert gap(plain) > 1e-3
    bones = ChiralGraphActionNet(SPEC, KINECT.parents, 4, widths=(6,), bones=True, rngs=nnx.Rngs(2))
    plain_bones = GraphActionNet(20, 3, KINECT.parents, 4, widths=(6,), bones=True, rngs=nnx.Rngs(2))
    randomize_params(bones, seed=4)
    randomize_params(plain_bones, seed=4)
    bones.eval()
    plain_bones.eval()
    assert gap(bones) <= 1e-5 * (1 + float(jnp.max(jnp.abs(bones(x)))))  # bones mirror like joints
    assert gap(plain_bones) > 1e-3
    assert block_strides((4, 4, 8, 8, 16)) == (1, 1, 2, 1, 2)
    with pytest.raises(ValueError, match=r"expected \(batch, people, frames, 60\)"):
        chiral(jnp.ones((3, 2, 10, 59)))
    with pytest.raises(ValueError, match="strides must be one positive int per block"):
        GraphActionNet(20, 3, KINECT.parents, 4, widths=(6, 8), strides=(1,), rngs=nnx.Rngs(0))


def test_action_task_builds_graph_nets_and_refuses_a_treeless_skeleton(tmp_path: Path) -> None:
    fixtures.write_nw_ucla(tmp_path / "ucla")
    cfg = load_config_file(str(CONFIG))
    cfg.data.update(
        name="nw_ucla", manual_dir=str(tmp_path / "ucla"), data_dir=str(tmp_path / "tfds"), frames=8
    )
    cfg.model.update(architecture="graph", width=(6, 8), kernel_size=3, strides=(2, 1))
    data = action.load_data(cfg.data)
    assert data.parents == KINECT.parents
    variants = action.variants(cfg.model, True, data.spec, data.num_classes, data.parents)
    assert [v.kind for v in variants] == ["chiral", "chiral", "baseline", "baseline"]
    chiral = action.make_model(variants[0], data.spec, data.num_classes, cfg.model, 0, data.parents)
    assert isinstance(chiral, ChiralGraphActionNet) and chiral.strides == (2, 1)
    randomize_params(chiral, seed=3)
    chiral.eval()
    assert action.evaluate(chiral, data)["mirror_logit_gap"] < 1e-4
    matched = action.make_model(variants[1], data.spec, data.num_classes, cfg.model, 0, data.parents)
    baseline = action.make_model(variants[2], data.spec, data.num_classes, cfg.model, 0, data.parents)
    n_matched, n_base = runner.num_params(matched), runner.num_params(baseline)
    assert abs(n_matched - n_base) < 0.05 * n_base  # equal parameters, to the width step
    with pytest.raises(ValueError, match="needs a skeleton with a kinematic tree"):
        action.make_model(variants[0], data.spec, data.num_classes, cfg.model, 0, None)
    cfg.model.architecture = "gcn"
    with pytest.raises(ValueError, match="'per_frame' or 'graph', got 'gcn'"):
        action.make_model(variants[0], data.spec, data.num_classes, cfg.model, 0, data.parents)
