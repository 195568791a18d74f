"""The published recipes: learning-rate decay per epoch, HumanEva-I results by subject x action, the
limited-data sweep end to end on Human3.6M-format fixtures."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import optax
import pytest

from chiral_jax import runner
from chiral_jax.data import fixtures, subsets
from chiral_jax.data.cameras import h36m_cameras
from chiral_jax.data.fixtures import body_motion
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.tasks import lifting
from chiral_jax.tasks.configs import load_config_file

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "experiments" / "configs"


def _config(name):
    c = load_config_file(str(CONFIGS / f"{name}.py"))
    c.progress = False
    return c


def test_default_schedule_is_todays_per_step_decay_bit_for_bit():
    train = _config("lift3d").train
    assert train.lr_decay_every == "step"
    steps = np.arange(0, 20000, 7)
    today = optax.exponential_decay(
        train.lr, transition_steps=train.lr_decay_steps, decay_rate=train.lr_decay
    )
    np.testing.assert_array_equal(lifting.learning_rate(train, 37)(steps), today(steps))
    del train.lr_decay_every  # a config written before the key existed
    np.testing.assert_array_equal(lifting.learning_rate(train, 37)(steps), today(steps))


def test_decay_per_epoch_and_per_n_steps_are_staircases():
    train = _config("lift3d_humaneva").train
    assert (train.lr, train.lr_decay, train.batch_size, train.epochs) == (5e-4, 0.996, 128, 1000)
    lr = lifting.learning_rate(train, steps_per_epoch=75)
    np.testing.assert_allclose(lr(np.array([0, 74, 75, 149, 150])), 5e-4 * 0.996 ** np.array([0, 0, 1, 1, 2]))
    train.lr_decay_every = "10"  # as --config.train.lr_decay_every=10 gives it
    np.testing.assert_allclose(lifting.learning_rate(train, 75)(np.array([9, 10])), [5e-4, 5e-4 * 0.996])
    for bad in ("weekly", "0", "-3"):
        train.lr_decay_every = bad
        with pytest.raises(ValueError, match="lr_decay_every must be"):
            lifting.learning_rate(train, 75)


def test_humaneva_recipe_and_cpu_variant_settings():
    full, cpu = _config("lift3d_humaneva"), _config("lift3d_humaneva_cpu")
    for c in (full, cpu):
        assert tuple(c.model.filter_widths) == (3, 3, 3) and c.train.batch_size == 128
        assert tuple(c.data.actions) == ("Walk", "Jog", "Box")
        assert tuple(c.data.subjects_train) == ("Train/S1", "Train/S2", "Train/S3")
        assert tuple(c.data.subjects_test) == ("Validate/S1", "Validate/S2", "Validate/S3")
        assert c.train.lr_decay_every == "epoch"
    # The CPU variant's learning rate ends where the recipe's 1,000 epochs end.
    assert cpu.train.lr_decay**cpu.train.epochs == pytest.approx(0.996**1000)
    limited, limited_cpu = _config("lift3d_limited"), _config("lift3d_limited_cpu")
    assert tuple(limited.sweep) == (
        "S1:0.001",
        "S1:0.01",
        "S1:0.05",
        "S1:0.1",
        "S1:0.5",
        "S1",
        "S1,S5",
        "S1,S5,S6",
    )
    assert tuple(limited_cpu.sweep) == ("S1:0.01", "S1:0.05", "S1:0.1") and limited_cpu.model.width == 256
    for c in (limited, limited_cpu):
        assert c.train.batch_size == 64
        assert [v.name.split("_")[0] for v in lifting.variants(c.model, c.train.augment)] == [
            "chiral",
            "baseline",
        ]


def _seq(subject, action, n=4):
    cam = h36m_cameras()["S1"][0]
    pose = body_motion(n, 17, seed=0)
    return PoseSequence(
        subject, action, cam, pose[..., :2], pose[..., :2], pose, np.zeros((n, 3), np.float32)
    )


def test_actions_select_types_by_name_or_videopose3d_prefix():
    seqs = [_seq("S1", a) for a in ("Walking 1 chunk0", "WalkDog 1", "Jog 1 chunk0", "Box 1 chunk2")]
    pick = lambda names, pool=seqs: [s.action for s in subsets.by_actions(pool, names)]  # noqa: E731
    assert pick(["Walk", "Box"]) == [
        "Walking 1 chunk0",
        "WalkDog 1",
        "Box 1 chunk2",
    ]  # prefix: no "Walk" type
    assert pick(["Walking"]) == ["Walking 1 chunk0"]  # an exact type selects only itself
    assert pick(["Walk"], seqs[:1] + seqs[2:]) == ["Walking 1 chunk0"]


def test_results_by_subject_and_action_table():
    errors = {"Validate/S1": {"Walking": 30.0, "Jog": 20.0}, "Validate/S2": {"Walking": 40.0}}

    def run(name, seed_offset):
        table = {
            s: {a: {"mpjpe_mm": 2 * e + seed_offset, "p_mpjpe_mm": e + seed_offset} for a, e in acts.items()}
            for s, acts in errors.items()
        }
        return {"name": name, "per_subject_action": table, "tta": {"per_subject_action": table}}

    rows = runner.summarize_breakdown([run("base", 0.0), run("base", 2.0)], "per_subject_action")
    assert [r["name"] for r in rows] == ["base", "base + TTA"]
    cell = rows[0]["per_subject_action"]["Validate/S1"]["Walking"]
    assert cell["p_mpjpe_mm"] == 31.0 and cell["p_mpjpe_mm_std"] == 1.0 and cell["mpjpe_mm"] == 61.0
    md = lifting.subject_action_markdown(rows, actions=("Walk", "Jog", "Box"))
    assert "| model | Walk S1 | Walk S2 | Jog S1 | average |" in md  # Table 2 order: action, subject
    assert "| base | 31.0 ± 1.0 | 41.0 ± 1.0 | 21.0 ± 1.0 | 31.0 |" in md


def _tiny(config, data_dir, manual_dir):
    config.data.manual_dir, config.data.data_dir = str(manual_dir), str(data_dir)
    config.model.width, config.model.filter_widths, config.model.dropout = 8, (3,), 0.0
    config.train.epochs, config.train.batch_size = 1, 8
    return config


@pytest.mark.slow
def test_humaneva_cpu_config_writes_results_by_subject_and_action(tmp_path):
    fixtures.write_humaneva(tmp_path / "he")  # Train/S1 Walking + Box, Validate/S2 Jog
    config = _tiny(_config("lift3d_humaneva_cpu"), tmp_path / "tfds", tmp_path / "he")
    config.model.equal_params = False
    results = lifting.train_and_evaluate(config, str(tmp_path / "run"))
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["data"]["train_frames"] == 3 * (20 + 15)  # Walk and Box of Train/S1, 3 cameras
    for m in saved["models"]:
        cell = m["per_subject_action"]["Validate/S2"]["Jog"]
        assert cell["frames"] == 2 * 12 and 0 < cell["p_mpjpe_mm"] <= cell["mpjpe_mm"] + 1e-6
    assert [r["name"] for r in saved["summary_by_subject_action"]] == [
        "chiral_plain_relu_w8",
        "baseline_aug_w8",
        "baseline_aug_w8 + TTA",
    ]
    md = (tmp_path / "run" / "results.md").read_text()
    assert "## P-MPJPE (mm) by subject and action" in md and "| model | Jog S2 | average |" in md


@pytest.mark.slow
def test_limited_data_sweep_command_runs_on_h36m_fixtures(tmp_path):
    sizes = {"S1": {"Walking 1": 300, "Directions 1": 200}, "S9": {"Walking": 40}, "S11": {"Eating": 30}}
    fixtures.write_h36m(tmp_path / "h36m", source="cpn_ft_h36m_dbb", actions=sizes)
    config = _tiny(_config("lift3d_limited_cpu"), tmp_path / "tfds", tmp_path / "h36m")
    config.sweep = tuple(config.sweep)[1:]  # S1 5% and 10% (two entries keep the test short)
    spec = importlib.util.spec_from_file_location("lift3d_script", ROOT / "experiments" / "lift3d.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    printed = script.run(config, str(tmp_path / "run"))  # what `python experiments/lift3d.py` prints
    sweep = json.loads((tmp_path / "run" / "sweep.json").read_text())
    frames = {p["entry"]: p["train_frames"] for p in sweep["points"]}
    assert frames == {"S1:0.05": 4 * (15 + 10), "S1:0.1": 4 * (30 + 20)}
    assert {p["name"] for p in sweep["points"]} == {
        "chiral_plain_relu_w8",
        "baseline_aug_w8",
        "baseline_aug_w8 + TTA",
    }
    assert (
        "| training data | frames | chiral_plain_relu_w8 | baseline_aug_w8 | baseline_aug_w8 + TTA |"
        in printed
    )
    assert "## Test P-MPJPE (mm) against training data" in printed
    assert (tmp_path / "run" / "sweep.png").stat().st_size > 0
    assert (tmp_path / "run" / "S1_0.05" / "results.md").exists()  # each entry: the runner's outputs


@pytest.mark.slow
def test_recipe_step_time_quick(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("recipe_step_time")
    rows = bench.main(["--quick", "--config", str(CONFIGS / "lift3d_humaneva_cpu.py")])
    assert [r["variant"] for r in rows] == ["chiral_plain_relu_w16"]
    for r in rows:
        assert r["steps_per_epoch"] > 0 and r["step_seconds"] > 0 and r["run_seconds"] > r["eval_seconds"] > 0
    printed = capsys.readouterr().out
    assert (
        "| entry | variant | train windows | steps/epoch | s/step |" in printed
        and "Estimated total" in printed
    )
