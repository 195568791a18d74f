"""The experiment command line: user mistakes give at most three lines and exit status 2, --help lists
every config key, programming errors still raise; the job's progress lines; predict3d's image check."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import ml_collections
import numpy as np
import pytest
from absl import flags

from chiral_jax.data.errors import missing
from chiral_jax.predict import keypoints as kp
from chiral_jax.tasks import cli, runner
from chiral_jax.tasks.config_help import config_keys, key_comments
from chiral_jax.tasks.configs import load_config_file
from chiral_jax.tasks.progress import JobProgress, format_duration

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "experiments" / "configs"
LIFT3D = str(CONFIGS / "lift3d.py")
DEFAULTS = ("lift3d", "action", "forecast2d", "ik_cmu", "transformer_lift")


def _parse(*args: str, config: str = LIFT3D) -> cli.CommandLine:
    return cli.parse_command_line(["lift3d.py", *args], config, flags.FlagValues())


def _usage(*args: str, config: str = LIFT3D) -> str:
    with pytest.raises(cli.UsageError) as err:
        _parse(*args, config=config)
    return str(err.value)


def test_overrides_apply():
    cl = _parse("--workdir", "/tmp/w", "--config.train.epochs=3", "--config.model.filter_widths=3,3")
    assert (cl.workdir, cl.config.train.epochs, cl.config.model.filter_widths) == ("/tmp/w", 3, (3, 3))
    assert cl.overrides == {"train.epochs": "3", "model.filter_widths": "3,3"} and not cl.verbose


@pytest.mark.parametrize(
    "args, named",
    [
        (("--config.train.epoch=3",), ("--config.train.epoch=3", "'train.epoch'", "nearest: train.epochs")),
        (("--config.epochs=3",), ("'epochs'", "train.epochs")),
        (("--config.train.epochs=abc",), ("--config.train.epochs=abc", "an integer", "default 24", "'abc'")),
        (("--config.model.filter_widths=abc",), ("model.filter_widths", "(3, 3, 3)", "('abc',)")),
        (("--config=/nonexistent/c.py",), ("--config /nonexistent/c.py", "no such file", "get_config")),
        (("--bogus=1",), ("--bogus", "unknown flag", "--workdir")),
        (("--workdirr=/tmp/x",), ("--workdirr", "did you mean --workdir")),
        (("extra",), ("unexpected arguments ['extra']",)),
    ],
)
def test_user_mistakes_name_the_flag(args, named):
    argv = args if any(a.startswith("--workdir") for a in args) else ("--workdir", "/tmp/w", *args)
    message = _usage(*argv)
    for text in named:
        assert text in message, message
    assert len(cli.error_lines(message, "lift3d.py")) <= cli.MAX_LINES


def test_missing_workdir_and_bad_config_file(tmp_path):
    assert "--workdir is required" in _usage("--config.train.epochs=3")
    bad = tmp_path / "bad.py"
    bad.write_text("def get_config(:\n")
    assert f"--config {bad}: line 1" in _usage("--workdir", "/w", f"--config={bad}")
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    assert "no get_config()" in _usage("--workdir", "/w", f"--config={none}")


def test_error_lines_cap():
    lines = cli.error_lines("a\n\n  b   c\nd\ne", "p")
    assert lines == ["p: error: a", "b c", "d e"]


def _raise_from_package(error: Exception) -> Exception:
    """``error`` with a traceback whose innermost frame is in chiral_jax (as the tasks raise)."""
    ns: dict = {}
    code = compile("def f(e):\n    raise e\n", str(ROOT / "chiral_jax" / "tasks" / "lifting.py"), "exec")
    exec(code, ns)
    try:
        ns["f"](error)
    except Exception as raised:
        return raised
    raise AssertionError


def test_user_error_or_programming_error():
    keys = ["model.kind", "data.manual_dir", "train.epochs"]
    kind = _raise_from_package(ValueError("model.kind must be chiral, baseline or both, got 'chrial'"))
    message = cli.user_error_message(kind, keys, {"model.kind": "chrial"})
    assert message == "--config.model.kind=chrial: model.kind must be chiral, baseline or both, got 'chrial'"
    flag = _raise_from_package(ValueError("set --config.data.manual_dir to the folder"))
    assert cli.user_error_message(flag, keys) == "set --config.data.manual_dir to the folder"
    # Not naming a setting, or raised outside the package: a programming error.
    assert cli.user_error_message(_raise_from_package(ValueError("shapes (3,) and (4,)")), keys) is None
    try:
        np.zeros(3).reshape(4)
    except ValueError as outside:
        assert cli.user_error_message(outside, ["train.epochs"]) is None
    assert cli.user_error_message(_raise_from_package(RuntimeError("model.kind")), keys) is None
    # Dataset files: two lines (the path, then what was expected and where to get it).
    lines = cli.user_error_message(missing("/d/x.npz", "x.npz: an npz", "the web"), []).splitlines()
    assert lines == [
        "dataset file not found: /d/x.npz",
        "expected there: x.npz: an npz; where to get it: the web",
    ]


def _fake_script(tmp_path: Path, body: str) -> object:
    """A run function defined in a module of its own (its docstring is the help's description)."""
    import importlib.util

    path = tmp_path / "fake_script.py"
    path.write_text(f'"""A fake experiment."""\n\n\ndef run(config, workdir):\n{body}\n')
    spec = importlib.util.spec_from_file_location("fake_script", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_script"] = module  # as a script's __main__ is
    spec.loader.exec_module(module)
    return module.run


def _run(run, *args: str) -> None:
    cli.run_experiment(LIFT3D, run, ["fake.py", "--workdir", "/tmp/w", *args], flag_values=flags.FlagValues())


def test_run_experiment_exit_status_and_traceback(tmp_path, capsys):
    run = _fake_script(tmp_path, "    return f'{config.train.epochs} epochs in {workdir}'")
    _run(run, "--config.train.epochs=2")
    assert capsys.readouterr().out.strip() == "2 epochs in /tmp/w"

    with pytest.raises(SystemExit) as done:
        _run(run, "--config.train.epoch=2")
    err = capsys.readouterr().err
    assert done.value.code == 2 and "train.epoch" in err and "epochs" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3

    user = _fake_script(
        tmp_path, "    raise ValueError(f'model.kind must be chiral, got {config.model.kind!r}')"
    )
    with pytest.raises(SystemExit) as done:
        _run(user, "--config.model.kind=chrial", "--verbose")
    err = capsys.readouterr().err
    assert done.value.code == 2 and "Traceback" in err  # --verbose shows it
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith("--config.model.kind=chrial: model.kind must be chiral, got 'chrial'")
    )

    bug = _fake_script(tmp_path, "    return 1 / 0")
    with pytest.raises(ZeroDivisionError):
        _run(bug)


@pytest.mark.parametrize("name", DEFAULTS)
def test_help_lists_every_key(name, capsys):
    path = str(CONFIGS / f"{name}.py")
    text = cli.experiment_help(f"{name}.py", "Doc line.", path)
    config = load_config_file(path)
    for flag in ("--workdir", "--config ", "--config.KEY=VALUE", "--verbose"):
        assert flag in text
    body = text.split("config keys of", 1)[1]
    for key, value in config_keys(config):
        line = next((ln for ln in body.splitlines() if ln.split(" = ")[0].strip() == key), None)
        assert line is not None, key
        assert repr(value)[:20] in line
    channels = next((ln for ln in body.splitlines() if ln.strip().startswith("model.width ")), "")
    if name == "lift3d":
        assert "= 128" in channels and "width" in channels


def test_key_comments_read_the_file(tmp_path):
    base = tmp_path / "base.py"
    base.write_text(
        "import ml_collections\n\n\ndef get_config():\n    c = ml_collections.ConfigDict()\n"
        "    c.a = 1  # the a\n    # Block about\n    # b and c.\n    c.b_x = 2\n    c.b_y = 3\n\n"
        "    c.d = ml_collections.ConfigDict({\n        'e': 1,  # inner e\n    })\n    return c\n"
    )
    derived = tmp_path / "derived.py"
    derived.write_text(
        "from chiral_jax.tasks.configs import load_sibling_config\n\n\ndef get_config():\n"
        "    c = load_sibling_config(__file__, 'base.py')\n    c.train_epochs = 3\n    return c\n"
    )
    comments = key_comments(str(derived))
    assert comments["a"] == "the a" and comments["b_x"] == comments["b_y"] == "Block about b and c."
    assert comments["d.e"] == "inner e"


def test_job_progress_lines(capsys, monkeypatch):
    import chiral_jax.runner.progress as P

    now = [0.0]
    monkeypatch.setattr(P.time, "perf_counter", lambda: now[0])
    p = JobProgress(3)
    p.start("chiral_plain_relu_w128", 0)
    now[0] = 60.0
    p.done(trained=True)
    now[0] = 70.0
    p.start("chiral_plain_relu_w128", 1)
    now[0] = 130.0
    p.done(trained=True)
    p.start("baseline_aug_w128", 0, cached=True)
    p.done(trained=False)
    p.close()
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "run 1/3 chiral_plain_relu_w128 seed 0 · elapsed 0:00 · estimate after the first run"
    assert lines[1] == "run 2/3 chiral_plain_relu_w128 seed 1 · elapsed 1:10 · about 2:00 left"
    assert lines[2].startswith("run 3/3 baseline_aug_w128 seed 0 · elapsed 2:10 · result already in")
    assert lines[3] == "3/3 runs done (1 already done in the workdir) · elapsed 2:10"
    JobProgress(2, enabled=False).start("x", 0)
    assert capsys.readouterr().err == ""
    assert format_duration(3725) == "1:02:05"


class _FakeTask(runner.Task):
    name = "fake"

    def load_data(self, config):
        return None

    def describe_data(self, data):
        return {}

    def variants(self, config, data):
        return [runner.Variant("a", "chiral", 4)]

    def setup(self, *args):
        raise NotImplementedError

    def evaluate(self, *args):
        raise NotImplementedError


def test_runner_reports_each_run(tmp_path, capsys, monkeypatch):
    config = ml_collections.ConfigDict({"seed": 0, "num_seeds": 2, "progress": True})

    def fake_train(task, variant, seed, data, cfg, workdir):
        Path(workdir).mkdir(parents=True, exist_ok=True)
        return {"name": variant.name, "kind": "chiral", "params": 1, "seed": seed, "train_seconds": 1.0}

    import chiral_jax.runner.comparison as run_module

    monkeypatch.setattr(run_module, "train_variant", fake_train)
    runner.run(_FakeTask(), config, str(tmp_path))
    err = capsys.readouterr().err
    assert "run 1/2 a seed 0 · elapsed" in err and "run 2/2 a seed 1 · elapsed" in err
    assert json.loads((tmp_path / "results.json").read_text())["summary"][0]["seeds"] == 2
    config.progress = False
    runner.run(_FakeTask(), config, str(tmp_path))
    assert "run 1/2" not in capsys.readouterr().err


def _raw(xy: np.ndarray) -> kp.RawKeypoints:
    t = len(xy)
    return kp.RawKeypoints(xy, np.ones(xy.shape[:2]), "coco17", np.arange(t), None, "det.json", "mmpose json")


def test_keypoints_outside_the_image_stop():
    xy = np.zeros((4, 17, 2))
    xy[..., 0], xy[..., 1] = np.linspace(100, 600, 17), np.linspace(50, 766, 17)
    with pytest.raises(kp.KeypointError) as err:
        kp.check_inside_image(_raw(xy), (640, 480))
    message = str(err.value)
    assert "x 100..600, y 50..766 px" in message and "640x480" in message and "--image_size" in message
    assert "--allow_outside_image" in message
    kp.check_inside_image(_raw(xy), (1280, 720))  # inside the 25% margin
    with pytest.warns(UserWarning, match="lifted anyway"):
        kp.check_inside_image(_raw(xy), (640, 480), allow_outside=True)
    low = _raw(xy)
    low.scores[:] = 0.1  # below min_score: not counted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kp.check_inside_image(low, (640, 480))
