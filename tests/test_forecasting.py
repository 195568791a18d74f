"""The forecasting task: data to samples, variants, the loss, evaluation, results.json, the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from chiral_jax import runner, skeletons
from chiral_jax.data import MirrorAugment, load_synthetic
from chiral_jax.data.fixtures import write_penn_action
from chiral_jax.tasks import forecasting
from chiral_jax.tasks.configs import load_config_file

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "experiments" / "configs"
TINY_DATA = {
    "seed": 1,
    "num_subjects": 3,
    "num_test_subjects": 1,
    "num_cameras": 1,
    "min_frames": 40,
    "max_frames": 60,
}
PCK_FIELDS = ("pck", "pck_avg", "pck_tprnn_code", "pck_tprnn_code_avg")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("tfds"))


def tiny_config(data_dir: str) -> ml_collections.ConfigDict:
    c = load_config_file(str(CONFIGS / "forecast2d.py"))
    c.num_seeds = 1
    c.progress = False
    c.data.data_dir = data_dir
    c.data.synthetic = ml_collections.ConfigDict(TINY_DATA)
    c.model.width = 12
    c.model.num_layers = 1
    c.train.epochs = 1
    c.train.batch_size = 32
    return c


def test_samples_follow_the_protocol(data_dir):
    config = tiny_config(data_dir)
    config.data.train_reverse = False
    data = forecasting.load_data(config.data)
    assert data.train["poses"].shape[1:] == (18, 13, 2)
    frames = sum(s.num_frames for s in load_synthetic("train", **TINY_DATA))
    assert len(data.train["poses"]) == frames  # one sample per start frame
    config.data.train_reverse = True  # the default recipe: the training videos also played backwards
    assert len(forecasting.load_data(config.data).train["poses"]) == 2 * frames
    assert np.abs(data.train["poses"]).max() <= 1.0 + 1e-6
    config.data.observed = 1
    assert forecasting.load_data(config.data).test["poses"].shape[1] == 17
    config.data.observed = 3
    with pytest.raises(ValueError, match=r"data\.observed must be 1"):
        forecasting.load_data(config.data)
    config.data.observed, config.data.name = 2, "kinetics"
    with pytest.raises(ValueError, match=r"data\.name must be synthetic, cmu_mocap or penn_action"):
        forecasting.load_data(config.data)
    config.data.name = "penn_action"
    with pytest.raises(ValueError, match=r"set --config\.data\.manual_dir to the folder with the labels/"):
        forecasting.load_data(config.data)


def test_clips_cut_long_videos(data_dir):
    videos = [forecasting.Video2D("v", "walk", np.zeros((170, 13, 2), np.float32), np.ones((170, 13), bool))]
    clips = forecasting.clip_videos(videos, 80)
    assert [c.num_frames for c in clips] == [80, 80]  # the last 10 frames are fewer than half a clip
    assert clips[1].video_id == "v#80"
    config = tiny_config(data_dir)
    config.data.clip_frames = 20
    data = forecasting.load_data(config.data)
    assert sum(data.videos.values()) > 6  # 3 subjects' takes, each cut into several clips
    with pytest.raises(ValueError, match=r"data\.clip_frames must be"):
        forecasting.clip_videos(videos, 1)


def test_variants_and_equal_parameters():
    model = load_config_file(str(CONFIGS / "forecast2d.py")).model
    names = [v.name for v in forecasting.variants(model, True)]
    assert names[0] == "chiral_w64" and names[2:] == ["baseline_noaug_w64", "baseline_aug_w64"]
    matched = forecasting.variants(model, True)[1]
    assert matched.matched == "params" and matched.width > 64

    def params(v: forecasting.Variant) -> int:
        return runner.num_params(forecasting.make_model(v, model, horizon=1))

    base = params(forecasting.Variant("b", "baseline", 64))
    assert abs(params(matched) - base) / base < 0.02
    model.kind = "lstm"
    with pytest.raises(ValueError, match=r"model\.kind must be"):
        forecasting.variants(model, True)


def test_mirror_augmentation_mirrors_poses_and_visibility():
    rng = np.random.default_rng(0)
    batch = {
        "observed": rng.standard_normal((64, 2, 26)).astype(np.float32),
        "targets": rng.standard_normal((64, 16, 26)).astype(np.float32),
        "visible": rng.random((64, 16, 13)) < 0.8,
    }
    out = MirrorAugment(forecasting.MIRROR)(batch, np.random.default_rng(1))
    spec = skeletons.PENN_ACTION.spec(2)
    flipped = np.flatnonzero(~np.isclose(out["observed"], batch["observed"]).all(axis=(1, 2)))
    assert 10 < len(flipped) < 54
    i = flipped[0]
    np.testing.assert_allclose(out["targets"][i], spec.transform(batch["targets"][i]))
    # Visibility follows its joint: left shoulder (1) <-> right shoulder (2).
    np.testing.assert_array_equal(out["visible"][i][:, 1], batch["visible"][i][:, 2])


def test_chiral_forecast_needs_no_flip_averaging(data_dir):
    config = tiny_config(data_dir)
    data = forecasting.load_data(config.data)
    model = forecasting.make_model(forecasting.Variant("c", "chiral", 12), config.model, horizon=16)
    plain = forecasting.evaluate(model, data)
    flipped = forecasting.evaluate(model, data, flip_average=True)
    np.testing.assert_allclose(plain["pck"], flipped["pck"], atol=1e-6)
    trivial = forecasting.trivial_forecasts(data)
    assert set(trivial) == {"zero_velocity", "constant_velocity"}
    for fields in trivial.values():
        assert len(fields["pck"]) == 16 and 0 <= fields["pck_avg"] <= 100


def _check_results(path: Path) -> dict:
    results = json.loads((path / "results.json").read_text())
    for m in results["models"]:
        for key in ("name", "kind", "matched", "augment", "seed", "params", "train_seconds", *PCK_FIELDS):
            assert key in m, (m["name"], key)
        assert len(m["pck"]) == 16 and len(m["pck_tprnn_code"]) == 16
        assert ("tta" in m) == (m["kind"] == "baseline")
        if "tta" in m:
            assert all(k in m["tta"] for k in PCK_FIELDS)
    assert set(results["trivial"]) == {"zero_velocity", "constant_velocity"}
    assert results["summary"] and "step 16" in (path / "results.md").read_text()
    return results


@pytest.mark.slow
def test_end_to_end_on_synthetic_writes_every_field(tmp_path, data_dir):
    results = forecasting.train_and_evaluate(tiny_config(data_dir), str(tmp_path))
    _check_results(tmp_path)
    assert [m["name"] for m in results["models"]][-1] == "baseline_aug_w12"
    assert (tmp_path / "results.png").exists()


@pytest.mark.slow
def test_cli_on_penn_action_files(tmp_path):
    write_penn_action(tmp_path / "Penn_Action")
    cmd = [
        sys.executable, str(ROOT / "experiments" / "forecast2d.py"), "--workdir", str(tmp_path / "run"),
        "--config.data.name=penn_action", f"--config.data.manual_dir={tmp_path / 'Penn_Action'}",
        f"--config.data.data_dir={tmp_path / 'tfds'}", "--config.num_seeds=1", "--config.progress=False",
        "--config.model.hidden=8", "--config.model.layers=1", "--config.train.epochs=1",
        "--config.train.batch_size=16", "--config.model.kind=both",
    ]  # fmt: skip  (model.hidden and model.layers: older spellings of model.width, model.num_layers)
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Forecasting results: penn_action" in out.stdout
    results = _check_results(tmp_path / "run")
    assert results["data"]["videos"] == {"test": 3, "train": 3}


@pytest.mark.parametrize("name", ["forecast2d", "forecast2d_cmu", "forecast2d_penn", "forecast2d_penn_full"])
def test_config_files_load(name):
    config = load_config_file(str(CONFIGS / f"{name}.py"))
    assert config.data.name in forecasting.FORECAST_DATASETS and config.data.future == 16
    forecasting.variants(config.model, config.train.augment)
