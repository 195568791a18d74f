"""Smoke test of ``benchmarks/chiral_step_profile.py`` at ``--quick`` size (the numbers are not checked)."""

import json

import pytest

from chiral_jax import functional


@pytest.mark.slow
def test_chiral_step_profile_quick(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("chiral_step_profile")
    out = tmp_path / "p.json"
    res = bench.main(["--quick", "--no_steps", "--json", str(out)])
    assert set(res["step_costs"]["ratio"]) == {"flops", "bytes accessed", "transcendentals"}
    assert res["step_costs"]["chiral"]["flops"] < res["step_costs"]["baseline"]["flops"]
    assert {"dropout_chiral_reference", "dropout_dense_reference", "conv3_chiral"} <= set(
        res["ops"]["median_ms"]
    )
    assert "steps" not in res  # whole-step timing compiles four trainers: left to the script
    # The reference context restores the library's ops.
    assert functional._random_bytes.__module__ == "chiral_jax.functional"
    assert json.loads(out.read_text())["ops"]["time_ratio"] == res["ops"]["time_ratio"]
    assert "Before / after" in capsys.readouterr().out
