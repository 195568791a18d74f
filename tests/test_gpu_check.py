"""``benchmarks/gpu_check.sh``, the prepared GPU check, run at ``--quick`` size on this machine: every
step must finish and leave its files (the figures are not checked)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_gpu_check_script_parses():
    for script in ("gpu_check.sh", "gpu_wheels.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / script)], check=True)


@pytest.mark.slow
def test_gpu_check_quick(tmp_path):
    out = tmp_path / "out"
    env = {
        **{k: v for k, v in os.environ.items() if k != "WHEELS"},
        "PYTHON": sys.executable,
        "TFDS_DATA_DIR": str(tmp_path / "tfds"),
    }
    run = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", str(out), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    status = dict(line.split() for line in (out / "status.txt").read_text().splitlines())
    assert status == dict.fromkeys(
        ("input_pipeline", "lift3d_throughput", "chiral_step_profile", "lift243"), "0"
    ), status
    for name in ("input_pipeline", "lift3d_throughput", "chiral_step_profile"):
        assert json.loads((out / f"{name}.json").read_text()), name
    assert "jax" in (out / "devices.txt").read_text()
    assert "|" in (out / "lift243.md").read_text()
