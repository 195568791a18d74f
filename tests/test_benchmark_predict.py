"""Smoke test of ``benchmarks/predict_speed.py`` at ``--quick`` size (the speeds are not checked)."""

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_predict_speed_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark_script) -> None:
    bench = benchmark_script("predict_speed")
    out = tmp_path / "speed.json"
    rows = bench.main(["--quick", "--repeats", "1", "--json", str(out)])
    assert len(rows) == 1
    r = rows[0]
    assert set(r["frames_per_s"]) == {"chiral", "baseline", "baseline_flip"}
    assert all(v > 0 for v in r["frames_per_s"].values())
    assert 0.4 < r["params"]["chiral"] / r["params"]["baseline"] < 0.6
    assert json.loads(out.read_text())["rows"][0]["frames"] == 64
    assert "chiral / (dense + flip)" in capsys.readouterr().out
