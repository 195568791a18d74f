"""The lifting task end to end on a tiny synthetic set; evaluation helpers; config errors."""

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from chiral_jax import skeletons
from chiral_jax.data import PoseWindows, load_synthetic
from chiral_jax.tasks import lifting
from chiral_jax.tasks.configs import load_config_file

pytest.importorskip("ml_collections")
import ml_collections

from chiral_jax.data.fixtures import TINY_SYNTHETIC

TINY_DATA = TINY_SYNTHETIC


CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    """One TFDS data dir for the module: the tiny synthetic set is built once."""
    return str(tmp_path_factory.mktemp("tfds"))


def tiny_config(data_dir: str, **model) -> ml_collections.ConfigDict:
    c = load_config_file(str(CONFIGS / "lift3d.py"))
    c.num_seeds = 1
    c.progress = False
    c.data.data_dir = data_dir
    c.data.synthetic = ml_collections.ConfigDict(TINY_DATA)
    c.model.filter_widths = (3, 3)
    c.model.width = 16
    c.train.epochs = 2
    c.train.batch_size = 64
    c.model.update(model)
    return c


@pytest.mark.slow
def test_end_to_end_writes_results(tmp_path, data_dir):
    config = tiny_config(
        data_dir, kind="both", hidden_specs=("plain", "negated"), baseline_without_augment=True
    )
    results = lifting.train_and_evaluate(config, str(tmp_path))
    saved = json.loads((tmp_path / "results.json").read_text())
    names = [m["name"] for m in saved["models"]]
    assert names == [
        "chiral_plain_relu_w16",
        "chiral_plain_relu_w26",
        "chiral_negated_tanh_w16",
        "chiral_negated_tanh_w26",
        "baseline_noaug_w16",
        "baseline_aug_w16",
    ]
    for m in saved["models"]:
        for key in (
            "kind",
            "params",
            "mpjpe_mm",
            "p_mpjpe_mm",
            "n_mpjpe_mm",
            "mpjve_mm",
            "per_action",
            "train_seconds",
            "eval_frames_per_second",
        ):
            assert key in m, (m["name"], key)
        assert np.isfinite(m["mpjpe_mm"]) and m["mpjpe_mm"] > 0
        assert m["p_mpjpe_mm"] <= m["mpjpe_mm"] + 1e-6  # Procrustes can only reduce the error
        assert ("tta" in m) == (m["kind"] == "baseline")
        assert set(m["per_action"]) >= {"average"}
    # Equal-params chiral nets have about the baseline's parameter count; equal width about half.
    params = {m["name"]: m["params"] for m in saved["models"]}
    assert 0.45 < params["chiral_plain_relu_w16"] / params["baseline_aug_w16"] < 0.6
    # The exact matcher: the even width closest to the baseline's parameter count.
    assert 0.95 < params["chiral_plain_relu_w26"] / params["baseline_aug_w16"] < 1.05
    assert (tmp_path / "results.md").read_text().count("|") > 20
    assert (tmp_path / "baseline_aug_w16" / "seed0" / "learning_curves.png").exists()
    assert len(results["summary"]) == 8  # six models, plus a TTA row for each of the two baselines
    # A second run in the same workdir resumes from the finished checkpoints: no new epochs.
    again = lifting.train_and_evaluate(config, str(tmp_path))
    np.testing.assert_allclose(
        [m["mpjpe_mm"] for m in again["models"]], [m["mpjpe_mm"] for m in saved["models"]], rtol=1e-5
    )
    # Each run's model.json rebuilds the model it evaluated (chiral_jax.predict, predict3d.py).
    from chiral_jax.predict import load_lifter

    lifter = load_lifter(tmp_path, "chiral_plain_relu_w26")
    test = load_synthetic("test", **TINY_DATA)
    rescored = lifting.evaluate(lifter.model, test, skeletons.H36M, receptive_field=lifter.receptive_field)
    assert rescored["mpjpe_mm"] == pytest.approx(saved["models"][1]["mpjpe_mm"], rel=1e-4)


def test_chunked_prediction_equals_the_dilated_net_on_whole_sequences():
    skel = skeletons.H36M
    seqs = load_synthetic("test", **TINY_DATA)[:2]
    variant = lifting.Variant("c", "chiral", 16)
    model = lifting.make_model(variant, skel, filter_widths=(3, 3), dropout=0.0)
    model.eval()
    windows = PoseWindows.from_sequences(seqs, receptive_field=9, flatten=True, with_intrinsics=False)
    preds, fps = lifting.predict(lambda x: model(x, strided=False), windows, chunk=32, batch_size=4)
    assert fps > 0
    for pred, seq in zip(preds, windows.sequences(), strict=True):
        whole = model(jnp.asarray(seq["inputs"]), strided=False)[0]
        np.testing.assert_allclose(pred, whole, rtol=1e-4, atol=1e-5)


def test_chiral_net_gains_nothing_from_flip_averaging():
    skel = skeletons.H36M
    seqs = load_synthetic("test", **TINY_DATA)[:1]
    model = lifting.make_model(lifting.Variant("c", "chiral", 16), skel, filter_widths=(3,), dropout=0.0)
    plain = lifting.evaluate(model, seqs, skel, receptive_field=3)
    flipped = lifting.evaluate(model, seqs, skel, receptive_field=3, flip_average=True)
    assert plain["mpjpe_mm"] == pytest.approx(flipped["mpjpe_mm"], rel=1e-4)


def test_config_errors_are_clear(data_dir):
    config = tiny_config(data_dir)
    config.data.name = "h36m"
    with pytest.raises(ValueError, match=r"set --config\.data\.manual_dir"):
        lifting.load_data(config.data)
    config.data.name = "mpii"
    with pytest.raises(ValueError, match=r"data\.name must be"):
        lifting.load_data(config.data)
    config = tiny_config(data_dir, kind="dense")
    with pytest.raises(ValueError, match=r"model\.kind must be"):
        lifting.variants(config.model, True)
    config = tiny_config(data_dir)
    config.data.subjects_test = ("S99",)
    with pytest.raises(ValueError, match="empty split"):
        lifting.load_data(config.data)


@pytest.mark.slow
def test_cmu_mocap_loads_for_lifting(shared_dir, data_dir):
    config = tiny_config(data_dir)
    config.data.name = "cmu_mocap"
    config.data.manual_dir = str(shared_dir / "data" / "cmu_mocap")
    train, test, skel = lifting.load_data(config.data)
    assert skel is skeletons.H36M and train and test
    assert train[0].pose_2d.shape[1:] == (17, 2)


@pytest.mark.slow
def test_limited_data_sweep_writes_table_and_plot(tmp_path, data_dir):
    config = tiny_config(data_dir, kind="both", equal_params=False)
    config.train.epochs = 1
    config.eval.flip_average = False
    config.sweep = ("S1:0.5", "S1,S2")
    out = lifting.run_sweep(config, str(tmp_path))
    frames = {p["entry"]: p["train_frames"] for p in out["points"]}
    assert frames["S1:0.5"] < frames["S1,S2"]
    assert {p["name"] for p in out["points"]} == {"chiral_plain_relu_w16", "baseline_aug_w16"}
    assert (tmp_path / "sweep.png").stat().st_size > 0
    assert "S1,S2" in (tmp_path / "sweep.md").read_text()
    with pytest.raises(ValueError, match="expected subjects"):
        lifting.parse_sweep_entry("S1:2.0")


@pytest.mark.parametrize(
    "name", ["lift3d", "lift3d_compare", "lift3d_cmu", "lift3d_limited", "lift3d_h36m", "lift3d_humaneva"]
)
def test_config_files_load(name):
    config = load_config_file(str(CONFIGS / f"{name}.py"))
    assert config.model.kind in ("chiral", "baseline", "both")
    lifting.variants(config.model, config.train.augment)  # valid model settings
    for entry in config.sweep:
        lifting.parse_sweep_entry(entry)
