"""The notebooks in notebooks/: committed executed (cell ids, outputs, figures as PNG images), and
re-executed top to bottom (no Jupyter needed) their key printed figures match the saved ones.

A code cell whose metadata has ``"check": {"rtol": r, "atol": a}`` holds key figures: rerun, its
printed text must equal the saved text when ``r == a == 0``; otherwise every number must match the
saved one within ``a + r * |saved|`` (integers exactly). The tolerances allow for float rounding on
another CPU: exact figures (counts, invariances that are 0 by construction) are tight, figures of a
short training loose (such a training amplifies rounding differences into seed-spread changes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")

# Runs a notebook's code cells in order in one namespace (as a kernel would), each cell's stdout
# captured; writes {cell id: stdout} as JSON to argv[2].
RUNNER = """
import contextlib, io, json, sys
cells = json.load(open(sys.argv[1]))["cells"]
namespace, printed = {"__name__": "__notebook__"}, {}
for cell in cells:
    if cell["cell_type"] != "code":
        continue
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile("".join(cell["source"]), f"{sys.argv[1]}[{cell['id']}]", "exec"), namespace)
    # display() outside Jupyter prints the object's repr: not a printed figure.
    lines = buffer.getvalue().splitlines(keepends=True)
    printed[cell["id"]] = "".join(ln for ln in lines if not ln.startswith("<IPython.core.display"))
json.dump(printed, open(sys.argv[2], "w"))
"""


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _stdout(cell: dict) -> str:
    return "".join(
        "".join(o["text"]) for o in cell["outputs"] if o["output_type"] == "stream" and o["name"] == "stdout"
    )


def _checked(path: Path) -> list[dict]:
    return [c for c in _cells(path) if c["cell_type"] == "code" and "check" in c["metadata"]]


def test_three_notebooks():
    assert len(NOTEBOOKS) >= 3, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_executed_with_png_figures(path):
    nb = json.loads(path.read_text())
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5)  # cell ids are part of the format
    ids = [c.get("id") for c in nb["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), ids
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code), "not executed (jupyter nbconvert --execute)"
    data = [o.get("data", {}) for c in code for o in c["outputs"]]
    assert any("image/png" in d for d in data), "no PNG figure"
    for d in data:  # a figure shown as its text repr (the Agg backend and display(fig)) is not a picture
        assert not ("image/png" not in d and "".join(d.get("text/plain", "")).startswith("<Figure size")), d
    assert not any(o["output_type"] == "error" for c in code for o in c["outputs"])
    for cell in _checked(path):
        assert NUMBER.search(_stdout(cell)), f"checked cell {cell['id']} printed no figure"


def _close(saved: str, fresh: str, rtol: float, atol: float) -> bool:
    if re.fullmatch(r"[-+]?\d+", saved) and re.fullmatch(r"[-+]?\d+", fresh):
        return saved == fresh
    return abs(float(fresh) - float(saved)) <= atol + rtol * abs(float(saved))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_rerun_gives_the_saved_figures(path, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # as the notebooks were executed
    out = tmp_path / "printed.json"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(path), str(out)],
        capture_output=True, text=True, cwd=path.parent, env=env, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    printed = json.loads(out.read_text())
    for cell in _checked(path):
        saved, fresh = _stdout(cell), printed[cell["id"]]
        rtol, atol = cell["metadata"]["check"]["rtol"], cell["metadata"]["check"]["atol"]
        if rtol == atol == 0:
            assert fresh == saved, (cell["id"], saved, fresh)
            continue
        a, b = NUMBER.findall(saved), NUMBER.findall(fresh)
        assert len(a) == len(b), (cell["id"], saved, fresh)
        bad = [(x, y) for x, y in zip(a, b, strict=True) if not _close(x, y, rtol, atol)]
        assert not bad, (cell["id"], bad, saved, fresh)
