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
* **whole step, before / after**: Trainer steps of both nets (``--step_batch`` windows, 27 frames)
  with the current ops and with the reference ops, timed interleaved in one group.

Run::

    python benchmarks/chiral_step_profile.py                 # W=1024
    python benchmarks/chiral_step_profile.py --quick         # tiny sizes, a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax import functional as F
from chiral_jax import skeletons
from chiral_jax.basis import EvenOdd
from chiral_jax.benchmarking import machine_line, report, time_interleaved
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import lifting
from chiral_jax.train import Trainer, amsgrad_torch

SKELETON = skeletons.H36M
COST_KEYS = ("flops", "bytes accessed", "transcendentals")


def reference_ops(ref: bool) -> contextlib.AbstractContextManager[None]:
    """Dropout masks as before the chiral-step work (``ref``: one random word per byte, the library's
    default) or split 32-bit words (the opt-in ``functional.dropout_mask_bits("word")``)."""
    return F.dropout_mask_bits("byte" if ref else "word")


def step_costs(channels: int, batch: int, filter_widths: tuple[int, ...], workdir: str) -> dict[str, Any]:
    """XLA's cost analysis of the chiral and the baseline training step (one Trainer each)."""
    r, j = int(np.prod(filter_widths)), SKELETON.num_joints
    rng = np.random.default_rng(0)
    batch_np = {
        "inputs": rng.standard_normal((batch, r, 2 * j)).astype(np.float32),
        "targets": rng.standard_normal((batch, 1, 3 * j)).astype(np.float32),
    }
    out = {}
    for kind in ("chiral", "baseline"):
        variant = lifting.Variant(kind, kind, channels)
        model = lifting.make_model(variant, SKELETON, filter_widths=filter_widths, dropout=0.25)
        trainer = Trainer(
            model,
            amsgrad_torch(1e-3),
            lifting.mpjpe_loss(j),
            workdir=f"{workdir}/{kind}",
            bn_momentum=None,
            progress=False,
        )
        try:
            cost = trainer.compile_step(batch_np).cost_analysis()
        finally:
            trainer.close()
        cost = cost[0] if isinstance(cost, list | tuple) else cost
        out[kind] = {k: float(cost.get(k, float("nan"))) for k in COST_KEYS}
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


def step_timings(
    channels: int, batch: int, filter_widths: tuple[int, ...], repeats: int, workdir: str
) -> dict[str, Any]:
    """Whole training steps, chiral and baseline, with the current ops and with :func:`reference_ops`
    (before the chiral-step work), timed interleaved in one group."""
    r, j = int(np.prod(filter_widths)), SKELETON.num_joints
    rng = np.random.default_rng(0)
    batch_np = {
        "inputs": rng.standard_normal((batch, r, 2 * j)).astype(np.float32),
        "targets": rng.standard_normal((batch, 1, 3 * j)).astype(np.float32),
    }
    calls, trainers = {}, []
    for ref in (False, True):
        for kind in ("chiral", "baseline"):
            model = lifting.make_model(
                lifting.Variant(kind, kind, channels), SKELETON, filter_widths=filter_widths, dropout=0.25
            )
            name = f"{kind}{'_reference' if ref else ''}"
            trainer = Trainer(
                model,
                amsgrad_torch(1e-3),
                lifting.mpjpe_loss(j),
                workdir=f"{workdir}/step_{name}",
                bn_momentum=None,
                progress=False,
            )
            trainers.append(trainer)
            with reference_ops(ref):
                jax.block_until_ready(trainer.step(batch_np))  # traced (and compiled) here

            def run(trainer: Trainer = trainer) -> Any:
                return trainer.step(batch_np), trainer.state

            calls[name] = run
    try:
        t = time_interleaved(calls, repeats=repeats)
    finally:
        for trainer in trainers:
            trainer.close()
    return {
        "median_ms": {n: 1e3 * s for n, s in t.medians().items()},
        "step_time_ratio": t.time_ratio("chiral", "baseline"),
        "step_time_ratio_reference": t.time_ratio("chiral_reference", "baseline_reference"),
        "chiral_new_over_reference": t.time_ratio("chiral", "chiral_reference"),
        "baseline_new_over_reference": t.time_ratio("baseline", "baseline_reference"),
    }


def format_report(out: dict[str, Any], info: dict[str, Any]) -> str:
    a = out["args"]
    c = out["step_costs"]
    lines = [
        machine_line(info),
        f"Width {a['channels']}; whole training step of the strided 27-frame lifting nets, "
        f"{a['batch']} windows (XLA cost analysis of the compiled step):",
        "",
        "| | chiral | baseline | chiral / baseline |",
        "|---|---|---|---|",
    ]
    for k in COST_KEYS:
        lines.append(f"| {k} | {c['chiral'][k]:.4g} | {c['baseline'][k]:.4g} | {c['ratio'][k]:.3f} |")
    o = out.get("ops")
    if o is None:
        return "\n".join(lines + _step_lines(out))
    med = o["median_ms"]
    total_d = sum(med[f"{op}_dense"] for op in OPS)
    total_c = sum(med[f"{op}_chiral"] for op in OPS)
    lines += [
        "",
        f"Per op, forward + backward on ({a['rows']}, {a['channels']}) activations, median of "
        f"{a['repeats']} interleaved repeats (ratio: median of per-repeat chiral / dense times):",
        "",
        "| op | dense ms | chiral ms | chiral / dense | share of dense block | share of chiral block |",
        "|---|---|---|---|---|---|",
    ]
    for op in OPS:
        d, ch = med[f"{op}_dense"], med[f"{op}_chiral"]
        lines.append(
            f"| {op} | {d:.2f} | {ch:.2f} | {o['time_ratio'][op]:.3f} "
            f"| {d / total_d:.0%} | {ch / total_c:.0%} |"
        )
    lines.append(f"| block (sum) | {total_d:.2f} | {total_c:.2f} | {total_c / total_d:.3f} | | |")
    lines += [
        "",
        "Before / after (reference = dropout bits from jax.random.bits(uint8); same interleaved group):",
        "",
        "| op | dense ms ref / new | chiral ms ref / new | chiral / dense ref -> new |",
        "|---|---|---|---|",
    ]
    for op in REFERENCE_OPS:
        lines.append(
            f"| {op} | {med[f'{op}_dense_reference']:.2f} / {med[f'{op}_dense']:.2f} "
            f"| {med[f'{op}_chiral_reference']:.2f} / {med[f'{op}_chiral']:.2f} "
            f"| {o['time_ratio'][f'{op}_reference']:.3f} -> {o['time_ratio'][op]:.3f} |"
        )
    return "\n".join(lines + _step_lines(out))


def _step_lines(out: dict[str, Any]) -> list[str]:
    a, st = out["args"], out.get("steps")
    if not st:
        return []
    m = st["median_ms"]
    return [
        "",
        f"Whole training step, W={a['channels']}, 27 frames, {a['step_batch']} windows, median of "
        f"{a['step_repeats']} interleaved repeats (ms; ratios are medians of per-repeat ratios):",
        "",
        "| | chiral ms | baseline ms | step time chiral / baseline |",
        "|---|---|---|---|",
        f"| reference ops (before) | {m['chiral_reference']:.0f} | {m['baseline_reference']:.0f} "
        f"| {st['step_time_ratio_reference']:.3f} |",
        f"| current ops (after) | {m['chiral']:.0f} | {m['baseline']:.0f} "
        f"| **{st['step_time_ratio']:.3f}** |",
        "",
        f"After / before: chiral step {st['chiral_new_over_reference']:.3f}, baseline step "
        f"{st['baseline_new_over_reference']:.3f}.",
    ]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--channels", type=int, default=None, help="hidden width (default 1024; 32 quick)")
    p.add_argument("--batch", type=int, default=None, help="windows per step (default 1024; 16 quick)")
    p.add_argument("--rows", type=int, default=None, help="activation rows per op (default 8192; 64 quick)")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per op (default 10; 2 quick)")
    p.add_argument("--step_batch", type=int, default=None, help="whole-step windows (default 512; 16 quick)")
    p.add_argument("--step_repeats", type=int, default=None, help="whole-step repeats (default 5; 1 quick)")
    p.add_argument("--no_steps", action="store_true", help="skip the whole-step timing")
    p.add_argument("--no_ops", action="store_true", help="skip the per-op timing")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", type=str, default=None)
    args = p.parse_args(argv)
    q = args.quick
    for k, full, quick in (
        ("channels", 1024, 32),
        ("batch", 1024, 16),
        ("rows", 8192, 64),
        ("repeats", 10, 2),
        ("step_batch", 512, 16),
        ("step_repeats", 5, 1),
    ):
        if getattr(args, k) is None:
            setattr(args, k, quick if q else full)
    with tempfile.TemporaryDirectory(prefix="chiral_profile_") as workdir:
        costs = step_costs(args.channels, args.batch, (3, 3, 3), workdir)
    print("# step costs done", file=sys.stderr)
    out: dict[str, Any] = {"args": vars(args), "step_costs": costs}
    if not args.no_ops:
        out["ops"] = op_timings(args.rows, args.channels, args.repeats)
        print("# ops done", file=sys.stderr)
    if not args.no_steps:
        with tempfile.TemporaryDirectory(prefix="chiral_profile_") as workdir:
            out["steps"] = step_timings(args.channels, args.step_batch, (3, 3, 3), args.step_repeats, workdir)
    report(lambda info: format_report(out, info), args.json, **out)
    return out


if __name__ == "__main__":
    main()
