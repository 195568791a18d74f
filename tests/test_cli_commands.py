"""The commands as a user runs them (subprocesses): each mistake exits with status 2 and at most three
lines on stderr naming the flag or key; --help exits 0; a reused build says where it came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _command(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TFDS_DATA_DIR": str(tmp_path / "tfds_default"), "PYTHONPATH": str(ROOT)}
    env.pop("XLA_FLAGS", None)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )


def _mistake(*args: str, tmp_path: Path, named: tuple[str, ...]) -> str:
    done = _command(*args, tmp_path=tmp_path)
    err = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, err[-3000:])
    assert len(err.splitlines()) <= 3 and "Traceback" not in err, err
    for text in named:
        assert text in err, err
    return err


def test_experiment_mistakes(tmp_path):
    lift = ("experiments/lift3d.py", "--workdir", str(tmp_path / "w"))
    _mistake(*lift, "--config.train.epoch=3", tmp_path=tmp_path, named=("train.epoch", "epochs"))
    _mistake(
        "experiments/forecast2d.py", "--workdir", str(tmp_path / "w"), "--config", str(tmp_path / "no.py"),
        tmp_path=tmp_path, named=("--config", "no.py", "no such file"),
    )  # fmt: skip
    # h36m without its files and without an earlier build, then with an empty folder.
    data = f"--config.data.data_dir={tmp_path / 'tfds'}"
    _mistake(*lift, "--config.data.name=h36m", data, tmp_path=tmp_path, named=("--config.data.manual_dir",))
    (tmp_path / "empty").mkdir()
    _mistake(
        *lift, "--config.data.name=h36m", f"--config.data.manual_dir={tmp_path / 'empty'}", data,
        tmp_path=tmp_path, named=("dataset file not found", str(tmp_path / "empty"), "where to get it"),
    )  # fmt: skip
    done = _command("experiments/lift3d.py", "--help", tmp_path=tmp_path)
    assert done.returncode == 0 and "model.width" in done.stdout and "--workdir" in done.stdout


def test_data_command_mistakes_and_reused_build(tmp_path):
    from chiral_jax.data.fixtures import write_humaneva

    (tmp_path / "empty").mkdir()
    _mistake(
        "-m", "chiral_jax.data", "humaneva", "--manual_dir", str(tmp_path / "empty"), "--data_dir",
        str(tmp_path / "d"), tmp_path=tmp_path, named=("data_3d_humaneva15.npz", "where to get it"),
    )  # fmt: skip
    _mistake("-m", "chiral_jax.data", "h37m", tmp_path=tmp_path, named=("'h37m'", "humaneva"))
    write_humaneva(tmp_path / "src")
    args = ("-m", "chiral_jax.data", "humaneva", "--data_dir", str(tmp_path / "d"))
    first = _command(*args, "--manual_dir", str(tmp_path / "src"), tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    again = _command(*args, tmp_path=tmp_path)  # no --manual_dir: the earlier build, and where from
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1])["name"] == "humaneva"
    assert f"built from {tmp_path / 'src'} (2 files)" in again.stderr, again.stderr


def test_predict3d_image_size(tmp_path):
    from chiral_jax.predict.simulate import mmpose_records

    sys.path.insert(0, str(ROOT / "tests"))
    from test_predict import _fake_run, _pose_pixels

    _fake_run(tmp_path / "runs", "chiral")
    px = _pose_pixels(10)  # within x 434..565, y 220..645 of a 1000x800 image
    det = tmp_path / "det.json"
    det.write_text(json.dumps(mmpose_records(px, noise_px=1.0)))
    base = (
        "experiments/predict3d.py", "--checkpoint", str(tmp_path / "runs"), "--variant", "chiral_w16",
        "--keypoints", str(det), "--out", str(tmp_path / "p.npz"),
    )  # fmt: skip
    _mistake(*base, "--image_size", "640x", tmp_path=tmp_path, named=("--image_size '640x'", "W,H"))
    outside = ("keypoints span", "y 2", "640x480", "--image_size")
    _mistake(*base, "--image_size", "640,480", tmp_path=tmp_path, named=outside)
    _mistake(*base, "--image_sise", "1,1", tmp_path=tmp_path, named=("--image_sise", "--image_size"))
    ok = _command(*base, "--image_size", "640,480", "--allow_outside_image", tmp_path=tmp_path)
    assert ok.returncode == 0 and "lifted anyway" in ok.stderr, ok.stderr
    assert np.load(tmp_path / "p.npz")["poses_3d"].shape == (10, 17, 3)
    done = _command("experiments/predict3d.py", "--help", tmp_path=tmp_path)
    assert done.returncode == 0 and "--allow_outside_image" in done.stdout
