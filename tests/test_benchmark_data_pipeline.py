"""Smoke test of ``benchmarks/data_pipeline.py`` at ``--quick`` size (seconds; the rates are not
compared: on a few thousand frames the grain iterator's start-up dominates)."""

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_data_pipeline_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark_script) -> None:
    bench = benchmark_script("data_pipeline")
    out = tmp_path / "pipeline.json"
    rows = bench.main(["--quick", "--json", str(out)])
    assert [(r["window_length"], r["augment"]) for r in rows] == [
        (27, "none"),
        (27, "mirror p=0.5"),
        (243, "none"),
        (243, "mirror p=0.5"),
    ]
    for r in rows:
        assert r["windows_per_s"]["old"] > 0 and r["windows_per_s"]["new"] > 0, r
        assert r["ratio_new_old"] > 0, r
        assert all(len(ts) == 1 for ts in r["times_s"].values()), r["times_s"]
    saved = json.loads(out.read_text())
    assert [r["windows_per_s"] for r in saved["rows"]] == [r["windows_per_s"] for r in rows]
    printed = capsys.readouterr().out
    assert "| path | window length | augment | windows/s old | windows/s new | ratio new/old |" in printed
    assert printed.startswith("Machine: ")
    assert printed.count("| host -> grain |") == 4
