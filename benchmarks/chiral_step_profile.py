"""Where the chiral training step loses against half the dense one: XLA cost analysis and per-op timing.

Two parts, both chiral (even/odd halves, the hidden spec ``ChiralSpec.hidden(W)``) against dense
(one W-channel array), at the lifting net's width (``--channels``, default 1024):

* **whole step**: XLA's cost analysis of the compiled :class:`chiral_jax.train.Trainer` step of the
  strided lifting nets (:func:`chiral_jax.tasks.lifting.make_model`, ``--batch`` windows of 27
  frames): FLOPs, bytes accessed and transcendentals, chiral / baseline. FLOPs halve in the
  matmuls; the elementwise work (batch norm, ReLU, dropout, residuals) runs on as many activations
  in both nets, so its bytes do not halve.
* **per op**: forward + backward (``jax.value_and_grad`` of a fixed random projection of the
  output, jitted) of each layer of a hidden block on ``(--rows, W)`` activations, chiral and dense
  timed interleaved (:func:`chiral_jax.benchmarking.time_interleaved`): the 3-tap strided conv
  (one matmul over 3W inputs), the pointwise conv, batch norm in training mode (statistics and
  normalization), ReLU, dropout (0.25) and the residual add. The table gives each op's time,
  chiral / dense, and its share of the block; dropout also as it was before the chiral-step
  work (:func:`reference_ops`), in the same interleaved group.
* **whole step by dropout bits**: Trainer steps of both nets (``--step_batch`` windows,
  ``--filter_widths``, default 27 frames) with the dropout masks drawn as bytes (the default, the
  reference), as split 32-bit words and as packed bit fields (``train.dropout_bits``), timed
  interleaved in one group.
* **the floor** (``--no_floor`` skips it): the same steps with dropout, then batch norm, then the
  activation removed (what is left: convs, residuals, loss, AMSGrad), chiral against baseline; and
  each hidden conv's matmul alone (forward + backward at the step's shapes, two half-size matmuls
  against one). The step ratio cannot go below what its matmuls reach on the machine.

Run::

    python benchmarks/chiral_step_profile.py                 # W=1024
    python benchmarks/chiral_step_profile.py --no_ops --filter_widths 3,3,3,3,3 --step_batch 128
    python benchmarks/chiral_step_profile.py --quick         # tiny sizes, a smoke test
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import functional as F
from chiral_jax import skeletons
from chiral_jax.basis import EvenOdd
from chiral_jax.benchmarking import (
    COST_KEYS,
    BenchmarkParser,
    cost_analysis,
    hlo_traffic,
    report,
    table,
    time_interleaved,
    traffic_table,
)
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import lifting
from chiral_jax.train import Trainer, amsgrad_torch

SKELETON = skeletons.H36M


def reference_ops(ref: bool) -> contextlib.AbstractContextManager[None]:
    """Dropout masks as before the chiral-step work (``ref``: one random word per byte, the library's
    default) or as the current cheapest opt-in draws (``functional.dropout_mask_bits("packed")``)."""
    return F.dropout_mask_bits("byte" if ref else "packed")


MASK_MODES = {"reference": "byte", "word": "word", "current": "packed"}


def step_costs(channels: int, batch: int, filter_widths: tuple[int, ...], workdir: str) -> dict[str, Any]:
    """XLA's cost analysis of the chiral and the baseline training step (one Trainer each)."""
    batch_np = _random_batch(batch, filter_widths)
    out = {}
    for kind in ("chiral", "baseline"):
        trainer = _trainer(_lifting_model(kind, channels, filter_widths, 0.25, "byte"), f"{workdir}/{kind}")
        try:
            compiled = trainer.compile_step(batch_np)
            out[kind] = cost_analysis(compiled)
            out[f"{kind}_traffic"] = hlo_traffic(compiled.as_text())
        finally:
            trainer.close()
    out["ratio"] = {k: out["chiral"][k] / out["baseline"][k] for k in COST_KEYS}
    return out


def _op_calls(rows: int, channels: int, seed: int = 0) -> dict[str, Callable[[], Any]]:
    """name -> jitted forward + backward call, for each op in its chiral and dense form."""
    spec = ChiralSpec.hidden(channels)
    ne, no = spec.num_even, spec.num_odd
    rng = np.random.default_rng(seed)

    def arr(*shape: int) -> jax.Array:
        return jnp.asarray(rng.standard_normal(shape), jnp.float32)

    x_d = arr(rows, channels)
    x_c = EvenOdd(arr(rows, ne), arr(rows, no))
    taps_d, taps_c = arr(rows, 3 * channels), EvenOdd(arr(rows, 3 * ne), arr(rows, 3 * no))
    w3_d, w3_c = arr(3 * channels, channels), {"even": arr(3 * ne, ne), "odd": arr(3 * no, no)}
    w1_d, w1_c = arr(channels, channels), {"even": arr(ne, ne), "odd": arr(no, no)}
    g_d, g_c = arr(rows, channels), EvenOdd(arr(rows, ne), arr(rows, no))
    scale_d, bias_d = arr(channels), arr(channels)
    scale_c, bias_c = arr(spec.num_orbits), arr(ne)
    key = jax.random.key(1)

    def dense_bn(x: jax.Array, s: jax.Array, b: jax.Array) -> jax.Array:
        mean = jnp.mean(x, axis=0)
        var = jnp.maximum(jnp.mean(jnp.square(x), axis=0) - jnp.square(mean), 0.0)
        return (x - mean[None]) * (jax.lax.rsqrt(var + 1e-5) * s)[None] + b[None]

    def chiral_bn(x: EvenOdd, s: jax.Array, b: jax.Array) -> EvenOdd:
        mean, var = F.batch_norm_statistics(x, spec)
        return F.batch_norm(x, mean, var, spec, s, b)

    ops: dict[str, tuple[Callable[..., Any], tuple[Any, ...], Callable[..., Any], tuple[Any, ...]]] = {
        "conv3": (lambda t, w: t @ w, (taps_d, w3_d), lambda t, w: _eo_matmul(t, w), (taps_c, w3_c)),
        "conv1": (lambda t, w: t @ w, (x_d, w1_d), lambda t, w: _eo_matmul(t, w), (x_c, w1_c)),
        "batch_norm": (dense_bn, (x_d, scale_d, bias_d), chiral_bn, (x_c, scale_c, bias_c)),
        "relu": (jax.nn.relu, (x_d,), lambda x: F.activation(x, "relu", spec, check=False), (x_c,)),
        "dropout": (lambda x: F.dropout(x, 0.25, key), (x_d,), lambda x: F.dropout(x, 0.25, key), (x_c,)),
        "residual": (lambda x: x + x_d, (x_d,), lambda x: jax.tree.map(jnp.add, x, x_c), (x_c,)),
    }
    calls: dict[str, Callable[[], Any]] = {}
    for name, (fd, ad, fc, ac) in ops.items():
        for kind, f, args, g in (("dense", fd, ad, g_d), ("chiral", fc, ac, g_c)):
            for ref in (False, True) if name in REFERENCE_OPS else (False,):
                loss = _projected(f, g)
                fn = jax.jit(jax.value_and_grad(loss, argnums=tuple(range(len(args)))))
                with reference_ops(ref):
                    jax.block_until_ready(fn(*args))  # traced (and compiled) here
                calls[f"{name}_{kind}{'_reference' if ref else ''}"] = lambda fn=fn, args=args: fn(*args)
    return calls


def _eo_matmul(t: EvenOdd, w: dict[str, jax.Array]) -> EvenOdd:
    return EvenOdd(t.even @ w["even"], t.odd @ w["odd"])


def _projected(f: Callable[..., Any], g: Any) -> Callable[..., jax.Array]:
    def loss(*args: Any) -> jax.Array:
        y = f(*args)
        return sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(y), jax.tree.leaves(g), strict=True))

    return loss


OPS = ("conv3", "conv1", "batch_norm", "relu", "dropout", "residual")
REFERENCE_OPS = ("dropout",)


def op_timings(rows: int, channels: int, repeats: int) -> dict[str, Any]:
    calls = _op_calls(rows, channels)
    groups = [[n for n in calls if n.startswith(f"{o}_")] for o in OPS]
    t = time_interleaved(calls, repeats=repeats, groups=groups)
    med = t.medians()
    ratios = {o: t.time_ratio(f"{o}_chiral", f"{o}_dense") for o in OPS}
    for o in REFERENCE_OPS:
        ratios[f"{o}_reference"] = t.time_ratio(f"{o}_chiral_reference", f"{o}_dense_reference")
        for kind in ("chiral", "dense"):
            ratios[f"{o}_{kind}_new_over_reference"] = t.time_ratio(f"{o}_{kind}", f"{o}_{kind}_reference")
    return {"median_ms": {n: 1e3 * s for n, s in med.items()}, "time_ratio": ratios}


def _trainer(model: Any, workdir: str) -> Trainer:
    j = SKELETON.num_joints
    return Trainer(
        model, amsgrad_torch(1e-3), lifting.mpjpe_loss(j), workdir=workdir, bn_momentum=None, progress=False
    )


def _random_batch(batch: int, filter_widths: tuple[int, ...]) -> dict[str, np.ndarray]:
    r, j = int(np.prod(filter_widths)), SKELETON.num_joints
    rng = np.random.default_rng(0)
    return {
        "inputs": rng.standard_normal((batch, r, 2 * j)).astype(np.float32),
        "targets": rng.standard_normal((batch, 1, 3 * j)).astype(np.float32),
    }


def _timed_trainers(
    models: dict[str, Any], batch_np: dict[str, np.ndarray], repeats: int, workdir: str, groups: Any = None
) -> Any:
    """Trainer steps of ``models`` (name -> model), timed interleaved (after one traced step each)."""
    calls, trainers = {}, []
    try:
        for name, model in models.items():
            trainer = _trainer(model, f"{workdir}/{name}")
            trainers.append(trainer)
            jax.block_until_ready(trainer.step(batch_np))  # traced (and compiled) here

            def run(trainer: Trainer = trainer) -> Any:
                return trainer.step(batch_np), trainer.state

            calls[name] = run
        return time_interleaved(calls, repeats=repeats, groups=groups)
    finally:
        for trainer in trainers:
            trainer.close()


def _lifting_model(
    kind: str, channels: int, filter_widths: tuple[int, ...], dropout: float, bits: str
) -> Any:
    return lifting.make_model(
        lifting.Variant(kind, kind, channels),
        SKELETON,
        filter_widths=filter_widths,
        dropout=dropout,
        dropout_bits=bits,
    )


def step_timings(
    channels: int, batch: int, filter_widths: tuple[int, ...], repeats: int, workdir: str
) -> dict[str, Any]:
    """Whole training steps, chiral and baseline, with each way of drawing dropout masks
    (:data:`MASK_MODES`: the default byte draws as the reference, split words, packed bit fields),
    timed interleaved in one group."""
    models = {}
    for label, bits in MASK_MODES.items():
        suffix = "" if label == "current" else f"_{label}"
        for kind in ("chiral", "baseline"):
            models[f"{kind}{suffix}"] = _lifting_model(kind, channels, filter_widths, 0.25, bits)
    t = _timed_trainers(models, _random_batch(batch, filter_widths), repeats, workdir)
    return {
        "filter_widths": list(filter_widths),
        "median_ms": {n: 1e3 * s for n, s in t.medians().items()},
        "step_time_ratio": t.time_ratio("chiral", "baseline"),
        "step_time_ratio_word": t.time_ratio("chiral_word", "baseline_word"),
        "step_time_ratio_reference": t.time_ratio("chiral_reference", "baseline_reference"),
        "chiral_new_over_reference": t.time_ratio("chiral", "chiral_reference"),
        "baseline_new_over_reference": t.time_ratio("baseline", "baseline_reference"),
    }


# ------------------------------------------------------------------------------------ the floor


class _Identity(nnx.Module):
    """Stands in for a removed layer (batch norm, activation) in the ablated nets."""

    def __call__(self, x: Any, **kwargs: Any) -> Any:
        return x


def _identity(x: Any) -> Any:
    return x


ABLATIONS = {
    "full": (),
    "no_dropout": ("dropout",),
    "no_dropout_no_bn": ("dropout", "bn"),
    "convs_only": ("dropout", "bn", "act"),
}


def _ablated(model: Any, removed: Sequence[str]) -> Any:
    if "bn" in removed:
        model.expand_bn = _Identity()
        model.layers_bn = nnx.List([_Identity() for _ in model.layers_bn])
    if "act" in removed:
        model.act = _Identity() if isinstance(model.act, nnx.Module) else _identity
    return model


def floor_timings(
    channels: int, batch: int, filter_widths: tuple[int, ...], repeats: int, workdir: str
) -> dict[str, Any]:
    """How low the step ratio can go on this machine: the same trainers with layers removed (dropout,
    then batch norm, then the activation: what is left is the convs, residuals, loss and optimizer),
    and the convs' matmuls alone (forward + backward of each hidden conv's matmul at the step's shapes,
    chiral halves against the dense matmul). Chiral and baseline of one ablation share a group."""
    models, groups = {}, []
    for name, removed in ABLATIONS.items():
        dropout = 0.0 if "dropout" in removed else 0.25
        for kind in ("chiral", "baseline"):
            model = _lifting_model(kind, channels, filter_widths, dropout, "packed")
            models[f"{kind}_{name}"] = _ablated(model, removed)
        groups.append([f"chiral_{name}", f"baseline_{name}"])
    t = _timed_trainers(models, _random_batch(batch, filter_widths), repeats, workdir, groups)
    med = t.medians()
    out: dict[str, Any] = {
        "filter_widths": list(filter_widths),
        "ablation_median_ms": {n: 1e3 * s for n, s in med.items()},
        "ablation_time_ratio": {n: t.time_ratio(f"chiral_{n}", f"baseline_{n}") for n in ABLATIONS},
    }
    out["matmuls"] = matmul_timings(channels, batch, filter_widths, repeats)
    return out


def matmul_shapes(channels: int, batch: int, filter_widths: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """(rows, K, N) of every hidden conv's matmul in the strided net (the expand and shrink convs
    are small): conv ``i`` of width ``w`` reads ``w * W`` taps per output frame."""
    shapes, frames = [], int(np.prod(filter_widths)) // filter_widths[0]
    for w in filter_widths[1:]:
        frames //= w
        shapes += [(batch * frames, w * channels, channels), (batch * frames, channels, channels)]
    return shapes


def matmul_timings(channels: int, batch: int, filter_widths: tuple[int, ...], repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)

    def arr(*shape: int) -> jax.Array:
        return jnp.asarray(rng.standard_normal(shape), jnp.float32)

    calls, groups, shapes = {}, [], sorted(set(matmul_shapes(channels, batch, filter_widths)))
    for rows, k, n in shapes:
        t, w, g = arr(rows, k), arr(k, n), arr(rows, n)
        halves = [(arr(rows, k // 2), arr(k // 2, n // 2), arr(rows, n // 2)) for _ in range(2)]
        dense = jax.jit(jax.grad(lambda t, w, g=g: jnp.vdot(t @ w, g), argnums=(0, 1)))

        def chiral_loss(parts: Any, gs: Any = tuple(h[2] for h in halves)) -> jax.Array:
            return sum(jnp.vdot(t @ w, g) for (t, w), g in zip(parts, gs, strict=True))

        chiral = jax.jit(jax.grad(chiral_loss))
        parts = tuple((h[0], h[1]) for h in halves)
        jax.block_until_ready((dense(t, w), chiral(parts)))
        name = f"{rows}x{k}x{n}"
        calls[f"{name}_dense"] = lambda f=dense, a=(t, w): f(*a)
        calls[f"{name}_chiral"] = lambda f=chiral, a=parts: f(a)
        groups.append([f"{name}_dense", f"{name}_chiral"])
    t = time_interleaved(calls, repeats=repeats, groups=groups)
    med = t.medians()
    per_step = matmul_shapes(channels, batch, filter_widths)  # with multiplicity
    total = {kind: sum(med[f"{r}x{k}x{n}_{kind}"] for r, k, n in per_step) for kind in ("dense", "chiral")}
    return {
        "median_ms": {n: 1e3 * v for n, v in med.items()},
        "time_ratio": {
            f"{r}x{k}x{n}": t.time_ratio(f"{r}x{k}x{n}_chiral", f"{r}x{k}x{n}_dense") for r, k, n in shapes
        },
        "per_step_ms": {kind: 1e3 * v for kind, v in total.items()},
        "per_step_ratio": total["chiral"] / total["dense"],
    }


def format_report(out: dict[str, Any]) -> list[str]:
    a = out["args"]
    c = out["step_costs"]
    lines = [
        f"Width {a['channels']}; whole training step of the strided 27-frame lifting nets, "
        f"{a['batch']} windows (XLA cost analysis of the compiled step):",
        "",
    ]
    lines += table(
        ("", "chiral", "baseline", "chiral / baseline"),
        [(k, f"{c['chiral'][k]:.4g}", f"{c['baseline'][k]:.4g}", f"{c['ratio'][k]:.3f}") for k in COST_KEYS],
    )
    if "chiral_traffic" in c:
        lines += [
            "",
            "The compiled steps' top-level instructions by kind, and the bytes of their operands and results "
            "(from the optimized HLO; a model of the memory traffic):",
            "",
        ]
        lines += traffic_table(c["chiral_traffic"], c["baseline_traffic"])
    o = out.get("ops")
    if o is None:
        return lines + _step_lines(out) + _floor_lines(out)
    med = o["median_ms"]
    total_d = sum(med[f"{op}_dense"] for op in OPS)
    total_c = sum(med[f"{op}_chiral"] for op in OPS)
    lines += [
        "",
        f"Per op, forward + backward on ({a['rows']}, {a['channels']}) activations, median of "
        f"{a['repeats']} interleaved repeats (ratio: median of per-repeat chiral / dense times):",
        "",
    ]
    per_op = []
    for op in OPS:
        d, ch = med[f"{op}_dense"], med[f"{op}_chiral"]
        per_op.append(
            (
                op,
                f"{d:.2f}",
                f"{ch:.2f}",
                f"{o['time_ratio'][op]:.3f}",
                f"{d / total_d:.0%}",
                f"{ch / total_c:.0%}",
            )
        )
    per_op.append(("block (sum)", f"{total_d:.2f}", f"{total_c:.2f}", f"{total_c / total_d:.3f}", "", ""))
    lines += table(
        ("op", "dense ms", "chiral ms", "chiral / dense", "share of dense block", "share of chiral block"),
        per_op,
    )
    lines += [
        "",
        "Before / after (reference = dropout bits from jax.random.bits(uint8); same interleaved group):",
        "",
    ]
    lines += table(
        ("op", "dense ms ref / new", "chiral ms ref / new", "chiral / dense ref -> new"),
        [
            (
                op,
                f"{med[f'{op}_dense_reference']:.2f} / {med[f'{op}_dense']:.2f}",
                f"{med[f'{op}_chiral_reference']:.2f} / {med[f'{op}_chiral']:.2f}",
                f"{o['time_ratio'][f'{op}_reference']:.3f} -> {o['time_ratio'][op]:.3f}",
            )
            for op in REFERENCE_OPS
        ],
    )
    return lines + _step_lines(out) + _floor_lines(out)


def _frames(widths: Sequence[int]) -> int:
    return int(np.prod(widths))


def _step_lines(out: dict[str, Any]) -> list[str]:
    a, st = out["args"], out.get("steps")
    if not st:
        return []
    m = st["median_ms"]
    rows = [("byte draws (default, before)", "_reference", "step_time_ratio_reference")]
    rows += [("split 32-bit words (opt-in)", "_word", "step_time_ratio_word")]
    rows += [("packed bit fields (opt-in)", "", "step_time_ratio")]
    lines = [
        "",
        f"Whole training step, W={a['channels']}, {_frames(st['filter_widths'])} frames, {a['step_batch']} "
        f"windows, dropout 0.25, median of {a['step_repeats']} interleaved repeats (ms; ratios are medians "
        "of per-repeat ratios), by how the dropout masks are drawn (train.dropout_bits):",
        "",
    ]
    lines += table(
        ("dropout bits", "chiral ms", "baseline ms", "step time chiral / baseline"),
        [
            (label, f"{m['chiral' + suffix]:.0f}", f"{m['baseline' + suffix]:.0f}", f"{st[key]:.3f}")
            for label, suffix, key in rows
        ],
    )
    lines += [
        "",
        f"Packed / byte draws: chiral step {st['chiral_new_over_reference']:.3f}, baseline step "
        f"{st['baseline_new_over_reference']:.3f}.",
    ]
    return lines


def _floor_lines(out: dict[str, Any]) -> list[str]:
    a, fl = out["args"], out.get("floor")
    if not fl:
        return []
    m, r = fl["ablation_median_ms"], fl["ablation_time_ratio"]
    what = {
        "full": "full step (packed dropout bits)",
        "no_dropout": "without dropout",
        "no_dropout_no_bn": "without dropout and batch norm",
        "convs_only": "convs, residuals, loss, optimizer only (no activation either)",
    }
    lines = [
        "",
        f"The floor: the same steps with layers removed, W={a['channels']}, {_frames(fl['filter_widths'])} "
        f"frames, {a['step_batch']} windows (chiral and baseline of a row timed in one group):",
        "",
    ]
    lines += table(
        ("step", "chiral ms", "baseline ms", "chiral / baseline"),
        [
            (label, f"{m['chiral_' + n]:.0f}", f"{m['baseline_' + n]:.0f}", f"{r[n]:.3f}")
            for n, label in what.items()
        ],
    )
    mm = fl["matmuls"]
    med = mm["median_ms"]
    lines += [
        "",
        "The hidden convs' matmuls alone, forward + backward (rows x K x N; chiral: two half-size matmuls):",
        "",
    ]
    lines += table(
        ("matmul", "dense ms", "chiral ms", "chiral / dense"),
        [
            *(
                (name, f"{med[name + '_dense']:.2f}", f"{med[name + '_chiral']:.2f}", f"{ratio:.3f}")
                for name, ratio in mm["time_ratio"].items()
            ),
            (
                "all of a step's",
                f"{mm['per_step_ms']['dense']:.1f}",
                f"{mm['per_step_ms']['chiral']:.1f}",
                f"{mm['per_step_ratio']:.3f}",
            ),
        ],
    )
    return lines


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = BenchmarkParser(__doc__, repeats=(10, 2), seed=None)
    p.size("--channels", full=1024, quick=32, help="hidden width")
    p.size("--batch", full=1024, quick=16, help="windows per step")
    p.size("--rows", full=8192, quick=64, help="activation rows per op")
    p.size("--step_batch", full=512, quick=16, help="whole-step windows")
    p.size("--step_repeats", full=5, quick=1, help="whole-step repeats")
    p.add_argument("--no_steps", action="store_true", help="skip the whole-step timing")
    p.add_argument("--no_floor", action="store_true", help="skip the ablated steps and the matmul floor")
    p.add_argument(
        "--filter_widths",
        type=str,
        default="3,3,3",
        help="of the timed steps: 3,3,3 (27 frames) or 3,3,3,3,3",
    )
    p.add_argument("--no_ops", action="store_true", help="skip the per-op timing")
    args = p.parse_args(argv)
    widths = tuple(int(w) for w in args.filter_widths.split(","))
    with tempfile.TemporaryDirectory(prefix="chiral_profile_") as workdir:
        costs = step_costs(args.channels, args.batch, (3, 3, 3), workdir)
    print("# step costs done", file=sys.stderr)
    out: dict[str, Any] = {"args": vars(args), "step_costs": costs}
    if not args.no_ops:
        out["ops"] = op_timings(args.rows, args.channels, args.repeats)
        print("# ops done", file=sys.stderr)
    if not args.no_steps:
        with tempfile.TemporaryDirectory(prefix="chiral_profile_") as workdir:
            out["steps"] = step_timings(args.channels, args.step_batch, widths, args.step_repeats, workdir)
        print("# steps done", file=sys.stderr)
    if not args.no_floor:
        with tempfile.TemporaryDirectory(prefix="chiral_profile_") as workdir:
            out["floor"] = floor_timings(args.channels, args.step_batch, widths, args.step_repeats, workdir)
    report(format_report(out), args.json, **out)
    return out


if __name__ == "__main__":
    main()
