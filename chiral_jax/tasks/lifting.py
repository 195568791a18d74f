"""2D -> 3D pose lifting end to end: data by name, model variants, training, evaluation with TTA.

``train_and_evaluate(config, workdir)`` is what ``experiments/lift3d.py`` runs. For every variant
(chiral at equal width / equal parameters, per hidden-spec choice; the dense baseline with and
without mirror augmentation) and every seed it trains the strided model with the shared
:class:`~chiral_jax.train.Trainer` in ``workdir/<variant>/seed<k>``, evaluates the dilated model on
whole test sequences (MPJPE, P-MPJPE, N-MPJPE, MPJVE, per action; the baseline also with test-time
flip averaging) and writes ``workdir/results.json``, ``workdir/results.md`` and plots.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from chiral_jax import metrics, skeletons
from chiral_jax.data import (
    MirrorAugment,
    PoseSequence,
    PoseWindows,
    by_actions,
    by_fraction,
    by_subjects,
    load_cmu_mocap,
    load_h36m_npz,
    load_humaneva_npz,
    load_synthetic,
)
from chiral_jax.models import ChiralTemporalModel, TemporalModel
from chiral_jax.spec import ChiralSpec
from chiral_jax.train import Trainer, amsgrad_torch, exponential_decay_per_step

__all__ = [
    "Variant",
    "evaluate",
    "load_data",
    "make_model",
    "parse_sweep_entry",
    "predict",
    "run_sweep",
    "train_and_evaluate",
    "variants",
]

Array = jax.Array

_SKELETON = {"synthetic": skeletons.H36M, "cmu_mocap": skeletons.H36M, "h36m": skeletons.H36M}
_SKELETON["humaneva"] = skeletons.HUMANEVA15


# ---------------------------------------------------------------------------------- data


def load_data(
    data: ml_collections.ConfigDict,
) -> tuple[list[PoseSequence], list[PoseSequence], skeletons.Skeleton]:
    """Train and test sequences for ``data.name`` and the skeleton they use.

    Keys: ``name`` (synthetic | cmu_mocap | h36m | humaneva), ``manual_dir``, ``keypoints``,
    ``subjects_train`` / ``subjects_test`` (empty: the dataset's standard split),
    ``train_fraction`` (of each training take's frames, deterministic), ``actions`` (optional).
    """
    name = data.name
    if name == "synthetic":
        splits = load_synthetic(**dict(data.get("synthetic", {})))
    elif name == "cmu_mocap":
        splits = load_cmu_mocap(_manual_dir(data, "the CMU subject folders (02/, 03/)"))
    elif name == "h36m":
        splits = load_h36m_npz(_manual_dir(data, "data_3d_h36m.npz"), data.keypoints)
    elif name == "humaneva":
        splits = load_humaneva_npz(_manual_dir(data, "data_3d_humaneva15.npz"), data.keypoints)
    else:
        raise ValueError(f"data.name must be synthetic, cmu_mocap, h36m or humaneva, got {name!r}")
    every = splits["train"] + splits["test"]
    train = by_subjects(every, data.subjects_train) if data.subjects_train else splits["train"]
    test = by_subjects(every, data.subjects_test) if data.subjects_test else splits["test"]
    if data.get("actions"):
        train, test = by_actions(train, data.actions), by_actions(test, data.actions)
    if data.train_fraction < 1.0:
        train = by_fraction(train, data.train_fraction, seed=0)
    if not train or not test:
        raise ValueError(
            f"{name}: empty split after filtering (train {len(train)}, test {len(test)} sequences); "
            f"check data.subjects_train={tuple(data.subjects_train)}, "
            f"data.subjects_test={tuple(data.subjects_test)}, data.train_fraction={data.train_fraction}"
        )
    return train, test, _SKELETON[name]


def _manual_dir(data: ml_collections.ConfigDict, what: str) -> str:
    if not data.manual_dir:
        raise ValueError(
            f"data.name={data.name} reads the user's files: set --config.data.manual_dir to the "
            f"folder with {what}"
        )
    return data.manual_dir


# ---------------------------------------------------------------------------------- models


@dataclasses.dataclass(frozen=True)
class Variant:
    """One trained configuration.

    Attributes:
      name: directory and table name, e.g. ``chiral_relu_w256`` or ``baseline_aug``.
      kind: ``"chiral"`` or ``"baseline"``.
      channels: hidden width.
      hidden: chiral hidden spec: ``"plain"`` (negation-free, any activation) or ``"negated"``.
      activation: hidden activation.
      augment: mirror augmentation while training (baseline only; a chiral net's loss is
        mirror-invariant, so augmentation changes nothing but dropout draws).
      matched: ``"width"`` or ``"params"`` (chiral width x sqrt2: the baseline's parameters).
    """

    name: str
    kind: str
    channels: int
    hidden: str = "plain"
    activation: str = "relu"
    augment: bool = False
    matched: str = "width"


def variants(model: ml_collections.ConfigDict, augment: bool) -> list[Variant]:
    """The variants ``model.kind`` asks for (chiral | baseline | both)."""
    kinds = {"both": ("chiral", "baseline"), "chiral": ("chiral",), "baseline": ("baseline",)}
    if model.kind not in kinds:
        raise ValueError(f"model.kind must be chiral, baseline or both, got {model.kind!r}")
    out: list[Variant] = []
    c = model.channels
    for kind in kinds[model.kind]:
        if kind == "baseline":
            augments = (True, False) if model.get("baseline_without_augment", False) else (augment,)
            for aug in augments:
                name = f"baseline_{'aug' if aug else 'noaug'}_w{c}"
                out.append(Variant(name, "baseline", c, activation=model.baseline_activation, augment=aug))
            continue
        for hidden in model.hidden_specs:
            act = model.activation if hidden == "plain" else model.negated_activation
            widths = [("width", c)]
            if model.get("equal_params", True):
                widths.append(("params", 2 * round(c * math.sqrt(2) / 2)))
            for matched, w in widths:
                out.append(Variant(f"chiral_{hidden}_{act}_w{w}", "chiral", w, hidden, act, matched=matched))
    return out


def make_model(
    variant: Variant,
    skeleton: skeletons.Skeleton,
    *,
    filter_widths: Sequence[int],
    dropout: float,
    causal: bool = False,
    seed: int = 0,
) -> nnx.Module:
    """The strided training net of a variant (``model(x, strided=False)`` is the evaluation net)."""
    rngs = nnx.Rngs(seed)
    kwargs = dict(filter_widths=filter_widths, dropout=dropout, causal=causal, strided=True, rngs=rngs)
    if variant.kind == "baseline":
        j = skeleton.num_joints
        return TemporalModel(j * 2, j * 3, channels=variant.channels, activation=variant.activation, **kwargs)
    hidden = ChiralSpec.hidden(variant.channels, negated=variant.hidden == "negated")
    return ChiralTemporalModel(
        skeleton.spec(2), skeleton.spec(3), channels=hidden, activation=variant.activation, **kwargs
    )


def num_params(model: nnx.Module) -> int:
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))


# ---------------------------------------------------------------------------------- evaluation


def _chunks(num_frames: int, chunk: int) -> list[int]:
    """Start frames of fixed-length chunks covering ``num_frames`` (the last one moved back)."""
    starts = list(range(0, max(num_frames - chunk, 0) + 1, chunk))
    if starts[-1] + chunk < num_frames:
        starts.append(num_frames - chunk)
    return starts


def predict(
    apply: Callable[[Array], Array],
    windows: PoseWindows,
    *,
    chunk: int = 64,
    batch_size: int = 64,
) -> tuple[list[np.ndarray], float]:
    """Runs ``apply`` (the dilated net, (B, chunk + R - 1, Cin) -> (B, chunk, Cout)) over every
    test sequence in fixed-size chunks (one compilation); returns per-sequence predictions
    ``(T_i, Cout)`` and the frames per second of the prediction pass (after a warm-up)."""
    r = windows.receptive_field
    pieces: list[np.ndarray] = []
    index: list[tuple[int, int]] = []  # (sequence, start frame)
    lengths = []
    for i, seq in enumerate(windows.sequences()):
        x = seq["inputs"][0]  # (T + R - 1, Cin), edge-padded
        t = x.shape[0] - r + 1
        lengths.append(t)
        if t < chunk:  # pad short sequences at the end; the extra outputs are dropped
            x = np.concatenate([x, np.repeat(x[-1:], chunk - t, axis=0)])
        for s in _chunks(max(t, chunk), chunk):
            pieces.append(x[s : s + chunk + r - 1])
            index.append((i, s))
    inputs = np.stack(pieces)
    pad = (-len(inputs)) % batch_size
    inputs = np.concatenate([inputs, np.zeros((pad, *inputs.shape[1:]), inputs.dtype)])
    jitted = jax.jit(apply)
    jax.block_until_ready(jitted(inputs[:batch_size]))  # compile outside the timing
    t0 = time.perf_counter()
    outs = [np.asarray(jitted(inputs[b : b + batch_size])) for b in range(0, len(inputs), batch_size)]
    seconds = time.perf_counter() - t0
    out = np.concatenate(outs)
    preds = [np.zeros((max(t, chunk), out.shape[-1]), np.float32) for t in lengths]
    for (i, s), o in zip(index, out, strict=False):
        preds[i][s : s + chunk] = o
    frames = sum(lengths)
    return [p[:t] for p, t in zip(preds, lengths, strict=True)], frames / seconds


def evaluate(
    model: nnx.Module,
    test: Sequence[PoseSequence],
    skeleton: skeletons.Skeleton,
    *,
    receptive_field: int,
    flip_average: bool = False,
    causal: bool = False,
    chunk: int = 64,
) -> dict[str, Any]:
    """Protocol metrics of the dilated net on whole test sequences (in millimetres).

    ``flip_average``: test-time augmentation, the average of ``F(x)`` and ``T_out F(T_in x)``.
    """
    model.eval()
    graphdef, state = nnx.split(model)
    spec_in, spec_out = skeleton.spec(2), skeleton.spec(3)

    def apply(x: Array) -> Array:
        net = nnx.merge(graphdef, state, copy=True)
        y = net(x, strided=False)
        if flip_average:
            y = 0.5 * (y + spec_out.transform(net(spec_in.transform(x), strided=False)))
        return y

    windows = PoseWindows.from_sequences(
        test, receptive_field=receptive_field, causal=causal, flatten=True, with_intrinsics=False
    )
    preds, fps = predict(apply, windows, chunk=chunk)
    j = skeleton.num_joints
    per_seq = [(p.reshape(-1, j, 3), s.pose_3d) for p, s in zip(preds, test, strict=True)]
    pred_all = np.concatenate([p for p, _ in per_seq])
    true_all = np.concatenate([t for _, t in per_seq])
    frame_errors = [metrics.per_joint_errors(p, t).mean(axis=-1) * 1000 for p, t in per_seq]
    return {
        "mpjpe_mm": 1000 * metrics.mpjpe(pred_all, true_all),
        "p_mpjpe_mm": 1000 * metrics.p_mpjpe(pred_all, true_all),
        "n_mpjpe_mm": 1000 * metrics.n_mpjpe(pred_all, true_all),
        "mpjve_mm": 1000
        * float(
            np.average(
                [metrics.mpjve(p, t, axis=0) for p, t in per_seq], weights=[len(t) - 1 for _, t in per_seq]
            )
        ),
        "per_action": metrics.aggregate_by_action(frame_errors, [s.action for s in test]),
        "eval_frames_per_second": fps,
    }


# ---------------------------------------------------------------------------------- training


def _loss_fn(num_joints: int) -> Callable[[nnx.Module, dict[str, Array]], tuple[Array, dict[str, Array]]]:
    def loss_fn(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
        pred = model(batch["inputs"], strided=True)
        shape = (*pred.shape[:-1], num_joints, 3)
        err = jnp.mean(jnp.linalg.norm(pred.reshape(shape) - batch["targets"].reshape(shape), axis=-1))
        return err, {"mpjpe_mm": 1000 * err}

    return loss_fn


def train_variant(
    variant: Variant,
    seed: int,
    config: ml_collections.ConfigDict,
    train: Sequence[PoseSequence],
    test: Sequence[PoseSequence],
    skeleton: skeletons.Skeleton,
    workdir: str,
) -> dict[str, Any]:
    """Trains one variant and seed in ``workdir`` (resuming if checkpoints exist); evaluates it."""
    widths = tuple(config.model.filter_widths)
    r = math.prod(widths)
    model = make_model(
        variant,
        skeleton,
        filter_widths=widths,
        dropout=config.model.dropout,
        causal=config.model.causal,
        seed=seed,
    )
    windows = PoseWindows.from_sequences(
        train, receptive_field=r, causal=config.model.causal, flatten=True, with_intrinsics=False
    )
    bs = config.train.batch_size
    steps = windows.num_batches(bs, drop_remainder=True)
    if steps == 0:
        raise ValueError(f"{len(windows)} training windows: fewer than one batch of {bs}")
    augment = MirrorAugment(0.5, skeleton_in=skeleton, skeleton_out=skeleton) if variant.augment else None

    def batches(epoch: int):
        for b in windows.batches(bs, seed=seed, epoch=epoch, drop_remainder=True, augment=augment):
            yield {"inputs": b["inputs"], "targets": b["targets"]}

    lr = exponential_decay_per_step(config.train.lr, config.train.lr_decay, config.train.lr_decay_steps)
    trainer = Trainer(
        model,
        amsgrad_torch(lr),
        _loss_fn(skeleton.num_joints),
        workdir=workdir,
        best_metric="train_loss",
        progress=config.get("progress", True),
    )
    t0 = time.perf_counter()
    trainer.fit(batches, epochs=config.train.epochs, steps_per_epoch=steps)
    train_seconds = time.perf_counter() - t0
    model = trainer.model
    result: dict[str, Any] = {
        "name": variant.name,
        "kind": variant.kind,
        "hidden": variant.hidden if variant.kind == "chiral" else "dense",
        "activation": variant.activation,
        "channels": variant.channels,
        "matched": variant.matched,
        "augment": variant.augment,
        "seed": seed,
        "params": num_params(model),
        "train_seconds": train_seconds,  # wall time of this call: compilation, checkpoints, data included
        "final_train_mpjpe_mm": trainer_history_last(workdir),
    }
    kwargs = dict(receptive_field=r, causal=config.model.causal)
    result.update(evaluate(model, test, skeleton, **kwargs))
    if variant.kind == "baseline" and config.eval.test_time_augmentation:
        result["tta"] = evaluate(model, test, skeleton, flip_average=True, **kwargs)
    with open(os.path.join(workdir, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def trainer_history_last(workdir: str) -> float | None:
    from chiral_jax.train import read_metrics

    rows = read_metrics(workdir)
    return rows[-1].get("train_mpjpe_mm") if rows else None


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Runs every variant x seed of ``config``; writes results.json / results.md / plots in ``workdir``."""
    os.makedirs(workdir, exist_ok=True)
    train, test, skeleton = load_data(config.data)
    seeds = [config.seed + k for k in range(config.num_seeds)]
    runs = []
    for variant in variants(config.model, config.train.augment):
        for seed in seeds:
            run_dir = os.path.join(workdir, variant.name, f"seed{seed}")
            runs.append(train_variant(variant, seed, config, train, test, skeleton, run_dir))
    results = {
        "config": config.to_dict(),
        "data": {
            "name": config.data.name,
            "train_frames": sum(len(s.pose_3d) for s in train),
            "test_frames": sum(len(s.pose_3d) for s in test),
        },
        "machine": machine_description(),
        "models": runs,
        "summary": summarize(runs),
    }
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=float)
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(results_table(results))
    return results


def machine_description() -> str:
    import platform

    dev = jax.devices()[0]
    return (
        f"{platform.machine()} {os.cpu_count()} cores, {len(jax.devices())}x {dev.platform}:"
        f"{dev.device_kind}, jax {jax.__version__}"
    )


_SUMMARY_KEYS = (
    "mpjpe_mm",
    "p_mpjpe_mm",
    "n_mpjpe_mm",
    "mpjve_mm",
    "eval_frames_per_second",
    "train_seconds",
)


def summarize(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds per variant (and per TTA setting)."""
    rows = []
    names = list(dict.fromkeys(r["name"] for r in runs))
    for name in names:
        group = [r for r in runs if r["name"] == name]
        for tta in (False, True):
            if tta and "tta" not in group[0]:
                continue
            src = [r["tta"] if tta else r for r in group]
            row = {
                "name": name + (" + TTA" if tta else ""),
                "kind": group[0]["kind"],
                "params": group[0]["params"],
                "seeds": len(group),
            }
            for k in _SUMMARY_KEYS:
                vals = [s[k] for s in src if s.get(k) is not None]
                if not vals and tta:  # training time is the plain model's
                    vals = [r[k] for r in group if r.get(k) is not None]
                if vals:
                    row[k] = float(np.mean(vals))
                    row[k + "_std"] = float(np.std(vals))
            rows.append(row)
    return rows


def results_table(results: dict[str, Any]) -> str:
    lines = [
        f"# Lifting results: {results['data']['name']} ({results['data']['train_frames']} train / "
        f"{results['data']['test_frames']} test frames)",
        "",
        f"Machine: {results['machine']}",
        "",
        "| model | params | seeds | MPJPE (mm) | P-MPJPE (mm) | N-MPJPE (mm) | MPJVE (mm) "
        "| eval frames/s | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(r: dict[str, Any], k: str, fmt: str = ".1f") -> str:
        if k not in r:
            return "-"
        return f"{r[k]:{fmt}} ± {r[k + '_std']:{fmt}}" if r["seeds"] > 1 else f"{r[k]:{fmt}}"

    for r in results["summary"]:
        lines.append(
            f"| {r['name']} | {r['params']:,} | {r['seeds']} | {cell(r, 'mpjpe_mm')} | "
            f"{cell(r, 'p_mpjpe_mm')} | "
            f"{cell(r, 'n_mpjpe_mm')} | {cell(r, 'mpjve_mm')} | {cell(r, 'eval_frames_per_second', '.0f')} | "
            f"{cell(r, 'train_seconds', '.0f')} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- limited data


def parse_sweep_entry(entry: str) -> tuple[tuple[str, ...], float]:
    """``"S1:0.01"`` -> (("S1",), 0.01); ``"S1,S5,S6"`` -> (("S1", "S5", "S6"), 1.0)."""
    subjects, _, fraction = entry.partition(":")
    names = tuple(s.strip() for s in subjects.split(",") if s.strip())
    try:
        value = float(fraction) if fraction else 1.0
    except ValueError:
        raise ValueError(
            f"sweep entry {entry!r}: expected 'S1,S5:0.1' (subjects, optional fraction)"
        ) from None
    if not names or not 0.0 < value <= 1.0:
        raise ValueError(f"sweep entry {entry!r}: expected subjects and a fraction in (0, 1]")
    return names, value


def run_sweep(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """The limited-data study: one :func:`train_and_evaluate` per ``config.sweep`` entry (training
    subjects and fraction) in ``workdir/<entry>``; writes ``sweep.json``, ``sweep.md`` and
    ``sweep.png`` (test MPJPE against training frames, chiral vs baseline)."""
    points = []
    for entry in config.sweep:
        subjects, fraction = parse_sweep_entry(entry)
        sub = ml_collections.ConfigDict(config.to_dict())
        sub.sweep = ()
        sub.data.subjects_train = subjects
        sub.data.train_fraction = fraction
        name = "+".join(subjects) + f"_{fraction:g}"
        results = train_and_evaluate(sub, os.path.join(workdir, name))
        for row in results["summary"]:
            points.append({"entry": entry, "train_frames": results["data"]["train_frames"], **row})
    out = {"machine": machine_description(), "points": points}
    with open(os.path.join(workdir, "sweep.json"), "w") as f:
        json.dump(out, f, indent=1)
    lines = ["| training data | frames | model | MPJPE (mm) | P-MPJPE (mm) |", "|---|---|---|---|---|"]
    for p in points:
        std = f" ± {p['mpjpe_mm_std']:.1f}" if p["seeds"] > 1 else ""
        lines.append(
            f"| {p['entry']} | {p['train_frames']} | {p['name']} | {p['mpjpe_mm']:.1f}{std} | "
            f"{p['p_mpjpe_mm']:.1f} |"
        )
    with open(os.path.join(workdir, "sweep.md"), "w") as f:
        f.write(f"Machine: {out['machine']}\n\n" + "\n".join(lines) + "\n")
    _plot_sweep(points, os.path.join(workdir, "sweep.png"))
    return out


def _plot_sweep(points: Sequence[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(p["name"] for p in points):
        rows = sorted((p for p in points if p["name"] == name), key=lambda p: p["train_frames"])
        x = [p["train_frames"] for p in rows]
        y = np.array([p["mpjpe_mm"] for p in rows])
        err = np.array([p.get("mpjpe_mm_std", 0.0) for p in rows])
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("training frames")
    ax.set_ylabel("test MPJPE (mm)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
