"""What ``--help`` says about a config: every key with its default and a one-line meaning.

The meanings come from the config file's own comments (the comment on a key's line, or the comment
block right above it), then from the files it builds on (``load_sibling_config(__file__, ...)``),
then from :data:`GLOSSARY` for the keys that no file comments.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Iterator
from typing import Any

__all__ = ["GLOSSARY", "config_keys", "format_config_help", "key_comments"]

# Meanings of the keys the shipped configs set without a comment (shared by the tasks).
GLOSSARY: dict[str, str] = {
    "seed": "first seed; the runs use seed, seed + 1, ... (one per num_seeds)",
    "num_seeds": "runs per variant, each with its own seed",
    "progress": "progress bars and the job's run-by-run progress line on stderr (False: silent)",
    "data.name": "the dataset",
    "data.subjects_train": "training subjects",
    "data.subjects_test": "test subjects (empty: the dataset's standard split)",
    "data.train_fraction": "fraction of the training data used",
    "data.actions": "only these actions (empty: all)",
    "data.synthetic.seed": "seed of the built-in synthetic generator",
    "data.synthetic.min_frames": "shortest synthetic take, frames",
    "data.synthetic.max_frames": "longest synthetic take, frames",
    "data.future": "poses forecast after the observed frames",
    "data.augment.scale": "range of the random scale (low, high)",
    "data.augment.translation": "largest random translation (normalised coordinates)",
    "data.augment.vertical_axis": "index of the vertical coordinate (for vertical_rotation)",
    "data.num_cameras": "virtual cameras per motion (each gives its own 2D view)",
    "model.kind": "the nets to train",
    "model.dropout": "dropout rate",
    "model.causal": "causal convolutions (no future frames)",
    "model.kernel_size": "temporal kernel size",
    "model.num_layers": "stacked layers",
    "model.architecture": "the lifter's family",
    "model.heads": "attention heads",
    "model.width": "width of the net (channels, units or per-layer widths)",
    "model.frames": "input window of the transformer, frames (odd)",
    "model.tokens": "what a token is",
    "model.ffn_layers": "layers of each feed-forward block",
    "model.equal_params": "also train the chiral net at the baseline's parameter count",
    "model.baseline_activation": "activation of the baseline (dense) net",
    "model.baseline_without_augment": "also train the baseline without mirror augmentation",
    "model.activation": "activation of the chiral net",
    "model.negated_activation": "activation on the negated hidden spec",
    "model.hidden_specs": "hidden specs of the chiral net",
    "model.filter_widths": "temporal filter widths (their product: the receptive field)",
    "train.epochs": "training epochs",
    "train.batch_size": "training batch size",
    "train.lr": "learning rate",
    "train.lr_decay": "learning-rate decay factor",
    "train.lr_decay_steps": "steps per lr_decay factor",
    "train.momentum": "SGD momentum",
    "train.weight_decay": "weight decay",
    "train.warmup_steps": "linear warm-up steps to the peak learning rate",
    "eval.average_last": "evaluate the average of the last this many epoch checkpoints",
    "eval.flip_average": "baselines: also report test-time flip averaging",
    "eval.batch_size": "evaluation batch size",
}

_LOADS = re.compile(r"load_(?:sibling_config|config_file)\(\s*__file__\s*,\s*[\"']([^\"']+)[\"']")


def _comments(source: str) -> tuple[dict[int, str], dict[int, str]]:
    """``(trailing, blocks)``: the comment at the end of a code line, by line; comment-only lines."""
    trailing: dict[int, str] = {}
    alone: dict[int, str] = {}
    code_lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string.lstrip("#").strip()
            (trailing if tok.start[0] in code_lines else alone)[tok.start[0]] = text
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_lines.update(range(tok.start[0], tok.end[0] + 1))
    return trailing, alone


def _path(node: ast.expr) -> list[str] | None:
    """``c.a.b`` -> ["a", "b"] (the root name dropped); None for other targets."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return parts[::-1] if isinstance(node, ast.Name) and parts else None


def _assignments(tree: ast.AST) -> Iterator[tuple[str, int, bool]]:
    """``(dotted key, line, own line)`` of each ``c.x.y = ...`` and of the string keys of a dict it
    is set to (``own line``: False for a dict key on the line of its assignment)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        path = _path(node.targets[0])
        if path is None:
            continue
        key = ".".join(path)
        yield key, node.lineno, True
        value = node.value
        if isinstance(value, ast.Call) and value.args:
            value = value.args[0]  # ml_collections.ConfigDict({...})
        if isinstance(value, ast.Dict):
            for k in value.keys:
                if isinstance(k, ast.Constant) and isinstance(k.value, str):
                    yield f"{key}.{k.value}", k.lineno, k.lineno != node.lineno


def _one_line(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width - 1)
    return text[: cut if cut > 0 else width - 1].rstrip(" ,;:(") + "…"


def _file_comments(path: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(own, block)`` comments per key of one config file: the comment on a key's line; the
    comment block right above it (which also covers the keys on the next lines that share its
    section and first name part, e.g. ``checkpoint_every_seconds`` and ``checkpoint_every_steps``)."""
    with open(path) as f:
        source = f.read()
    trailing, alone = _comments(source)
    own: dict[str, str] = {}
    block: dict[str, str] = {}
    last: tuple[int, str, str] | None = None  # (line, key, block) of the latest block's key
    for key, line, own_line in sorted(_assignments(ast.parse(source)), key=lambda kv: kv[1]):
        if line in trailing:
            own.setdefault(key, trailing[line])
        if not own_line:
            continue
        above, k = [], line - 1
        while k in alone:
            above.append(alone[k])
            k -= 1
        if above:
            text = " ".join(reversed(above))
            block.setdefault(key, text)
            last = (line, key, text)
        elif last is not None and line == last[0] + 1 and _same_family(key, last[1]):
            if key not in own:
                block.setdefault(key, last[2])
            last = (line, key, last[2])
        else:
            last = None
    return own, block


def _same_family(a: str, b: str) -> bool:
    (pa, _, na), (pb, _, nb) = a.rpartition("."), b.rpartition(".")
    return pa == pb and na.split("_")[0] == nb.split("_")[0]


def _is_annotation(comment: str) -> bool:
    """A comment that remarks on a value rather than saying what the key is ("27 frames", "Adam",
    "the seed: 4000"): shown after the glossary's meaning."""
    words = [w for w in comment.split() if w != "|"]
    return len(words) <= 5 or "the seed:" in comment


def key_comments(config_file: str) -> dict[str, str]:
    """One-line meaning per dotted key from ``config_file`` and the files it builds on (a key's own
    comment first, then a short comment block above it, the glossary, a long block)."""
    files, queue = [], [os.path.abspath(config_file)]
    while queue:  # the file, then the sibling configs it loads
        path = queue.pop(0)
        if path in files or not os.path.exists(path):
            continue
        files.append(path)
        with open(path) as f:
            queue += [os.path.join(os.path.dirname(path), name) for name in _LOADS.findall(f.read())]
    own: dict[str, str] = {}
    short: dict[str, str] = {}
    long: dict[str, str] = {}
    for path in files:
        o, b = _file_comments(path)
        for k, v in o.items():
            own.setdefault(k, v)
        for k, v in b.items():
            (short if len(v) <= 200 else long).setdefault(k, v)
    out = {}
    for key in {*own, *short, *long, *GLOSSARY}:
        if key in own and key in GLOSSARY and _is_annotation(own[key]):
            text = f"{GLOSSARY[key]} ({own[key]})"
        else:
            text = own.get(key) or short.get(key) or GLOSSARY.get(key) or long.get(key, "")
        out[key] = _one_line(text)
    return out


def config_keys(config: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` of every leaf of a ConfigDict, in the config's order."""
    import ml_collections

    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, ml_collections.ConfigDict) and len(v):
            yield from config_keys(v, key + ".")
        else:
            yield key, v


def format_config_help(config: Any, config_file: str, *, default_width: int = 28) -> str:
    """The config section of ``--help``: ``KEY = DEFAULT  meaning`` per leaf key, aligned."""
    meanings = key_comments(config_file)
    # Top-level keys first, then the sections.
    rows = sorted(((k, repr(v)) for k, v in config_keys(config)), key=lambda kv: ("." in kv[0], kv[0]))
    if not rows:
        return "  (no keys)"
    kw = max(len(k) for k, _ in rows)
    lines = []
    for key, value in rows:
        value = value if len(value) <= default_width else value[: default_width - 1] + "…"
        meaning = meanings.get(key, "")
        lines.append(f"  {key:<{kw}} = {value:<{default_width}} {meaning}".rstrip())
    return "\n".join(lines)
