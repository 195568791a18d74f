"""Transformer lifters, chiral vs plain: parameters, training and inference throughput, XLA's planned
memory per training step.

    python benchmarks/transformer_throughput.py [--width 512 --layers 6 --heads 8 --frames 9]
        [--batch 64] [--tokens joint] [--repeats 5] [--json out.json]
    python benchmarks/transformer_throughput.py --quick     # tiny sizes, a smoke test

Training: the real :meth:`chiral_jax.train.Trainer.step` (Adam, dropout 0.1, token-subset
augmentation's keep mask); inference: one jitted eval-mode forward pass of the batch. Timings are
interleaved and reported as medians (:func:`chiral_jax.benchmarking.chiral_vs_baseline`; "baseline"
in the JSON is the plain lifter); the memory is ``memory_analysis()`` of the compiled training step
(arguments + outputs - donated + temporaries).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.benchmarking import (
    BenchmarkParser,
    chiral_vs_baseline,
    copy_model,
    eval_apply,
    inference_calls,
    mib,
    report,
    table,
    train_call,
)
from chiral_jax.models import ChiralTransformerLifter, TransformerLifter
from chiral_jax.tasks.runner import num_params
from chiral_jax.tasks.transformer_lifting import draw_keep
from chiral_jax.train import Trainer

KINDS = {"chiral": "chiral", "baseline": "plain"}  # kind -> the table's name
GROUPS = (("train_chiral", "train_baseline"), ("infer_chiral", "infer_baseline"))
RATIOS = {
    "train_speedup": ("train_chiral", "train_baseline"),
    "infer_speedup": ("infer_chiral", "infer_baseline"),
}


def make_models(args: argparse.Namespace, skeleton: skeletons.Skeleton) -> dict[str, nnx.Module]:
    kw = dict(
        frames=args.frames,
        layers=args.layers,
        heads=args.heads,
        width=args.width,
        ffn_layers=args.ffn_layers,
        dropout=0.1,
        tokens=args.tokens,
    )
    j = skeleton.num_joints
    return {
        "chiral": ChiralTransformerLifter(skeleton.spec(2), skeleton.spec(3), rngs=nnx.Rngs(0), **kw),
        "baseline": TransformerLifter(j * 2, j * 3, rngs=nnx.Rngs(0), **kw),
    }


def _loss(model: nnx.Module, batch: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
    err = jnp.mean(jnp.square(model(batch["inputs"], keep=batch["keep"]) - batch["targets"]))
    return err, {}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    sk = skeletons.H36M
    rng = np.random.default_rng(args.seed)
    models = make_models(args, sk)
    n_src = models["chiral"].num_source
    batch = {
        "inputs": rng.standard_normal((args.batch, args.frames, sk.num_joints * 2)).astype(np.float32),
        "targets": rng.standard_normal((args.batch, sk.num_joints * 3)).astype(np.float32),
        "keep": draw_keep(rng, args.batch, n_src, 0.2),
    }
    calls, params, applies, trainers = {}, {}, {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, model in models.items():
            params[kind] = num_params(model)
            tr = Trainer(
                model,
                optax.adam(1e-4),
                _loss,
                workdir=os.path.join(tmp, kind),
                bn_momentum=None,
                progress=False,
            )
            trainers.append(tr)
            calls[f"train_{kind}"] = train_call(tr, batch, args.batch)
            applies[kind] = eval_apply(copy_model(tr.model))  # the training step donates its buffers
        calls.update(inference_calls(applies, jnp.asarray(batch["inputs"]), args.batch, None, None, flip=()))
        measured = chiral_vs_baseline(
            calls,
            params,
            repeats=args.repeats,
            per_s_key="windows_per_s",
            groups=GROUPS,
            ratios=RATIOS,
            close=trainers,
            memory=True,
        )
    return {"config": vars(args), **measured}


def format_table(out: dict[str, Any]) -> list[str]:
    a, w = out["config"], out["windows_per_s"]
    lines = [
        f"Transformer lifters, {a['layers']} layers, width {a['width']}, {a['heads']} heads, "
        f"{a['frames']} frames ({a['tokens']} tokens), batch {a['batch']}, median of {a['repeats']}",
        "",
    ]
    lines += table(
        ("model", "params", "train windows/s", "infer windows/s", "XLA planned memory per train step (MiB)"),
        [
            (
                name,
                f"{out['params'][kind]:,}",
                f"{w[f'train_{kind}']:.1f}",
                f"{w[f'infer_{kind}']:.1f}",
                mib(out["memory"][f"train_{kind}"].get("footprint")),
            )
            for kind, name in KINDS.items()
        ],
    )
    lines += [
        "",
        f"chiral / plain: params x{out['param_ratio']:.3f}, training x{out['ratios']['train_speedup']:.2f} "
        f"faster, inference x{out['ratios']['infer_speedup']:.2f} faster",
    ]
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = BenchmarkParser(__doc__, repeats=(5, 2))
    p.size("--width", full=512, quick=32)
    p.size("--layers", full=6, quick=1)
    p.size("--heads", full=8, quick=2)
    p.size("--ffn_layers", full=3, quick=2)
    p.size("--frames", full=9, quick=3)
    p.add_argument("--tokens", default="joint", choices=("joint", "frame"))
    p.size("--batch", full=64, quick=8)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out = measure(args)
    report(format_table(out), args.json, **out)
    return out


if __name__ == "__main__":
    main()
