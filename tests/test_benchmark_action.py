"""Smoke test of ``benchmarks/action_throughput.py`` at ``--quick`` size (a tiny net is dominated by
dispatch, so the speedups are not checked)."""

import json
from pathlib import Path

import pytest

VARIANTS = {"train_chiral", "train_baseline", "infer_chiral", "infer_baseline", "infer_baseline_tta"}


@pytest.mark.slow
def test_action_throughput_quick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark_script
) -> None:
    bench = benchmark_script("action_throughput")
    out = tmp_path / "a.json"
    rows = bench.main(["--quick", "--json", str(out)])
    assert len(rows) == 1
    r = rows[0]
    assert set(r["clips_per_s"]) == VARIANTS
    assert all(v > 0 for v in r["clips_per_s"].values()), r["clips_per_s"]
    assert all(len(ts) == 2 for ts in r["times_s"].values())
    assert 0 < r["params"]["chiral"] < r["params"]["baseline"], r["params"]
    assert json.loads(out.read_text())["rows"][0]["clips_per_s"] == r["clips_per_s"]
    assert "| row |" in capsys.readouterr().out
