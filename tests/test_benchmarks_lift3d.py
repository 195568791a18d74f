"""Smoke test of ``benchmarks/lift3d_throughput.py`` at ``--quick`` size (seconds; the numbers are not
checked against the targets: a width-32 net is dominated by dispatch and elementwise work)."""

import json
from pathlib import Path

import pytest

VARIANTS = {"train_chiral", "train_baseline", "infer_chiral", "infer_baseline", "infer_baseline_tta"}


@pytest.mark.slow
def test_lift3d_throughput_quick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark_script
) -> None:
    bench = benchmark_script("lift3d_throughput")
    out = tmp_path / "lift3d.json"
    rows = bench.main(["--quick", "--repeats", "1", "--json", str(out)])
    assert len(rows) == 1
    r = rows[0]
    assert set(r["frames_per_s"]) == VARIANTS
    assert all(v > 0 for v in r["frames_per_s"].values()), r["frames_per_s"]
    assert all(len(ts) == 1 for ts in r["times_s"].values())
    assert all(v > 0 for v in r["ratios"].values()), r["ratios"]
    # The chiral net has about half the baseline's parameters (exactly half for the hidden layers).
    assert 0.4 < r["param_ratio"] < 0.6, r["params"]
    # TTA runs the baseline twice: about twice its FLOPs.
    assert 1.8 < r["flops"]["infer_baseline_tta"] / r["flops"]["infer_baseline"] < 2.2, r["flops"]
    for name in VARIANTS:
        mem = r["memory"][name]
        if mem:  # memory_analysis() is backend dependent
            assert mem["footprint"] > 0, (name, mem)
    saved = json.loads(out.read_text())
    assert saved["rows"][0]["frames_per_s"] == r["frames_per_s"]
    printed = capsys.readouterr().out
    assert "| model |" in printed and "Targets:" in printed
