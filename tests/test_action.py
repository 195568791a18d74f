"""The action task: exact mirror invariance on real-format fixtures, variants, optimizer, and one tiny
end-to-end run with every results.json field."""

import json
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

from chiral_jax import runner, skeletons
from chiral_jax.data import fixtures
from chiral_jax.models import ActionNet, ChiralActionNet
from chiral_jax.models.action import layer_strides
from chiral_jax.tasks import action
from chiral_jax.tasks.configs import load_config_file
from chiral_jax.tasks.runner import num_params
from chiral_jax.testing import randomize_params

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "action.py"
WIDTHS = (6, 6, 8, 8, 10, 10)


def _config(**data):
    c = load_config_file(str(CONFIG))
    c.data.update(data)
    c.model.width = WIDTHS
    c.model.kernel_size = 3
    return c


def test_layer_layout() -> None:
    # ST-GCN downsamples twice, where its width grows to 128 and to 256 (temporal layers 6 and 8).
    assert layer_strides((64, 64, 64, 64, 128, 128, 128, 256, 256, 256)) == (1, 1, 1, 1, 1, 2, 1, 2, 1, 1)
    with pytest.raises(ValueError, match="invariance_layer"):
        ChiralActionNet(skeletons.H36M.spec(3), 3, widths=WIDTHS, invariance_layer=7, rngs=nnx.Rngs(0))
    net = ActionNet(51, 3, widths=WIDTHS, kernel_size=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"\(batch, people, frames, 51\)"):
        net(np.zeros((2, 5, 51), np.float32))


@pytest.mark.slow
def test_invariance_on_real_format_fixtures(tmp_path: Path) -> None:
    """Kinetics-skeleton JSON (2 people, zero-padded frames, undetected joints) and NW-UCLA JSON (3D,
    resampled): a clip and its mirror give the same logits from the chiral net, not the baseline."""
    fixtures.write_kinetics_skeleton(tmp_path / "kinetics")
    fixtures.write_nw_ucla(tmp_path / "ucla")
    for name, folder, frames in (("kinetics_skeleton", "kinetics", 16), ("nw_ucla", "ucla", 12)):
        cfg = _config(
            name=name, manual_dir=str(tmp_path / folder), data_dir=str(tmp_path / "tfds"), frames=frames
        )
        data = action.load_data(cfg.data)
        assert data.test_x.shape[2] == frames
        for kind in ("chiral", "baseline"):
            model = action.make_model(
                action.Variant(kind, kind, WIDTHS), data.spec, data.num_classes, cfg.model
            )
            randomize_params(model, seed=3)
            logits, _ = runner.batched_apply(runner.eval_function(model), data.test_x, 8)
            gap = action.evaluate(model, data)["mirror_logit_gap"]
            if kind == "chiral":
                assert gap <= 1e-5 * (1 + np.abs(logits).max()), (name, gap)
            else:
                assert gap > 1e-3, (name, gap)


def test_variants_and_optimizer() -> None:
    cfg = _config()
    spec = skeletons.H36M.spec(3)
    vs = action.variants(cfg.model, True, spec, 6)
    w = WIDTHS[-1]
    assert [(v.kind, v.matched, v.augment) for v in vs] == [
        ("chiral", "width", False),
        ("chiral", "params", False),
        ("baseline", "width", False),
        ("baseline", "width", True),
    ]
    assert [vs[0].name, vs[2].name, vs[3].name] == [
        f"chiral_w{w}",
        f"baseline_noaug_w{w}",
        f"baseline_aug_w{w}",
    ]
    assert vs[1].name in (f"chiral_w{vs[1].width[-1]}", f"chiral_w{w}_params") and vs[1].width != WIDTHS
    count = lambda v: num_params(nnx.eval_shape(lambda: action.make_model(v, spec, 6, cfg.model)))  # noqa: E731
    assert abs(count(vs[1]) - count(vs[2])) <= 0.05 * count(vs[2])
    cfg.model.kind = "chiral"
    assert [v.matched for v in action.variants(cfg.model, True, spec, 6)] == ["width", "params"]
    cfg.model.kind = "nope"
    with pytest.raises(ValueError, match=r"model\.kind"):
        action.variants(cfg.model, True, spec, 6)
    # lr 0.1, times 0.1 after epochs 2 and 3 (10 steps per epoch).
    cfg.train.lr_steps, cfg.train.weight_decay = (2, 3), 0.0
    tx = action.optimizer(cfg.train, 10)
    params = {"w": np.ones(3, np.float32)}
    state = tx.init(params)
    sizes = []
    for _ in range(35):
        updates, state = tx.update({"w": np.ones(3, np.float32)}, state, params)
        sizes.append(float(-updates["w"][0]))
    # Nesterov SGD: the step grows with the momentum, then drops by 10x at steps 20 and 30.
    assert sizes[19] > 5 * sizes[21] and sizes[29] > 5 * sizes[31]


def test_adamw_cosine_optimizer() -> None:
    cfg = _config()
    cfg.train.update(optimizer="adamw", schedule="cosine", warmup_epochs=1, lr=1e-3, weight_decay=0.0)
    cfg.train.epochs = 4
    tx = action.optimizer(cfg.train, 10)
    params = {"w": np.ones(3, np.float32)}
    state = tx.init(params)
    sizes = []
    for _ in range(40):
        updates, state = tx.update({"w": np.ones(3, np.float32)}, state, params)
        sizes.append(float(-updates["w"][0]))
    # Adam's step is ~lr: warm-up to the peak at step 10, cosine down to 0 at step 40.
    assert sizes[0] < 1e-5 and abs(sizes[10] - 1e-3) < 1e-5 and sizes[25] < sizes[15] and sizes[39] < 1e-5
    cfg.train.optimizer = "rmsprop"
    with pytest.raises(ValueError, match=r"train\.optimizer"):
        action.optimizer(cfg.train, 10)


def test_validation_protocol_never_sees_the_test_view(tmp_path: Path) -> None:
    fixtures.write_nw_ucla(tmp_path / "ucla")
    folder, tfds = str(tmp_path / "ucla"), str(tmp_path / "tfds")
    cfg = _config(name="nw_ucla", manual_dir=folder, data_dir=tfds, frames=6)
    cfg.data.protocol = "validation"
    data = action.load_data(cfg.data)
    # The fixture's view 1 holds two sequences, view 2 one; view 3 (the test view) is left out.
    assert len(data.train_x) == 2 and len(data.test_x) == 1
    cfg.data.protocol = "views"
    with pytest.raises(ValueError, match=r"data\.protocol"):
        action.load_data(cfg.data)


@pytest.mark.slow
def test_motion_features_keep_the_invariance() -> None:
    spec = skeletons.KINECT_V1.spec(3)
    x = np.random.default_rng(0).normal(size=(2, 1, 12, spec.size)).astype(np.float32)
    cfg = _config()
    cfg.model.motion = True
    for kind in ("chiral", "baseline"):
        model = action.make_model(action.Variant(kind, kind, WIDTHS), spec, 4, cfg.model)
        randomize_params(model, seed=1)
        model.eval()
        gap = float(np.max(np.abs(model(x) - model(spec.transform(x)))))
        assert (gap < 1e-4) if kind == "chiral" else (gap > 1e-3), (kind, gap)


@pytest.mark.slow
def test_action_end_to_end(tmp_path: Path) -> None:
    fixtures.write_nw_ucla(tmp_path / "ucla")
    cfg = _config(
        name="nw_ucla", manual_dir=str(tmp_path / "ucla"), data_dir=str(tmp_path / "tfds"), frames=8
    )
    cfg.data.train_window = 6
    cfg.num_seeds, cfg.progress, cfg.train.epochs, cfg.train.batch_size = 1, False, 1, 2
    cfg.model.equal_params = False
    results = action.train_and_evaluate(cfg, str(tmp_path / "run"))
    models = results["models"]
    w = WIDTHS[-1]
    assert [m["name"] for m in models] == [f"chiral_w{w}", f"baseline_noaug_w{w}", f"baseline_aug_w{w}"]
    for m in models:
        for key in ("name", "kind", "matched", "augment", "seed", "params", "top1", "top5", "per_class"):
            assert key in m, key
        assert m["train_seconds"] > 0 and m["eval_clips_per_second"] > 0
        assert 0 <= m["top1"] <= m["top5"] <= 100
        assert set(m["per_class"]) == {"pick up with one hand", "stand up"}  # the test clips' classes
        assert ("tta" in m) == (m["kind"] == "baseline")
    assert models[0]["mirror_logit_gap"] < 1e-4
    assert set(models[1]["tta"]) >= {"top1", "top5"}
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {r["name"] for r in saved["summary"]} == {
        f"chiral_w{w}",
        f"baseline_noaug_w{w}",
        f"baseline_noaug_w{w} + TTA",
        f"baseline_aug_w{w}",
        f"baseline_aug_w{w} + TTA",
    }
    table = (tmp_path / "run" / "results.md").read_text()
    assert f"| chiral_w{w} |" in table and "per class" in table


@pytest.mark.parametrize("name", ["action", "action_nw_ucla", "action_penn", "action_kinetics"])
def test_configs_have_the_fixed_keys(name: str) -> None:
    c = load_config_file(str(CONFIG.parent / f"{name}.py"))
    keys = (
        "data.name data.manual_dir data.frames model.kind model.width model.invariance_layer "
        "model.equal_params train.epochs train.batch_size train.lr train.augment "
        "eval.flip_average seed num_seeds progress"
    ).split()
    for key in keys:
        node = c
        for part in key.split("."):
            node = node[part]
    graph = c.model.architecture == "graph"
    assert c.data.name in action.ACTION_DATASETS and len(c.model.width) == (6 if graph else 10)
    assert c.model.invariance_layer == 4 and c.train.momentum == 0.9 and c.train.weight_decay == 1e-4
