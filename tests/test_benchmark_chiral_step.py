"""Smoke test of ``benchmarks/chiral_step_profile.py`` at ``--quick`` size (the numbers are not checked;
the HLO traffic model it reports is tested in tests/test_benchmarking_harness.py)."""

import json

import numpy as np
import pytest

from chiral_jax import functional


@pytest.mark.slow
def test_chiral_step_profile_quick(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("chiral_step_profile")
    out = tmp_path / "p.json"
    res = bench.main(["--quick", "--no_steps", "--no_floor", "--json", str(out)])
    assert set(res["step_costs"]["ratio"]) == {"flops", "bytes accessed", "transcendentals"}
    assert res["step_costs"]["chiral"]["flops"] < res["step_costs"]["baseline"]["flops"]
    assert res["step_costs"]["chiral_traffic"]["matmul"]["count"] > 0
    assert {"dropout_chiral_reference", "dropout_dense_reference", "conv3_chiral"} <= set(
        res["ops"]["median_ms"]
    )
    assert "steps" not in res  # whole-step timing compiles four trainers: left to the script
    # The mask-mode contexts restore the default mode.
    assert functional.current_mask_bits() == "byte"
    assert json.loads(out.read_text())["ops"]["time_ratio"] == res["ops"]["time_ratio"]
    assert "Before / after" in capsys.readouterr().out


@pytest.mark.slow
def test_floor_shapes_and_ablations(benchmark_script):
    bench = benchmark_script("chiral_step_profile")
    # 27 frames, batch 8: block 1 has 8 * 3 output frames, block 2 has 8.
    assert bench.matmul_shapes(64, 8, (3, 3, 3)) == [(24, 192, 64), (24, 64, 64), (8, 192, 64), (8, 64, 64)]
    from chiral_jax import skeletons

    for kind in ("chiral", "baseline"):
        m = bench._ablated(bench._lifting_model(kind, 8, (3, 3), 0.0, "packed"), ("bn", "act"))
        x = np.random.default_rng(0).standard_normal((2, 9, 2 * skeletons.H36M.num_joints)).astype(np.float32)
        assert m(x).shape == (2, 1, 3 * skeletons.H36M.num_joints)
        assert isinstance(m.expand_bn, bench._Identity) and all(
            isinstance(b, bench._Identity) for b in m.layers_bn
        )


@pytest.mark.slow
def test_floor_timings_tiny(tmp_path, benchmark_script):
    bench = benchmark_script("chiral_step_profile")
    fl = bench.floor_timings(8, 4, (3, 3), 1, str(tmp_path))
    assert set(fl["ablation_time_ratio"]) == set(bench.ABLATIONS)
    assert set(fl["matmuls"]["time_ratio"]) == {"4x24x8", "4x8x8"}
    assert fl["matmuls"]["per_step_ms"]["dense"] > 0
