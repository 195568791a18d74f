"""The runner owns the comparison: the variant grid, the exact equal-parameter matcher, flip
averaging, batched inference, summaries (TTA rows, list metrics, breakdowns), resume and config
hashes, sweeps, and the older config spellings."""

import itertools
import json
from pathlib import Path

import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from absl import flags
from flax import nnx

from chiral_jax import runner, skeletons
from chiral_jax.runner import Column, TrainingSetup, Variant
from chiral_jax.tasks import cli
from chiral_jax.tasks.configs import load_config_file

CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"


def test_grid_kinds_order_names_and_augment_semantics():
    params = lambda kind, w: w * w * (1 if kind == "chiral" else 2)  # noqa: E731  chiral: half
    grid = runner.comparison_grid("both", 10, augment=True, equal_params=True, params=params, multiple=2)
    assert [(v.kind, v.matched, v.augment, v.width) for v in grid] == [
        ("chiral", "width", False, 10),
        ("chiral", "params", False, 14),  # 14^2 = 196 is the even width closest to 2 * 10^2
        ("baseline", "width", True, 10),  # train.augment: the baseline with mirror augmentation
    ]
    assert [v.name for v in grid] == ["chiral_w10", "chiral_w14", "baseline_aug_w10"]
    both = runner.comparison_grid(
        "baseline", 10, augment=True, equal_params=False, baseline_without_augment=True
    )
    assert [v.name for v in both] == ["baseline_noaug_w10", "baseline_aug_w10"]
    plain = runner.comparison_grid("baseline", 10, augment=False, equal_params=False)
    assert [v.name for v in plain] == ["baseline_noaug_w10"]
    detailed = runner.comparison_grid(
        "chiral",
        8,
        augment=False,
        equal_params=False,
        chiral_options=[{"hidden": "negated", "activation": "tanh"}],
    )
    assert detailed[0].name == "chiral_negated_tanh_w8"
    tf = runner.comparison_grid("baseline", 8, augment=True, equal_params=False, architecture="transformer")
    assert tf[0].name == "transformer_baseline_aug_w8" and tf[0].architecture == "transformer"
    with pytest.raises(ValueError, match=r"model\.kind must be chiral, baseline or both, got 'dense'"):
        runner.comparison_grid("dense", 8, augment=False, equal_params=False)
    with pytest.raises(ValueError, match="equal_params needs params"):
        runner.comparison_grid("chiral", 8, augment=False, equal_params=True)


@pytest.mark.parametrize("multiple", [1, 2, 8])
def test_match_params_is_the_closest_width(multiple):
    params = lambda w: 3 * w * w + 17 * w + 5  # noqa: E731
    for target in (100, 1234, 50_000, 777_777):
        got = runner.match_params(params, target, 64, multiple=multiple)
        candidates = range(multiple, 4096, multiple)
        best = min(abs(params(w) - target) for w in candidates)
        assert got % multiple == 0 and abs(params(got) - target) == best, (target, got)


def test_match_params_scales_tuples_together_and_refuses_unreachable_targets():
    params = lambda ws: sum(a * b for a, b in itertools.pairwise(ws))  # noqa: E731
    widths = (8, 8, 16)
    got = runner.match_params(params, 2 * params(widths), widths)
    assert abs(params(got) / (2 * params(widths)) - 1) < 0.1 and got[2] > got[0]
    with pytest.raises(ValueError, match="reaches"):
        runner.match_params(lambda w: 1, 10, 8)


def test_variant_reads_older_records():
    v = Variant.from_dict(
        {"name": "c", "kind": "chiral", "channels": 32, "hidden": "plain", "matched": "width"}
    )
    assert v.width == 32 and v.channels == 32
    a = Variant.from_dict({"name": "a", "kind": "chiral", "widths": [4, 8], "arch": "temporal"})
    assert a.width == (4, 8) and a.architecture == "temporal" and hash(a)
    assert Variant("b", "baseline", 4).describe()["hidden"] == "dense"
    with pytest.raises(ValueError, match="chiral or baseline"):
        Variant("x", "dense", 4)


def test_flip_average_is_one_fused_function_and_batched_apply_pads():
    sk = skeletons.H36M
    spec_in, spec_out = sk.spec(2), sk.spec(3)
    w = np.random.default_rng(0).normal(size=(spec_in.size, spec_out.size)).astype(np.float32)
    x = np.random.default_rng(1).normal(size=(7, spec_in.size)).astype(np.float32)
    f = lambda v: v @ w  # noqa: E731
    averaged = runner.flip_average(f, spec_in, spec_out)
    expected = 0.5 * (x @ w + spec_out.transform(spec_in.transform(x) @ w))
    out, seconds = runner.batched_apply(averaged, x, 4)  # 7 rows in batches of 4: one padded
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert out.shape == (7, spec_out.size) and seconds > 0
    # The average is equivariant even though f is not.
    np.testing.assert_allclose(averaged(spec_in.transform(x)), spec_out.transform(averaged(x)), atol=1e-4)


def test_summaries_have_tta_rows_list_metrics_and_breakdowns():
    runs = [
        {"name": "b", "kind": "baseline", "params": 10, "seed": s, "err": 1.0 + s, "steps": [1.0, 2.0 + s],
         "per_group": {"g": {"err": 1.0 + s}}, "tta": {"err": 0.5 + s, "steps": [0.0, 1.0],
         "per_group": {"g": {"err": 0.5}}}}
        for s in (0, 1)
    ]  # fmt: skip
    runs.append({"name": "c", "kind": "chiral", "params": 5, "seed": 0, "err": 3.0, "steps": [3.0, 3.0]})
    rows = runner.summarize(runs, ("err", "steps", "train_seconds"))
    assert [r["name"] for r in rows] == ["b", "b + TTA", "c"]
    assert rows[0]["err"] == 1.5 and rows[0]["err_std"] == 0.5 and rows[0]["steps"] == [1.0, 2.5]
    assert rows[1]["err"] == 1.0 and rows[1]["steps"] == [0.0, 1.0] and rows[2]["seeds"] == 1
    by = runner.summarize_breakdown(runs, "per_group")
    assert [r["name"] for r in by] == ["b", "b + TTA"]
    assert by[0]["per_group"]["g"] == {"err": 1.5, "err_std": 0.5}
    table = runner.results_table(
        {"machine": "m", "summary": rows}, [Column("err", "err", ".2f")], "Toy results"
    )
    assert "| b | 10 | 2 | 1.50 ± 0.50 |" in table and "| c | 5 | 1 | 3.00 |" in table


class ToyTask(runner.Task):
    """y = sum(x): a one-layer net per variant (chiral: half the parameters at a width)."""

    name = "Toy"
    summary_keys = ("err", "per_step")
    columns = (Column("err", "err", ".4f"),)
    primary_metric = "err"
    final_metrics = ("train_loss",)
    breakdowns = ("per_group",)

    def load_data(self, config):
        x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
        return {"x": x, "y": x.sum(-1, keepdims=True)}

    def describe_data(self, data):
        return {"name": "toy", "train_samples": len(data["x"]) * self.config_fraction}

    config_fraction = 1

    @staticmethod
    def model(variant, seed=0):
        hidden = variant.width // 2 if variant.kind == "chiral" else variant.width
        return nnx.Sequential(
            nnx.Linear(4, hidden, rngs=nnx.Rngs(seed)), nnx.Linear(hidden, 1, rngs=nnx.Rngs(seed))
        )

    def variants(self, config, data):
        count = lambda kind, w: runner.num_params(nnx.eval_shape(lambda: self.model(Variant("", kind, w))))  # noqa: E731
        return runner.comparison_grid(
            config.model.kind, config.model.width, augment=True, equal_params=True, params=count, multiple=2,
            baseline_without_augment=True,
        )  # fmt: skip

    def setup(self, variant, seed, data, config):
        def loss(model, batch):
            err = jnp.mean((model(batch["x"]) - batch["y"]) ** 2)
            return err, {"loss": err}

        def batches(epoch):
            return [{"x": data["x"][i : i + 32], "y": data["y"][i : i + 32]} for i in (0, 32)]

        return TrainingSetup(
            self.model(variant, seed), optax.sgd(0.05), loss, batches, 2, config.train.epochs, None
        )

    def evaluate(self, model, variant, data, config, *, flip_average=False):
        err = float(jnp.mean((model(data["x"]) - data["y"]) ** 2)) * (0.5 if flip_average else 1.0)
        return {"err": err, "per_step": [err, 2 * err], "per_group": {"a": {"err": err}}}


def _toy_config(width=8, epochs=2):
    return ml_collections.ConfigDict(
        {"seed": 0, "num_seeds": 2, "progress": False, "model": {"kind": "both", "width": width},
         "train": {"epochs": epochs}, "eval": {"test_time_augmentation": True}}
    )  # fmt: skip


def test_run_reuses_finished_runs_and_retrains_on_a_new_config(tmp_path):
    task = ToyTask()
    results = runner.run(task, _toy_config(), str(tmp_path))
    names = [m["name"] for m in results["models"]]
    assert (
        names
        == ["chiral_w8", "chiral_w8", "chiral_w16", "chiral_w16"]
        + ["baseline_noaug_w8"] * 2
        + ["baseline_aug_w8"] * 2
    )
    for m in results["models"]:
        assert ("tta" in m) == (m["kind"] == "baseline")  # eval.test_time_augmentation: the older spelling
        assert m["final_train_loss"] is not None and m["params"] > 0
    assert [r["name"] for r in results["summary"]][-1] == "baseline_aug_w8 + TTA"
    assert results["summary_by_group"][0]["per_group"]["a"]["err"] > 0
    assert results["config"]["eval"] == {"flip_average": True}  # stored under the current key
    md = (tmp_path / "results.md").read_text()
    assert md == runner.report(task, results) and "| chiral_w16 |" in md
    assert (tmp_path / "results.png").exists()
    # The same config again: every run is read back, nothing trains.
    log = tmp_path / "chiral_w8" / "seed0" / "metrics.jsonl"
    before = log.read_text()
    again = runner.run(task, _toy_config(), str(tmp_path))
    assert [m["err"] for m in again["models"]] == [m["err"] for m in results["models"]]
    assert log.read_text() == before
    # One more epoch: a new config hash, the runs resume from their checkpoints and train on.
    more = runner.run(task, _toy_config(epochs=3), str(tmp_path))
    assert len(log.read_text().splitlines()) > len(before.splitlines())
    assert more["models"][0]["err"] != results["models"][0]["err"]
    saved = json.loads((tmp_path / "chiral_w8" / "seed0" / "result.json").read_text())
    assert saved["config_hash"] != json.loads(json.dumps(results["models"][0]))["config_hash"]


@pytest.mark.slow
def test_sweep_runs_each_point_and_writes_its_table(tmp_path):
    task = ToyTask()
    points = [
        runner.SweepPoint("narrow", "w4", {"model.width": 4}),
        runner.SweepPoint("wide", "w8", {"model.width": 8}),
    ]
    out = runner.sweep(
        task, _toy_config(epochs=1), str(tmp_path), points, x_key="train_samples", metrics=[("err", "error")]
    )
    assert {p["entry"] for p in out["points"]} == {"narrow", "wide"}
    assert (tmp_path / "w4" / "results.json").exists() and (tmp_path / "sweep.png").exists()
    md = (tmp_path / "sweep.md").read_text()
    assert "## Test error against training data" in md and "| narrow | 64 |" in md


OLD_SPELLINGS = [
    ("lift3d.py", "model.channels", "64", "model.width", 64),
    ("forecast2d.py", "model.hidden", "8", "model.width", 8),
    ("forecast2d.py", "model.layers", "1", "model.num_layers", 1),
    ("action.py", "model.widths", "(4, 4)", "model.width", (4, 4)),
    ("ik_cmu.py", "model.arch", "transformer", "model.architecture", "transformer"),
    ("transformer_lift.py", "model.layers", "3", "model.num_layers", 3),
    ("lift3d.py", "eval.test_time_augmentation", "False", "eval.flip_average", False),
]


@pytest.mark.parametrize(("config", "old", "text", "new", "value"), OLD_SPELLINGS)
def test_older_key_spellings_keep_working(config, old, text, new, value):
    parsed = cli.parse_command_line(
        ["x.py", "--workdir=/tmp/x", f"--config={CONFIGS / config}", f"--config.{old}={text}"],
        str(CONFIGS / config),
        flags.FlagValues(),
    )
    section, leaf = new.split(".")
    assert parsed.config[section][leaf] == value
    # Set on a loaded config in code: the runner reads it as the current key.
    c = load_config_file(str(CONFIGS / config))
    c[old.split(".")[0]][old.split(".")[1]] = value
    assert runner.canonical_config(c)[section][leaf] == value
    assert old.split(".")[1] not in runner.canonical_config(c)[section]
