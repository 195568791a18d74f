"""Smoke test of ``benchmarks/chiral_step_profile.py`` at ``--quick`` size (the numbers are not checked)."""

import json

import pytest

from chiral_jax import functional


@pytest.mark.slow
def test_chiral_step_profile_quick(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("chiral_step_profile")
    out = tmp_path / "p.json"
    res = bench.main(["--quick", "--json", str(out)])
    assert set(res["step_costs"]["ratio"]) == {"flops", "bytes accessed", "transcendentals"}
    assert res["step_costs"]["chiral"]["flops"] < res["step_costs"]["baseline"]["flops"]
    assert {"relu_chiral_reference", "dropout_dense_reference", "conv3_chiral"} <= set(
        res["ops"]["median_ms"]
    )
    assert res["steps"]["step_time_ratio"] > 0 and res["steps"]["step_time_ratio_reference"] > 0
    # The reference context restores the library's ops.
    assert (
        functional._RELU_IN_BASIS is True and functional._random_bytes.__module__ == "chiral_jax.functional"
    )
    assert json.loads(out.read_text())["ops"]["time_ratio"] == res["ops"]["time_ratio"]
    assert "Before / after" in capsys.readouterr().out
