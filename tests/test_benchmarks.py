"""Smoke test of ``benchmarks/layers.py`` at ``--quick`` size (a few seconds, numbers not checked
against targets: tiny layers are dominated by dispatch and split/merge overheads), and the shared
timing loop :func:`chiral_jax.benchmarking.time_interleaved`."""

from pathlib import Path

import pytest

from chiral_jax.benchmarking import Timings, time_interleaved


@pytest.mark.slow
def test_layers_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark_script) -> None:
    layers = benchmark_script("layers")
    out = tmp_path / "layers.json"
    rows = layers.main(["--quick", "--repeats", "1", "--json", str(out)])
    assert [r["kind"] for r in rows] == ["linear", "linear", "conv1d", "conv1d", "conv1d"]
    for r in rows:
        assert all(t > 0 for t in r["median_ms"].values()), r["layer"]
        assert r["param_ratio"] <= 0.5 + 1e-9, r["layer"]
        # Hidden -> hidden rows: the split/merge adds are O(N) against O(N^2) multiply-adds, so even
        # at 128 channels the chiral step needs about half the FLOPs (0.50-0.52 measured).
        if r["c_in"] == r["c_out"]:
            assert 0.4 < r["flop_ratio_arrays"] < 0.75, r
            assert 0.4 < r["flop_ratio_even_odd"] < 0.75, r
    assert out.is_file()
    assert "| layer |" in capsys.readouterr().out


def test_time_interleaved_order_and_ratios() -> None:
    log: list[str] = []
    calls = {name: (lambda name=name: log.append(name)) for name in ("a", "b", "c", "d")}
    t = time_interleaved(calls, repeats=3, groups=[("a", "b"), ("c", "d")], warmup=2)
    warm, timed = log[:8], log[8:]
    assert warm == ["a", "a", "b", "b", "c", "c", "d", "d"]
    # Group by group; inside a group the order rotates by one each repeat.
    assert timed == ["a", "b", "c", "d", "b", "a", "d", "c", "a", "b", "c", "d"]
    assert t.names == ["a", "b", "c", "d"]
    assert all(len(t.wall[n]) == len(t.cpu[n]) == 3 for n in calls)
    assert all(w >= 0 for ws in t.wall.values() for w in ws)


def test_timings_ratio_is_median_of_per_repeat_ratios() -> None:
    wall = {"fast": [1.0, 2.0, 4.0, 1.0], "slow": [2.0, 6.0, 8.0, 1.0]}
    t = Timings(wall=wall, cpu={"fast": [1.0] * 4, "slow": [3.0] * 4})
    assert t.ratio("fast", "slow") == pytest.approx(2.0)  # median of 2, 3, 2, 1
    assert t.time_ratio("fast", "slow") == pytest.approx(0.5)  # median of 1/2, 1/3, 1/2, 1
    assert t.ratio("fast", "slow", cpu=True) == pytest.approx(3.0)
    assert t.median("slow") == pytest.approx(4.0)
    assert t.medians(cpu=True) == {"fast": 1.0, "slow": 3.0}


def test_time_interleaved_rejects_bad_groups() -> None:
    calls = {"a": lambda: None, "b": lambda: None}
    with pytest.raises(ValueError, match="groups"):
        time_interleaved(calls, repeats=1, groups=[("a",)])
    with pytest.raises(ValueError, match="groups"):
        time_interleaved(calls, repeats=1, groups=[("a", "b"), ("b",)])
    with pytest.raises(ValueError, match="repeats"):
        time_interleaved(calls, repeats=0)
