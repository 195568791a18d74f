"""Builds a chiral VideoPose3D lifter and its dense twin, checks equivariance, compares costs.

    python experiments/demo.py [--channels 1024] [--filter_widths 3,3,3]

Prints, for both nets: parameters, XLA FLOPs of one forward pass (compiled cost analysis) and the
largest violation of ``T_out(F(x)) = F(T_in(x))`` on random poses.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import skeletons, testing
from chiral_jax.benchmarking import xla_flops
from chiral_jax.models import ChiralTemporalModel, TemporalModel
from chiral_jax.tasks.cli import ArgumentParser


def num_params(module: nnx.Module) -> int:
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(module, nnx.Param)))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _widths(text: str) -> tuple[int, ...]:
    """``"3,3,3"`` -> (3, 3, 3): odd positive filter widths."""
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected odd integers like 3,3,3, got {text!r}") from None
    if not widths or any(w <= 0 or w % 2 == 0 for w in widths):
        raise argparse.ArgumentTypeError(f"expected odd positive integers like 3,3,3, got {text!r}")
    return widths


def main(argv: list[str] | None = None) -> dict:
    parser = ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--channels", type=_positive, default=1024, help="hidden width of both nets")
    parser.add_argument(
        "--filter_widths",
        type=_widths,
        default=(3, 3, 3),
        help="temporal filter widths, comma-separated (their product is the receptive field)",
    )
    parser.add_argument("--batch", type=_positive, default=8, help="random pose windows per check")
    args = parser.parse_args(argv)  # a bad flag or value: one usage line and an error, exit status 2
    widths = args.filter_widths
    in_spec, out_spec = skeletons.H36M.spec(2), skeletons.H36M.spec(3)

    chiral = ChiralTemporalModel(
        in_spec, out_spec, filter_widths=widths, channels=args.channels, rngs=nnx.Rngs(0)
    )
    dense = TemporalModel(
        in_spec.size, out_spec.size, filter_widths=widths, channels=args.channels, rngs=nnx.Rngs(0)
    )
    chiral.eval()
    dense.eval()
    frames = chiral.receptive_field
    x = jax.random.normal(jax.random.key(1), (args.batch, frames, in_spec.size), jnp.float32)

    testing.assert_equivariant(chiral, x, in_spec, out_spec)  # raises if not
    rows = {}
    for name, model in (("chiral", chiral), ("dense", dense)):
        fn = testing.as_function(model)
        rows[name] = {
            "params": num_params(model),
            "flops_forward": xla_flops(jax.jit(fn).lower(x).compile()),
            "max_equivariance_violation": testing.max_violation(jax.jit(fn), x, in_spec, out_spec),
        }
    print(f"VideoPose3D lifter, {frames}-frame receptive field, width {args.channels}, batch {args.batch}")
    print(f"{'net':8s} {'params':>12s} {'GFLOPs fwd':>12s} {'max |F(Tx) - T F(x)|':>22s}")
    for name, r in rows.items():
        print(
            f"{name:8s} {r['params']:12,d} {r['flops_forward'] / 1e9:12.3f} "
            f"{r['max_equivariance_violation']:22.3g}"
        )
    ratio = {k: rows["chiral"][k] / rows["dense"][k] for k in ("params", "flops_forward")}
    print(f"chiral / dense: params x{ratio['params']:.3f}, FLOPs x{ratio['flops_forward']:.3f}")
    print(json.dumps({"rows": rows, "ratio": ratio}))
    return rows


if __name__ == "__main__":
    main()
