"""Smoke test of ``benchmarks/forecast_throughput.py`` at ``--quick`` size (seconds; a width-16 net is
dominated by dispatch, so the speedups are not checked)."""

import json
from pathlib import Path

import pytest

VARIANTS = {"train_chiral", "train_baseline", "infer_chiral", "infer_baseline", "infer_baseline_tta"}


@pytest.mark.slow
def test_forecast_throughput_quick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark_script
) -> None:
    bench = benchmark_script("forecast_throughput")
    out = tmp_path / "f.json"
    rows = bench.main(["--quick", "--json", str(out)])
    assert len(rows) == 1
    r = rows[0]
    assert (r["hidden"], r["layers"], r["batch"], r["observed"], r["future"]) == (16, 1, 32, 2, 16)
    assert set(r["samples_per_s"]) == VARIANTS
    assert all(v > 0 for v in r["samples_per_s"].values()), r["samples_per_s"]
    assert all(len(ts) == 2 for ts in r["times_s"].values())
    assert all(v > 0 for v in r["ratios"].values()), r["ratios"]
    # Both kinds were built and counted; the chiral net has fewer parameters at the same width.
    assert set(r["params"]) == {"chiral", "baseline"}
    assert 0 < r["params"]["chiral"] < r["params"]["baseline"], r["params"]
    assert all(v > 0 for v in r["flops"].values()), r["flops"]
    # TTA runs the baseline twice: about twice its FLOPs.
    assert 1.8 < r["flops"]["infer_baseline_tta"] / r["flops"]["infer_baseline"] < 2.3, r["flops"]
    saved = json.loads(out.read_text())
    assert saved["rows"][0]["samples_per_s"] == r["samples_per_s"]
    printed = capsys.readouterr().out
    assert "| row |" in printed and "train speedup" in printed
