"""Parity with PyTorch VideoPose3D (``benchmarks/torch_ports/videopose3d.py``): the chirality port is
equivariant and computes the project's function from the project's weights; the project's AMSGrad,
learning-rate decay and batch-norm conventions match PyTorch's; the initialization matches
PyTorch's rule. Skipped without the ``parity`` extra (PyTorch)."""

import importlib.util
import inspect
import json
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install -e '.[parity]')")

from chiral_jax import skeletons  # noqa: E402
from chiral_jax.models import ChiralTemporalModel, TemporalModel  # noqa: E402
from chiral_jax.nn import BatchNorm  # noqa: E402
from chiral_jax.spec import ChiralSpec  # noqa: E402
from chiral_jax.tasks import lifting  # noqa: E402
from chiral_jax.train import amsgrad_torch, bn_momentum, set_batch_norm_momentum  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tp = _load("chiral_parity_torch_ports", BENCHMARKS / "torch_ports" / "videopose3d.py")

SK = skeletons.H36M
SPEC_IN, SPEC_OUT = SK.spec(2), SK.spec(3)


def _mirror_channels(x: "torch.Tensor", spec: ChiralSpec) -> "torch.Tensor":
    """The mirror on axis 1 of (batch, channels, frames)."""
    return tp.mirror(x.transpose(1, 2), spec).transpose(1, 2)


# ---------------------------------------------------------------------------------- the chiral port


def test_chiral_conv_port_is_equivariant() -> None:
    torch.manual_seed(0)
    hidden = ChiralSpec.hidden(10)
    for a, b in ((SPEC_IN, hidden), (hidden, hidden), (hidden, SPEC_OUT)):
        conv = tp.ChiralConv1d(a, b, 3)
        # The tying itself: M_out W_k = W_k M_in for every tap (W_k: (out, in), y = W_k x).
        w = conv.dense_weight().detach().numpy()
        for k in range(3):
            np.testing.assert_allclose(b.matrix() @ w[..., k], w[..., k] @ a.matrix(), atol=1e-6)
        x = torch.randn(3, a.size, 9)
        y, y_m = conv(x, dilation=2), conv(_mirror_channels(x, a), dilation=2)
        torch.testing.assert_close(y_m, _mirror_channels(y, b), atol=1e-5, rtol=0)
        # Not trivially so: the weight is dense and its output depends on the mirror.
        assert (y_m - y).abs().max() > 1e-2


def test_chiral_batch_norm_port_is_equivariant_sample_by_sample() -> None:
    torch.manual_seed(1)
    spec = ChiralSpec.hidden(9)
    bn = tp.ChiralBatchNorm1d(spec)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias_even.normal_()
    x = torch.randn(4, spec.size, 5) * 3 + 1
    x2 = x.clone()
    x2[1] = _mirror_channels(x[1:2], spec)[0]  # mirror one sample only
    y, y2 = bn(x), bn(x2)
    torch.testing.assert_close(y2[1:2], _mirror_channels(y[1:2], spec), atol=1e-5, rtol=0)
    torch.testing.assert_close(y2[[0, 2, 3]], y[[0, 2, 3]], atol=1e-5, rtol=0)


@pytest.mark.parametrize("dropout_basis", ["channel", "even_odd"])
def test_chiral_net_port_is_equivariant(dropout_basis: str) -> None:
    torch.manual_seed(2)
    model = tp.ChiralTemporalModel(
        SPEC_IN, SPEC_OUT, filter_widths=(3, 3), channels=12, dropout=0.0, dropout_basis=dropout_basis
    )
    x = torch.randn(3, 18, SPEC_IN.size)
    model.train()
    model(x)  # running statistics away from their initial values
    for strided in (False, True):
        for train in (False, True):
            assert tp.equivariance_error(model, x, strided=strided, train=train) < 1e-5


@pytest.fixture(scope="module")
def project_nets() -> dict[str, nnx.Module]:
    """Small project nets (built once: construction dominates these tests' time), dropout 0."""
    kw = dict(filter_widths=(3, 3), channels=12, dropout=0.0)
    return {
        "baseline": TemporalModel(SPEC_IN.size, SPEC_OUT.size, rngs=nnx.Rngs(0), **kw),
        "chiral": ChiralTemporalModel(SPEC_IN, SPEC_OUT, rngs=nnx.Rngs(0), **kw),
    }


@nnx.jit(static_argnums=2)
def _apply(model: nnx.Module, x: jax.Array, strided: bool) -> jax.Array:
    return model(x, strided=strided)


@pytest.mark.parametrize("kind", ["baseline", "chiral"])
def test_ports_compute_the_projects_function(kind: str, project_nets: dict[str, nnx.Module]) -> None:
    """From the same weights and statistics both ports give the project's outputs: dilated in eval
    mode and strided in train mode (dropout 0: batch statistics, no masks)."""
    x = np.random.default_rng(0).normal(size=(4, 18, SPEC_IN.size)).astype(np.float32)
    kw = dict(filter_widths=(3, 3), channels=12, dropout=0.0)
    project = project_nets[kind]
    if kind == "baseline":
        port = tp.TemporalModel(SPEC_IN.size, SPEC_OUT.size, **kw)
    else:
        port = tp.ChiralTemporalModel(SPEC_IN, SPEC_OUT, **kw)
    project.train()
    _apply(project, jnp.asarray(x[:, :9]), True)  # running statistics away from their initial values
    tp.copy_from_project(port, project)
    for mode, strided, xs in (("eval", False, x), ("train", True, x[:, :9])):
        getattr(project, mode)()
        port.train(mode == "train")
        want = np.asarray(_apply(project, jnp.asarray(xs), strided))
        with torch.no_grad():
            got = port(torch.from_numpy(xs), strided=strided).numpy()
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-4, err_msg=f"{kind} {mode}")


# ---------------------------------------------------------------------------------- optimizer


def test_amsgrad_torch_matches_pytorch_step_by_step() -> None:
    """The same gradients (a large early one, then smaller noisy ones) into optax's
    ``amsgrad_torch`` and ``torch.optim.Adam(amsgrad=True)``: the same parameters after every step,
    with VideoPose3D's staircase decay (x0.95 per epoch of 5 steps) on both sides."""
    wd_supported = "weight_decay" in inspect.signature(amsgrad_torch).parameters
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,)]
    params = [rng.normal(size=s).astype(np.float32) for s in shapes]
    steps_per_epoch, steps = 5, 40
    cfg = ml_collections.ConfigDict(
        {"lr": 1e-2, "lr_decay": 0.95, "lr_decay_steps": steps_per_epoch, "lr_decay_every": "epoch"}
    )
    for wd in (0.0, 1e-2) if wd_supported else (0.0,):
        extra = {"weight_decay": wd} if wd_supported else {}
        tx = amsgrad_torch(lifting.learning_rate(cfg, steps_per_epoch), **extra)
        jparams = [jnp.asarray(p) for p in params]
        state = tx.init(jparams)

        @jax.jit
        def step(grads, state, jparams, tx=tx):
            updates, state = tx.update(grads, state, jparams)
            return optax.apply_updates(jparams, updates), state

        tparams = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in params]
        opt = torch.optim.Adam(tparams, lr=cfg.lr, amsgrad=True, weight_decay=wd)
        for t in range(steps):
            scale = 30.0 if t == 0 else 1.0 / (1 + t)  # the large early gradient optax's form mishandles
            grads = [(scale * rng.normal(size=s)).astype(np.float32) for s in shapes]
            jparams, state = step([jnp.asarray(g) for g in grads], state, jparams)
            for group in opt.param_groups:  # VideoPose3D: lr *= decay once per epoch
                group["lr"] = tp.learning_rate(cfg.lr, cfg.lr_decay, t // steps_per_epoch)
            for p, g in zip(tparams, grads, strict=True):
                p.grad = torch.from_numpy(g)
            opt.step()
            for a, b in zip(jparams, tparams, strict=True):
                np.testing.assert_allclose(
                    np.asarray(a), b.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=f"step {t}"
                )
    # The decay itself: epoch e's rate is lr * 0.95 ** e on both sides.
    schedule = lifting.learning_rate(cfg, steps_per_epoch)
    for e in range(5):
        for s in (0, steps_per_epoch - 1):
            assert math.isclose(
                float(schedule(e * steps_per_epoch + s)), tp.learning_rate(1e-2, 0.95, e), rel_tol=1e-6
            )


# ---------------------------------------------------------------------------------- batch norm


def test_bn_momentum_schedule_is_one_minus_pytorchs() -> None:
    """Flax's momentum (the running average's weight) is 1 - PyTorch's (the new batch's); both
    decay 0.1 -> 0.001 geometrically."""
    for p in (0.0, 0.25, 0.5, 1.0):
        assert math.isclose(bn_momentum(p), 1.0 - tp.bn_momentum(p), rel_tol=1e-12)
    assert math.isclose(tp.bn_momentum(0.0), 0.1) and math.isclose(tp.bn_momentum(1.0), 0.001)


def test_batch_norm_running_statistics_follow_pytorch() -> None:
    """The project's BatchNorm with Flax momentum 1 - m tracks ``nn.BatchNorm1d(momentum=m)``: the
    same normalized outputs (eps 1e-5, biased batch variance), the same running mean; the running
    variance differs only by PyTorch's unbiased n / (n - 1)."""
    rng = np.random.default_rng(0)
    c, n = 6, 8
    ours = BatchNorm(c, momentum=0.9, epsilon=1e-5, rngs=nnx.Rngs(0))
    theirs = torch.nn.BatchNorm1d(c)
    assert theirs.eps == ours.epsilon == 1e-5
    var_biased, var_unbiased = np.ones(c), np.ones(c)
    for step, m in enumerate((0.1, 0.05, 0.01)):
        x = (rng.normal(size=(n, c)) * (step + 2) + step).astype(np.float32)
        set_batch_norm_momentum(ours, 1.0 - m)
        theirs.momentum = m
        y = np.asarray(ours(jnp.asarray(x)))
        y_t = theirs(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(y, y_t, atol=1e-5)
        np.testing.assert_allclose(
            np.asarray(ours.mean[...]), theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6
        )
        var_biased = (1 - m) * var_biased + m * x.var(0)
        var_unbiased = (1 - m) * var_unbiased + m * x.var(0, ddof=1)
        np.testing.assert_allclose(np.asarray(ours.var[...]), var_biased, rtol=1e-5)
        np.testing.assert_allclose(theirs.running_var.numpy(), var_unbiased, rtol=1e-5)


def test_project_batch_norms_use_pytorchs_eps(project_nets: dict[str, nnx.Module]) -> None:
    for model in project_nets.values():
        for bn in (model.expand_bn, *model.layers_bn):
            assert bn.epsilon == 1e-5


# ---------------------------------------------------------------------------------- initialization


def _has_torch_init() -> bool:
    return "init" in inspect.signature(TemporalModel.__init__).parameters


@pytest.mark.slow  # six width-128 nets
@pytest.mark.skipif(
    not _has_torch_init(), reason="the project's nets have no init= argument in this checkout"
)
def test_temporal_model_init_matches_pytorch() -> None:
    """Kernel std per layer (PyTorch: 1/sqrt(3 fan_in)) and the initial output scale of the
    project's nets with init="torch" against the ports', within 5 %."""
    kw = dict(filter_widths=(3, 3, 3), channels=128, dropout=0.0)
    x = np.random.default_rng(0).normal(size=(256, 27, SPEC_IN.size)).astype(np.float32)
    for kind in ("baseline", "chiral"):
        out_std = {"project": [], "torch": []}
        for seed in range(3):
            torch.manual_seed(seed)
            if kind == "baseline":
                project = TemporalModel(SPEC_IN.size, SPEC_OUT.size, init="torch", rngs=nnx.Rngs(seed), **kw)
                port = tp.TemporalModel(SPEC_IN.size, SPEC_OUT.size, **kw)
                layers = [
                    (np.asarray(a.kernel[...]), b.weight.detach().numpy())
                    for a, b in zip(
                        [project.expand_conv, *project.layers_conv, project.shrink],
                        [port.expand_conv, *port.layers_conv, port.shrink],
                        strict=True,
                    )
                ]
            else:
                project = ChiralTemporalModel(SPEC_IN, SPEC_OUT, init="torch", rngs=nnx.Rngs(seed), **kw)
                port = tp.ChiralTemporalModel(SPEC_IN, SPEC_OUT, **kw)
                layers = [
                    (np.asarray(getattr(a, name)[...]), getattr(b, f"weight_{half}").detach().numpy())
                    for a, b in zip(
                        [project.expand_conv, *project.layers_conv, project.shrink],
                        [port.expand_conv, *port.layers_conv, port.shrink],
                        strict=True,
                    )
                    for name, half in (("kernel_even", "even"), ("kernel_odd", "odd"))
                ]
            for ours, theirs in layers:
                fan_in = (
                    theirs.shape[0] * theirs.shape[1]
                    if kind == "chiral"
                    else theirs.shape[1] * theirs.shape[2]
                )
                assert ours.size == theirs.size
                assert abs(ours.std() / theirs.std() - 1) < 0.05, (kind, ours.shape)
                assert abs(theirs.std() * math.sqrt(3 * fan_in) - 1) < 0.05, (kind, theirs.shape)
            project.train()
            port.train()
            out_std["project"].append(float(np.asarray(_apply(project, jnp.asarray(x), True)).std()))
            with torch.no_grad():
                out_std["torch"].append(float(port(torch.from_numpy(x), strided=True).std()))
        ratio = np.mean(out_std["project"]) / np.mean(out_std["torch"])
        assert abs(ratio - 1) < 0.05, (kind, out_std)


# ---------------------------------------------------------------------------------- the benchmark


@pytest.mark.slow
def test_vp3d_parity_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load("chiral_benchmarks_vp3d_parity", BENCHMARKS / "vp3d_parity.py")
    out = tmp_path / "parity.json"
    results = bench.main(["--quick", "--data-dir", str(tmp_path / "tfds"), "--json", str(out)])
    summary = results["datasets"]["synthetic"]["summary"]
    for net in ("baseline", "chiral"):
        for impl in ("project", "torch"):
            r = summary[net][impl]
            assert r["seeds"] == 2 and len(r["train_curve_mean"]) == 2
            assert all(np.isfinite(r["train_curve_mean"])) and r["test_mpjpe_mm"][0] > 0
        assert len(summary[net]["verdict"]["curve_epochs_agree"]) == 2
    assert set(results["step_time"]["median_ms"]) == {
        "project_baseline",
        "torch_baseline",
        "project_chiral",
        "torch_chiral",
    }
    saved = json.loads(out.read_text())
    assert "machine" in saved and saved["args"]["quick"] is True
    printed = capsys.readouterr().out
    assert "Time per training step" in printed and "| chiral | torch |" in printed
