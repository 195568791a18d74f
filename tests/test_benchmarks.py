"""Smoke test of ``benchmarks/layers.py`` at ``--quick`` size (a few seconds, numbers not checked
against targets: tiny layers are dominated by dispatch and split/merge overheads)."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "layers.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chiral_benchmarks_layers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_layers_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layers = _load_script()
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
