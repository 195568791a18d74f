"""The benchmark harness (:mod:`chiral_jax.benchmarking`): the common parser, the table writers, the
chiral-vs-baseline row runner, the flip-averaged inference call, the report and the HLO traffic
model. Fast: tiny callables and arrays, no nets."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chiral_jax import benchmarking as bm
from chiral_jax.spec import ChiralSpec


def test_parser_defaults_by_mode_and_shared_flags() -> None:
    def parser() -> bm.BenchmarkParser:
        p = bm.BenchmarkParser("Title line.\n\nMore text.", repeats=(10, 2))
        p.size("--batch", full=1024, quick=64, help="windows per batch")
        p.size("--widths", full=[256, 1024], quick=[16], nargs="+")
        p.size("--scale", full=1.0, quick=0.5, type=float, minimum=None)
        return p

    p = parser()
    assert p.description == "Title line."
    a = p.parse_args([])
    assert (a.quick, a.json, a.seed, a.repeats, a.batch, a.widths, a.scale) == (
        False,
        None,
        0,
        10,
        1024,
        [256, 1024],
        1.0,
    )
    q = parser().parse_args(["--quick", "--json", "out.json", "--batch", "8"])
    assert (q.quick, q.json, q.repeats, q.batch, q.widths, q.scale) == (True, "out.json", 2, 8, [16], 0.5)
    assert "(default 1024; 64 quick)" in parser().format_help()
    with pytest.raises(SystemExit):
        parser().parse_args(["--repeats", "0"])
    # No --seed or --repeats when not asked for; extra names for --repeats.
    p = bm.BenchmarkParser(None, repeats=(5, 1), repeats_flags=("--timing-repeats", "--repeats"), seed=None)
    a = p.parse_args(["--repeats", "3"])
    assert a.timing_repeats == 3 and not hasattr(a, "seed")


def test_table_writer() -> None:
    lines = bm.table(("name", "n", "x"), [("a", 1, "2.0"), ("b", 10, "")], align="lr")
    assert lines == ["| name | n | x |", "|---|---:|---|", "| a | 1 | 2.0 |", "| b | 10 |  |"]
    with pytest.raises(ValueError, match="cells"):
        bm.table(("a", "b"), [("only one",)])
    assert (bm.mark(True), bm.mark(False)) == ("yes", "NO")
    assert (bm.mib(None), bm.mib(3 * 2**19), bm.mib(32 * 2**20)) == ("n/a", "1.5", "32")


def test_row_runner_on_two_tiny_callables(capsys: pytest.CaptureFixture[str]) -> None:
    log: list[str] = []

    class Closable:
        closed = False

        def close(self) -> None:
            self.closed = True

    def call(name: str, items: int) -> bm.TimedCall:
        return bm.TimedCall(lambda: log.append(name) or jnp.zeros(()), items)

    trainer = Closable()
    calls = {"train_chiral": call("chiral", 8), "train_baseline": call("baseline", 8)}
    row = bm.chiral_vs_baseline(
        calls,
        {"chiral": 5, "baseline": 10},
        repeats=3,
        per_s_key="items_per_s",
        groups=[("train_chiral", "train_baseline")],
        ratios={"train_speedup": ("train_chiral", "train_baseline")},
        close=[trainer],
        memory=True,
    )
    assert trainer.closed
    warmup, timed = ["chiral", "baseline"], ["chiral", "baseline", "baseline", "chiral", "chiral", "baseline"]
    assert log == [*warmup, *timed]
    assert row["param_ratio"] == 0.5 and row["params"] == {"chiral": 5, "baseline": 10}
    assert set(row["items_per_s"]) == set(calls) and all(v > 0 for v in row["items_per_s"].values())
    assert all(len(t) == 3 for t in row["times_s"].values())
    assert row["ratios"]["train_speedup"] > 0 and row["cpu_time_ratios"]["train_speedup"] >= 0
    assert np.isnan(row["flops"]["train_chiral"]) and row["memory"] == {
        "train_chiral": {},
        "train_baseline": {},
    }
    assert "flop_ratio_infer" not in row

    rows = bm.run_rows(["a", "b"], lambda r, i: {"row": r, "i": i}, label=str.upper)
    assert rows == [{"row": "a", "i": 0}, {"row": "b", "i": 1}]
    assert "# A: done" in capsys.readouterr().err


def test_chiral_vs_baseline_table_columns() -> None:
    names = ("train_chiral", "train_baseline", "infer_chiral", "infer_baseline", "infer_baseline_tta")
    row = {
        "row": "W=8",
        "params": {"chiral": 5, "baseline": 10},
        "param_ratio": 0.5,
        "per_s": dict.fromkeys(names, 1000.0),
        "ratios": {"train_speedup": 1.5, "infer_speedup": 1.25, "infer_speedup_vs_tta": 2.5},
    }
    lines = bm.chiral_vs_baseline_table([row], per_s_key="per_s", unit="fr", extra={"x": lambda r: "X"})
    assert lines[0].startswith("| row | params chiral / baseline | x | train fr/s chiral |")
    cells = "| W=8 | 5 / 10 = 0.500 | X | 1,000 | 1,000 | **1.50x** | 1,000 | 1,000 | 1,000 | 1.25x"
    assert lines[2] == cells + " | **2.50x** |"
    without_tta = {**row, "per_s": {n: 1.0 for n in names[:4]}}
    assert "TTA" not in bm.chiral_vs_baseline_table([without_tta], per_s_key="per_s", unit="fr")[0]


def test_inference_calls_flip_average_both_passes_in_one_jit() -> None:
    spec = ChiralSpec(left=(0,), right=(1,), center=(2,), dim=2, negated=(0,))
    w = jnp.asarray(np.random.default_rng(0).standard_normal((spec.size, spec.size)), jnp.float32)

    def apply(state: jax.Array, x: jax.Array) -> jax.Array:  # not equivariant: the flip average differs
        return jnp.tanh(x @ state)

    x = jnp.asarray(np.random.default_rng(1).standard_normal((4, spec.size)), jnp.float32)
    calls = bm.inference_calls({"baseline": (apply, w)}, x, 4, spec, spec)
    assert set(calls) == {"infer_baseline", "infer_baseline_tta"}
    want = 0.5 * (apply(w, x) + spec.transform(apply(w, spec.transform(x))))
    np.testing.assert_allclose(calls["infer_baseline_tta"].run(), want, rtol=1e-5, atol=1e-6)
    assert calls["infer_baseline_tta"].items == 4
    flops = bm.xla_flops(calls["infer_baseline_tta"].compiled) / bm.xla_flops(
        calls["infer_baseline"].compiled
    )
    assert 1.8 < flops < 2.5  # two passes, one compiled program


def test_report_prints_the_machine_first_and_writes_it(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    info = bm.report(["| a |", "|---|"], str(out), rows=[{"x": 1.5}], other=np.float32(2.0))
    printed = capsys.readouterr().out
    assert printed.startswith("Machine: ") and printed.splitlines()[1] == "| a |"
    saved = json.loads(out.read_text())
    assert saved["machine"] == json.loads(json.dumps(info)) and saved["rows"] == [{"x": 1.5}]
    assert {"cpu", "jax", "platform", "device_kind", "load_average"} <= set(saved["machine"])


def test_cycle_epochs() -> None:
    nxt = bm.cycle_epochs(lambda e: [(e, 0), (e, 1)])
    assert [nxt() for _ in range(5)] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]


def test_hlo_traffic_counts_matmuls_and_their_bytes() -> None:
    x, w = jnp.ones((64, 32)), jnp.ones((32, 16))
    compiled = jax.jit(lambda x, w: jnp.tanh(x @ w) * 2.0).lower(x, w).compile()
    t = bm.hlo_traffic(compiled.as_text())
    assert set(t) == set(bm.TRAFFIC_KINDS)
    assert t["matmul"]["count"] >= 1
    # The matmul (fused or not) reads at least x and w and writes at least its (64, 16) result.
    assert t["matmul"]["bytes_in"] >= 4 * (64 * 32 + 32 * 16) and t["matmul"]["bytes_out"] >= 4 * 64 * 16
    assert bm.shape_bytes("(f32[2,3]{1,0}, u8[5])") == 4 * 6 + 5
    lines = bm.traffic_table(t, t)
    assert lines[0].startswith("| kind | count chiral / baseline |") and len(lines) == 2 + len(
        bm.TRAFFIC_KINDS
    )
    cost = bm.cost_analysis(compiled)
    assert set(cost) == set(bm.COST_KEYS) and cost["flops"] >= 2 * 64 * 32 * 16
    assert bm.xla_flops(compiled) == cost["flops"]
