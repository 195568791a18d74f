"""TFDS builders (array_record, read with as_data_source, no TensorFlow) and the build command."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from chiral_jax.data import builders, synthetic  # noqa: E402
from chiral_jax.data.errors import MalformedDatasetFile, MissingDatasetFile  # noqa: E402
from chiral_jax.data.fixtures import H36M_ACTIONS, write_h36m  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _complete_dirs(data_dir: Path) -> list[Path]:
    return [p.parent for p in data_dir.rglob("dataset_info.json")]


@pytest.mark.slow
def test_tensorflow_is_not_needed(tmp_path):
    code = (
        "import importlib.util, sys\n"
        "installed = importlib.util.find_spec('tensorflow') is not None\n"
        "from chiral_jax.data import builders\n"
        "b = builders.build('synthetic', data_dir=sys.argv[1])\n"
        "x = b.as_data_source()['test'][0]['pose_3d']\n"
        "loaded = [m for m in sys.modules if m == 'tensorflow' or m.startswith('tensorflow.')]\n"
        "assert not loaded, loaded\n"
        "print(installed, x.shape[1:])\n"
    )
    cmd = [sys.executable, "-c", code, str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    # Built and read back without TensorFlow being imported (here it is not even installed).
    assert out.stdout.strip().endswith("(17, 3)")


def test_synthetic_build_matches_numpy_generator(tmp_path):
    b = builders.build("synthetic", data_dir=tmp_path, seed=1)
    summary = builders.summarize(b)
    ref = synthetic.generate(synthetic.SyntheticConfig(seed=1))
    for split in ("train", "test"):
        assert summary["splits"][split] == {
            "sequences": len(ref[split]),
            "frames": sum(s.num_frames for s in ref[split]),
        }
    assert summary["num_joints"] == 17
    arrays = builders.split_arrays(b, "test")
    by_key = {(s.subject, s.action, s.camera.id): s for s in ref["test"]}
    for i in range(len(arrays["subject"])):
        s = by_key[(arrays["subject"][i], arrays["action"][i], arrays["camera_id"][i])]
        np.testing.assert_array_equal(arrays["pose_3d"][i], s.pose_3d)
        np.testing.assert_array_equal(arrays["pose_2d"][i], s.pose_2d)
        np.testing.assert_array_equal(arrays["intrinsics"][i], s.intrinsics)
    assert len(_complete_dirs(tmp_path)) == 1


def test_h36m_build_from_fixture_any_source(tmp_path):
    manual = tmp_path / "manual"
    write_h36m(manual, source="my_det")
    b = builders.build("h36m", manual_dir=manual, data_dir=tmp_path / "data", keypoints="my_det")
    summary = builders.summarize(b)
    assert summary["config"] == "my_det"
    assert summary["splits"]["train"] == {"sequences": 8, "frames": 4 * sum(H36M_ACTIONS["S1"].values())}
    assert summary["splits"]["test"] == {"sequences": 4, "frames": 4 * H36M_ACTIONS["S9"]["Walking"]}
    ex = b.as_data_source()["test"][0]
    assert np.asarray(ex["pose_2d_px"]).shape == (30, 17, 2) and np.asarray(ex["resolution"]).tolist() in (
        [1000, 1002],
        [1000, 1000],
    )


def test_failed_builds_leave_nothing_that_looks_complete(tmp_path, monkeypatch):
    manual = tmp_path / "manual"
    manual.mkdir()
    with pytest.raises(MissingDatasetFile, match=re.escape(str(manual / "data_3d_h36m.npz"))):
        builders.build("h36m", manual_dir=manual, data_dir=tmp_path / "data")
    write_h36m(manual)
    np.savez_compressed(manual / "data_2d_h36m_gt.npz", nothing=np.zeros(1))
    with pytest.raises(MalformedDatasetFile, match=r"data_2d_h36m_gt\.npz"):
        builders.build("h36m", manual_dir=manual, data_dir=tmp_path / "data")
    # A failure in the middle of writing examples: TFDS's temporary folder is not renamed.
    calls = {"n": 0}
    original = synthetic.PoseSequence.to_example

    def failing(self):
        calls["n"] += 1
        if calls["n"] > 20:
            raise RuntimeError("disk full (simulated)")
        return original(self)

    monkeypatch.setattr(synthetic.PoseSequence, "to_example", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        builders.build("synthetic", data_dir=tmp_path / "data")
    assert calls["n"] > 20
    assert _complete_dirs(tmp_path / "data") == []
    assert not list((tmp_path / "data").rglob("*.array_record*"))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chiral_jax.data", *args], capture_output=True, text=True, cwd=ROOT
    )


@pytest.mark.slow
def test_cli_prints_one_json_line(tmp_path):
    out = _cli("synthetic", "--data_dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["name"] == "synthetic" and summary["num_joints"] == 17
    assert set(summary["splits"]) == {"train", "test"}
    assert summary["splits"]["train"]["sequences"] == 144 and summary["splits"]["train"]["frames"] > 20_000


@pytest.mark.slow
def test_cli_missing_file_names_path_format_and_source(tmp_path):
    out = _cli("humaneva", "--manual_dir", str(tmp_path), "--data_dir", str(tmp_path / "d"))
    assert out.returncode == 2 and out.stdout == ""  # a user mistake: exit status 2
    assert str(tmp_path / "data_3d_humaneva15.npz") in out.stderr
    assert "positions_3d" in out.stderr and "VideoPose3D" in out.stderr
