"""Transformer lifters, chiral vs plain: parameters, training and inference throughput, XLA's planned
memory per training step.

    python benchmarks/transformer_throughput.py [--width 512 --layers 6 --heads 8 --frames 9]
        [--batch 64] [--tokens joint] [--repeats 5] [--json out.json]

Training: the real :meth:`chiral_jax.train.Trainer.step` (Adam, dropout 0.1, token-subset
augmentation's keep mask); inference: one jitted eval-mode forward pass of the batch. Timings are
interleaved (:func:`chiral_jax.benchmarking.time_interleaved`) and reported as medians; the memory is
``memory_analysis()`` of the compiled training step (arguments + outputs - donated + temporaries).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.benchmarking import machine_info, time_interleaved
from chiral_jax.models import ChiralTransformerLifter, TransformerLifter
from chiral_jax.tasks.runner import num_params
from chiral_jax.tasks.transformer_lifting import draw_keep
from chiral_jax.train import Trainer


def _memory_stats(compiled: Any) -> dict[str, int]:
    """``memory_stats`` of the lifting throughput benchmark (one definition, loaded from its script)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lift3d_throughput.py")
    spec = importlib.util.spec_from_file_location("chiral_benchmarks_lift3d_throughput_mem", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.memory_stats(compiled)


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
        "plain": TransformerLifter(j * 2, j * 3, rngs=nnx.Rngs(0), **kw),
    }


def _loss(model: nnx.Module, batch: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
    err = jnp.mean(jnp.square(model(batch["inputs"], keep=batch["keep"]) - batch["targets"]))
    return err, {}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    sk = skeletons.H36M
    rng = np.random.default_rng(0)
    models = make_models(args, sk)
    n_src = models["chiral"].num_source
    batch = {
        "inputs": rng.standard_normal((args.batch, args.frames, sk.num_joints * 2)).astype(np.float32),
        "targets": rng.standard_normal((args.batch, sk.num_joints * 3)).astype(np.float32),
        "keep": draw_keep(rng, args.batch, n_src, 0.2),
    }
    x = jnp.asarray(batch["inputs"])
    calls, rows = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for name, model in models.items():
            params = num_params(model)
            tr = Trainer(
                model,
                optax.adam(1e-4),
                _loss,
                workdir=os.path.join(tmp, name),
                bn_momentum=None,
                progress=False,
            )
            trainers[name] = tr
            mem = _memory_stats(tr.compile_step(batch))
            infer_model = tr.model
            infer_model.eval()
            graphdef, state = nnx.split(infer_model)
            state = jax.tree.map(jnp.copy, state)  # the training step donates the trainer's buffers
            forward = jax.jit(lambda s, x, g=graphdef: nnx.merge(g, s, copy=True)(x))
            calls[f"{name}_train"] = lambda tr=tr: tr.step(batch)["loss"]
            calls[f"{name}_infer"] = lambda f=forward, s=state: f(s, x)
            rows[name] = {"params": params, "memory": mem}
        t = time_interleaved(
            calls,
            repeats=args.repeats,
            groups=[["chiral_train", "plain_train"], ["chiral_infer", "plain_infer"]],
        )
        for tr in trainers.values():
            tr.close()
    for name in models:
        rows[name]["train_windows_per_s"] = args.batch / t.median(f"{name}_train")
        rows[name]["infer_windows_per_s"] = args.batch / t.median(f"{name}_infer")
    return {
        "config": vars(args),
        "machine": machine_info(),
        "rows": rows,
        "train_speedup": t.ratio("chiral_train", "plain_train"),
        "infer_speedup": t.ratio("chiral_infer", "plain_infer"),
    }


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"


def format_table(out: dict[str, Any]) -> str:
    a = out["config"]
    r = out["rows"]
    head = (
        f"Transformer lifters, {a['layers']} layers, width {a['width']}, {a['heads']} heads, "
        f"{a['frames']} frames ({a['tokens']} tokens), batch {a['batch']}, median of {a['repeats']}"
    )
    lines = [
        head,
        "",
        "| model | params | train windows/s | infer windows/s | XLA planned memory per train step (MiB) |",
        "|---|---|---|---|---|",
    ]
    for name in ("chiral", "plain"):
        m = r[name]
        lines.append(
            f"| {name} | {m['params']:,} | {m['train_windows_per_s']:.1f} | {m['infer_windows_per_s']:.1f} | "
            f"{_mib(m['memory'].get('footprint'))} |"
        )
    lines.append("")
    lines.append(
        f"chiral / plain: params x{r['chiral']['params'] / r['plain']['params']:.3f}, training "
        f"x{out['train_speedup']:.2f} faster, inference x{out['infer_speedup']:.2f} faster"
    )
    info = out["machine"]
    lines.append(
        f"Machine: {info['cpu']}, {info['cpu_count']} cores, jax {info['jax']}, load {info['load_average']}"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--ffn_layers", type=int, default=3)
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--tokens", default="joint", choices=("joint", "frame"))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default="")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out = measure(args)
    print(format_table(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
    return out


if __name__ == "__main__":
    main()
