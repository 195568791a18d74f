"""Smoke test of ``benchmarks/checkpoint_overhead.py`` at ``--quick`` size (the timings are not
checked: at this size both modes are dominated by compilation and orbax's fixed costs)."""

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_checkpoint_overhead_quick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark_script
) -> None:
    bench = benchmark_script("checkpoint_overhead")
    out = tmp_path / "overhead.json"
    rows = bench.main(["--quick", "--json", str(out)])
    assert [r["mode"] for r in rows] == ["blocking", "async", "interval"]
    for r in rows:
        assert r["epochs"] == 3 and r["steps"] == 6, r
        assert r["saves"] == (1 if r["mode"] == "interval" else 3), r  # interval: only the last epoch
        assert 0 < r["step_seconds"] < r["fit_seconds"], r
        assert r["overhead_seconds"] == pytest.approx(r["fit_seconds"] - r["step_seconds"])
        assert r["checkpoint_bytes"] > 0, r
    saved = json.loads(out.read_text())
    assert [r["mode"] for r in saved["rows"]] == ["blocking", "async", "interval"]
    printed = capsys.readouterr().out
    assert "| mode | epochs | steps | saves | fit s | step s | overhead s | overhead % |" in printed
    table = [line for line in printed.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in table[1:]] == ["blocking", "async", "interval"]
    assert "Machine:" in printed
