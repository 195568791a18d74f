"""Smoke test of ``benchmarks/input_pipeline.py`` at ``--quick`` size (the numbers are not checked)."""

import json

import pytest


@pytest.mark.slow
def test_input_pipeline_quick(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("input_pipeline")
    out = tmp_path / "pipe.json"
    rows = bench.main(["--quick", "--only_27", "--repeats", "1", "--frames", "3000", "--json", str(out)])
    assert [r["frames"] for r in rows] == [9]
    w = rows[0]["windows_per_s"]
    assert set(w) == {f"{k}_{a}" for k in ("host", "device", "step") for a in ("aug", "noaug")}
    assert all(v > 0 for v in w.values()), w
    assert all(v > 0 for k, v in rows[0]["ratios"].items() if k != "augment_step_cost")
    assert json.loads(out.read_text())["rows"][0]["windows_per_s"] == w
    printed = capsys.readouterr().out
    assert "| frames | augment |" in printed and "Targets:" in printed
