"""VideoPose3D's temporal model and the chirality layers in PyTorch, with VideoPose3D's recipe.

An independent reference for the project's JAX nets, written from the papers' descriptions
(Pavllo et al., CVPR 2019: the temporal conv net and its training; Yeh et al., NeurIPS 2019: layers
whose weights are tied so that ``T_out W = W T_in``). ``benchmarks/vp3d_parity.py`` trains these
beside the project's nets on the same windows.

Nets (inputs ``(batch, frames, channels)`` as the project's, PyTorch's ``(batch, channels, frames)``
inside):

* :class:`TemporalModel`: expand conv of width ``fw[0]`` without bias + BN + ReLU + dropout, then
  per block a conv of width ``fw[i]`` + BN + ReLU + dropout and a 1x1 conv + BN + ReLU + dropout,
  added to the centre slice of the block's input, then a 1x1 shrink conv with bias. ``strided=True``
  is the "optimized" training net (stride = kernel width, one output frame per window),
  ``strided=False`` the dilated evaluation net (block ``i`` dilated by ``prod(fw[:i])``); both use
  the same weights. PyTorch's layers and their default initialization (``nn.Conv1d``:
  kaiming-uniform with ``a = sqrt(5)``, i.e. U(+-1/sqrt(fan_in)), biases U(+-1/sqrt(fan_in));
  ``nn.BatchNorm1d(momentum=0.1, eps=1e-5)``: biased variance to normalize, unbiased running
  variance).
* :class:`ChiralTemporalModel`: the same control flow with :class:`ChiralConv1d` (dense weights
  built from free even/odd blocks) and :class:`ChiralBatchNorm1d` (statistics of the mirrored batch
  ``{x, T x}``, tied scales and an equivariant shift), computed in the channel basis. Block fan-in
  for the initialization: the block's own input half (PyTorch's rule applied to each block as to a
  layer of the half size), as the project does.

Recipe: :func:`make_optimizer` (``torch.optim.Adam(amsgrad=True)``), :func:`learning_rate` (x0.95
per epoch), :func:`bn_momentum` (0.1 -> 0.001 exponentially over the epochs, PyTorch's convention:
the weight of the new batch), :func:`train_epoch`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chiral_jax.spec import ChiralSpec

__all__ = [
    "BasisDropout",
    "ChiralBatchNorm1d",
    "ChiralConv1d",
    "ChiralTemporalModel",
    "TemporalModel",
    "bn_momentum",
    "copy_from_project",
    "equivariance_error",
    "learning_rate",
    "make_optimizer",
    "mirror",
    "mpjpe",
    "set_bn_momentum",
    "train_epoch",
    "train_step",
]

Tensor = torch.Tensor


# ---------------------------------------------------------------------------------- basis


def _basis(spec: ChiralSpec) -> tuple[Tensor, Tensor]:
    """Orthonormal bases ``(size, num_even)`` and ``(size, num_odd)`` of the mirror's +1 and -1
    eigenspaces, built from the spec's pairs and signs (pair ``(i, j)`` with sign ``s``:
    ``(e_i + s e_j)/sqrt2`` even, ``(e_i - s e_j)/sqrt2`` odd; a centre channel is even unless
    negated). Order: pairs (left joints x coords), then centres, as the project's split."""
    d = spec.dim
    left = [j * d + c for j in spec.left for c in range(d)]
    right = [j * d + c for j in spec.right for c in range(d)]
    centers = [j * d + c for j in spec.center for c in range(d)]
    signs = spec.signs
    even, odd = [], []
    r = 1.0 / math.sqrt(2.0)
    for i, j in zip(left, right, strict=True):
        e, o = np.zeros(spec.size), np.zeros(spec.size)
        e[i], e[j] = r, r * signs[j]
        o[i], o[j] = r, -r * signs[j]
        even.append(e)
        odd.append(o)
    for c in centers:
        v = np.zeros(spec.size)
        v[c] = 1.0
        (even if signs[c] > 0 else odd).append(v)
    # Even centres after the pairs' even vectors, odd centres after the pairs' odd ones.
    return _columns(even, spec.size), _columns(odd, spec.size)


def _columns(vectors: list[np.ndarray], size: int) -> Tensor:
    return torch.tensor(np.stack(vectors, 1) if vectors else np.zeros((size, 0)), dtype=torch.float32)


def mirror(x: Tensor, spec: ChiralSpec) -> Tensor:
    """The mirror ``T`` on the last axis: ``T(x)_i = signs_i * x_{perm_i}``."""
    perm = torch.tensor(np.array(spec.permutation), dtype=torch.long)
    return x[..., perm] * torch.tensor(np.array(spec.signs), dtype=x.dtype)


def _torch_default_(block: Tensor) -> None:
    """``nn.Conv1d``'s default on a ``(k, n_in, n_out)`` block: kaiming-uniform (a = sqrt 5) of the
    ``(n_out, n_in, k)`` weight PyTorch would hold, i.e. U(+-1/sqrt(k * n_in))."""
    if block.numel() == 0:
        return
    w = torch.empty(block.shape[2], block.shape[1], block.shape[0])
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    with torch.no_grad():
        block.copy_(w.permute(2, 1, 0))


# ---------------------------------------------------------------------------------- chiral layers


class ChiralConv1d(nn.Module):
    """Conv ``(batch, in_spec.size, T) -> (batch, out_spec.size, T')`` with ``T_out W = W T_in``.

    Free parameters: ``weight_even (k, nE_in, nE_out)``, ``weight_odd (k, nO_in, nO_out)`` and
    ``bias_even (nE_out,)``; the dense weight is ``S_in^e A S_out^e^T + S_in^o B S_out^o^T`` per
    tap, the dense bias ``S_out^e b``. Initialization: PyTorch's conv default on each block with
    the block's fan-in ``k * n_in`` (bias: U(+-1/sqrt(k * nE_in))).
    """

    def __init__(self, in_spec: ChiralSpec, out_spec: ChiralSpec, kernel_size: int, *, bias: bool = True):
        super().__init__()
        self.in_spec, self.out_spec, self.kernel_size = in_spec, out_spec, int(kernel_size)
        for name, spec in (("in", in_spec), ("out", out_spec)):
            e, o = _basis(spec)
            self.register_buffer(f"{name}_even", e)
            self.register_buffer(f"{name}_odd", o)
        k = self.kernel_size
        self.weight_even = nn.Parameter(torch.empty(k, in_spec.num_even, out_spec.num_even))
        self.weight_odd = nn.Parameter(torch.empty(k, in_spec.num_odd, out_spec.num_odd))
        self.bias_even = nn.Parameter(torch.empty(out_spec.num_even)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _torch_default_(self.weight_even)
        _torch_default_(self.weight_odd)
        if self.bias_even is not None:
            fan_in = self.kernel_size * self.in_spec.num_even
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(self.bias_even, -bound, bound)

    def dense_weight(self) -> Tensor:
        """The dense kernel in PyTorch's layout ``(out_spec.size, in_spec.size, k)``."""
        even = torch.einsum("ie,keo,jo->jik", self.in_even, self.weight_even, self.out_even)
        odd = torch.einsum("id,kdo,jo->jik", self.in_odd, self.weight_odd, self.out_odd)
        return even + odd

    def dense_bias(self) -> Tensor | None:
        return None if self.bias_even is None else self.out_even @ self.bias_even

    def forward(self, x: Tensor, *, stride: int = 1, dilation: int = 1) -> Tensor:
        return F.conv1d(x, self.dense_weight(), self.dense_bias(), stride=stride, dilation=dilation)


class ChiralBatchNorm1d(nn.Module):
    """Batch norm of ``(batch, spec.size, T)`` with the statistics of the mirrored batch ``{x, T x}``.

    What ``nn.BatchNorm1d`` would compute on ``torch.cat([x, T x])`` (biased variance to normalize,
    the unbiased one, over ``2 * batch * T`` values, into the running average with PyTorch's
    momentum), with a scale shared by each channel orbit (``weight (num_orbits,)``) and an
    equivariant shift ``S^e bias_even`` (``bias_even (num_even,)``): equivariant sample by sample.
    """

    def __init__(self, spec: ChiralSpec, *, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.spec, self.momentum, self.eps = spec, momentum, eps
        even, _ = _basis(spec)
        self.register_buffer("basis_even", even)
        self.register_buffer("perm", torch.tensor(np.array(spec.permutation), dtype=torch.long))
        self.register_buffer("signs", torch.tensor(np.array(spec.signs), dtype=torch.float32))
        orbit = spec.orbits_to_channels(np.arange(spec.num_orbits))
        self.register_buffer("orbit", torch.as_tensor(np.asarray(orbit), dtype=torch.long))
        self.weight = nn.Parameter(torch.ones(spec.num_orbits))
        self.bias_even = nn.Parameter(torch.zeros(spec.num_even))
        self.register_buffer("running_mean", torch.zeros(spec.size))
        self.register_buffer("running_var", torch.ones(spec.size))

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            m, q = x.mean(dim=(0, 2)), (x * x).mean(dim=(0, 2))
            mean = 0.5 * (m + self.signs * m[self.perm])  # the mean of channel i over {x, T x}
            var = (0.5 * (q + q[self.perm]) - mean * mean).clamp_min(0.0)
            n = 2 * x.shape[0] * x.shape[2]
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * (n / max(n - 1, 1)), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight[self.orbit] * torch.rsqrt(var + self.eps)
        shift = self.basis_even @ self.bias_even
        return (x - mean[:, None]) * scale[:, None] + shift[:, None]


class BasisDropout(nn.Module):
    """Dropout on the even/odd coordinates of ``(batch, spec.size, T)`` (the project's chiral
    dropout) instead of on the channels: a diagnostic for :class:`ChiralTemporalModel`."""

    def __init__(self, spec: ChiralSpec, p: float):
        super().__init__()
        even, odd = _basis(spec)
        self.register_buffer("basis", torch.cat([even, odd], dim=1))  # orthogonal (size, size)
        self.drop = nn.Dropout(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.drop.p == 0.0:
            return x
        z = torch.einsum("cb,nct->nbt", self.basis, x)
        return torch.einsum("cb,nbt->nct", self.basis, self.drop(z))


# ---------------------------------------------------------------------------------- the nets


def _check_widths(filter_widths: Sequence[int]) -> tuple[int, ...]:
    widths = tuple(int(w) for w in filter_widths)
    if not widths or any(w < 1 or w % 2 == 0 for w in widths):
        raise ValueError(f"filter_widths must be a non-empty sequence of odd ints, got {filter_widths}")
    return widths


class _TemporalBase(nn.Module):
    """VideoPose3D's control flow; subclasses build ``expand_conv``, ``expand_bn``, ``layers_conv``,
    ``layers_bn``, ``shrink``, ``drop`` and ``act``."""

    filter_widths: tuple[int, ...]
    causal: bool
    in_features: int

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    def _conv(self, layer: nn.Module, x: Tensor, width: int, dilation: int, strided: bool) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, *, strided: bool = True) -> Tensor:
        """(batch, frames, in) -> (batch, frames', out): strided, frames a multiple of the receptive
        field, one output frame per window; dilated, ``frames - receptive_field + 1`` outputs."""
        r = self.receptive_field
        ok = x.ndim == 3 and x.shape[-1] == self.in_features and x.shape[1] >= r
        if not ok or (strided and x.shape[1] % r):
            need = f"a multiple of {r}" if strided else f">= {r}"
            raise ValueError(
                f"{type(self).__name__}: expected (batch, frames {need}, {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        h = x.transpose(1, 2)
        fw = self.filter_widths
        h = self.drop(self.act(self.expand_bn(self._conv(self.expand_conv, h, fw[0], 1, strided))))
        dilation = fw[0]
        for i, w in enumerate(fw[1:]):
            y = self.drop(
                self.act(self.layers_bn[2 * i](self._conv(self.layers_conv[2 * i], h, w, dilation, strided)))
            )
            y = self.drop(
                self.act(self.layers_bn[2 * i + 1](self._conv(self.layers_conv[2 * i + 1], y, 1, 1, strided)))
            )
            if strided:
                res = h[:, :, (w - 1 if self.causal else w // 2) :: w]
            else:
                lost = h.shape[2] - y.shape[2]
                start = lost if self.causal else lost // 2
                res = h[:, :, start : start + y.shape[2]]
            h = res + y
            dilation *= w
        return self._conv(self.shrink, h, 1, 1, strided).transpose(1, 2)


def _activation(name: str) -> nn.Module:
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
    if name not in acts:
        raise ValueError(f"activation must be relu or tanh, got {name!r}")
    return acts[name]()


class TemporalModel(_TemporalBase):
    """VideoPose3D's temporal net from PyTorch layers with their default initialization."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        filter_widths: Sequence[int] = (3, 3, 3),
        channels: int = 1024,
        dropout: float = 0.25,
        causal: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.filter_widths, self.causal, self.in_features = _check_widths(filter_widths), causal, in_features
        fw = self.filter_widths
        self.expand_conv = nn.Conv1d(in_features, channels, fw[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=momentum, eps=eps)
        self.layers_conv = nn.ModuleList(
            nn.Conv1d(channels, channels, k, bias=False) for w in fw[1:] for k in (w, 1)
        )
        self.layers_bn = nn.ModuleList(
            nn.BatchNorm1d(channels, momentum=momentum, eps=eps) for _ in fw[1:] for _ in range(2)
        )
        self.shrink = nn.Conv1d(channels, out_features, 1)
        self.act, self.drop = nn.ReLU(), nn.Dropout(dropout)

    def _conv(self, layer: nn.Conv1d, x: Tensor, width: int, dilation: int, strided: bool) -> Tensor:
        if strided:
            return F.conv1d(x, layer.weight, layer.bias, stride=width)
        return F.conv1d(x, layer.weight, layer.bias, dilation=dilation)


class ChiralTemporalModel(_TemporalBase):
    """The chiral VideoPose3D net (Yeh et al.'s tied layers) in the channel basis.

    ``channels``: hidden width (``ChiralSpec.hidden(channels, negated=negated)``); ``activation``:
    relu (negation-free hidden spec) or tanh; ``dropout_basis``: "channel" (plain dropout on the
    channels) or "even_odd" (on the even/odd coordinates, as the project's ChiralDropout).
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        out_spec: ChiralSpec,
        *,
        filter_widths: Sequence[int] = (3, 3, 3),
        channels: int = 1024,
        negated: bool = False,
        activation: str = "relu",
        dropout: float = 0.25,
        dropout_basis: str = "channel",
        causal: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ):
        super().__init__()
        if negated and activation != "tanh":
            raise ValueError(f"a negated hidden spec needs an odd activation (tanh), got {activation!r}")
        if dropout_basis not in ("channel", "even_odd"):
            raise ValueError(f"dropout_basis must be channel or even_odd, got {dropout_basis!r}")
        self.filter_widths, self.causal = _check_widths(filter_widths), causal
        self.in_spec, self.out_spec, self.in_features = in_spec, out_spec, in_spec.size
        hid = self.hidden_spec = ChiralSpec.hidden(channels, negated=negated)
        fw = self.filter_widths
        self.expand_conv = ChiralConv1d(in_spec, hid, fw[0], bias=False)
        self.expand_bn = ChiralBatchNorm1d(hid, momentum=momentum, eps=eps)
        self.layers_conv = nn.ModuleList(
            ChiralConv1d(hid, hid, k, bias=False) for w in fw[1:] for k in (w, 1)
        )
        self.layers_bn = nn.ModuleList(
            ChiralBatchNorm1d(hid, momentum=momentum, eps=eps) for _ in fw[1:] for _ in range(2)
        )
        self.shrink = ChiralConv1d(hid, out_spec, 1)
        self.act = _activation(activation)
        self.drop = nn.Dropout(dropout) if dropout_basis == "channel" else BasisDropout(hid, dropout)

    def _conv(self, layer: ChiralConv1d, x: Tensor, width: int, dilation: int, strided: bool) -> Tensor:
        return layer(x, stride=width) if strided else layer(x, dilation=dilation)


def equivariance_error(
    model: ChiralTemporalModel, x: Tensor, *, strided: bool = False, train: bool = False
) -> float:
    """``max |F(T_in x) - T_out F(x)|`` of ``model`` on ``x`` (batch, frames, in_spec.size), in eval
    mode or (``train``) in train mode, which needs ``dropout = 0`` to be deterministic; the mode
    and the batch-norm running statistics are restored."""
    was, saved = model.training, {k: v.clone() for k, v in model.state_dict().items()}
    model.train(train)
    try:
        with torch.no_grad():
            y = model(x, strided=strided)
            y_mirrored = model(mirror(x, model.in_spec), strided=strided)
        return float((y_mirrored - mirror(y, model.out_spec)).abs().max())
    finally:
        model.load_state_dict(saved)
        model.train(was)


# ---------------------------------------------------------------------------------- the recipe


def make_optimizer(model: nn.Module, lr: float = 1e-3) -> torch.optim.Optimizer:
    """VideoPose3D's optimizer: ``torch.optim.Adam(amsgrad=True)``, no weight decay."""
    return torch.optim.Adam(model.parameters(), lr=lr, amsgrad=True)


def learning_rate(lr: float, decay: float, epoch: int) -> float:
    """The learning rate of epoch ``epoch`` (from 0): ``lr * decay ** epoch`` (x0.95 per epoch)."""
    return lr * decay**epoch


def bn_momentum(progress: float, initial: float = 0.1, final: float = 0.001) -> float:
    """PyTorch's batch-norm momentum at ``progress`` = epoch / epochs: ``initial * (final /
    initial) ** progress`` (VideoPose3D sets it once per epoch)."""
    return initial * math.exp(-progress * math.log(initial / final))


def set_bn_momentum(model: nn.Module, momentum: float) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | ChiralBatchNorm1d):
            m.momentum = momentum


def mpjpe(pred: Tensor, target: Tensor, num_joints: int) -> Tensor:
    """Mean per-joint position error (in the inputs' unit) of ``(..., num_joints * 3)`` poses."""
    shape = (*pred.shape[:-1], num_joints, 3)
    return torch.linalg.vector_norm(pred.reshape(shape) - target.reshape(shape), dim=-1).mean()


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[dict[str, Any]],
    *,
    num_joints: int,
    epoch: int,
    epochs: int,
    lr: float,
    lr_decay: float,
    steps_per_epoch: int,
    bn_schedule: str = "epoch",
) -> float:
    """One epoch of VideoPose3D's training on host batches (``inputs (B, R, Cin)``, ``targets
    (B, 1, J*3)`` numpy, metres); returns the epoch's mean training MPJPE (mm, train mode).

    ``bn_schedule``: "epoch" (VideoPose3D: the momentum of ``epoch / epochs`` for the whole
    epoch) or "step" (``step / total_steps`` for every step, as the project's trainer does).
    """
    if bn_schedule not in ("epoch", "step"):
        raise ValueError(f"bn_schedule must be epoch or step, got {bn_schedule!r}")
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(lr, lr_decay, epoch)
    model.train()
    set_bn_momentum(model, bn_momentum(epoch / epochs))
    total, count = torch.zeros(()), 0
    for batch in batches:
        if bn_schedule == "step":
            set_bn_momentum(
                model, bn_momentum((epoch * steps_per_epoch + count) / (epochs * steps_per_epoch))
            )
        loss = train_step(model, optimizer, batch, num_joints)
        total += loss
        count += 1
    if count == 0:
        raise ValueError(f"epoch {epoch + 1}: no batches")
    return 1000.0 * float(total) / count


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, batch: dict[str, Any], num_joints: int
) -> Tensor:
    """One AMSGrad step on the MPJPE of one host batch; returns the loss (detached)."""
    x, y = torch.from_numpy(np.asarray(batch["inputs"])), torch.from_numpy(np.asarray(batch["targets"]))
    optimizer.zero_grad(set_to_none=True)
    loss = mpjpe(model(x, strided=True), y, num_joints)
    loss.backward()
    optimizer.step()
    return loss.detach()


# ---------------------------------------------------------------------------------- weight transfer


def _param(module: Any, name: str, shape: tuple[int, ...]) -> Tensor:
    """A project layer's parameter as a tensor (zeros where the project stores nothing)."""
    v = getattr(module, name, None)
    arr = np.zeros(shape, np.float32) if v is None else np.asarray(v[...], np.float32)
    return torch.from_numpy(np.array(arr))


def copy_from_project(model: TemporalModel | ChiralTemporalModel, project: Any) -> None:
    """Copies the weights and batch-norm statistics of the project's net (``chiral_jax.models``'
    TemporalModel or ChiralTemporalModel of the same shape) into ``model``, so that both compute
    the same function: the tests' cross-check, and the benchmark's ``--torch-init project``."""
    pairs = [
        (model.expand_conv, project.expand_conv),
        *zip(model.layers_conv, project.layers_conv, strict=True),
        (model.shrink, project.shrink),
    ]
    norms = [(model.expand_bn, project.expand_bn), *zip(model.layers_bn, project.layers_bn, strict=True)]
    with torch.no_grad():
        for ours, theirs in pairs:
            if isinstance(ours, ChiralConv1d):
                ours.weight_even.copy_(_param(theirs, "kernel_even", tuple(ours.weight_even.shape)))
                ours.weight_odd.copy_(_param(theirs, "kernel_odd", tuple(ours.weight_odd.shape)))
                if ours.bias_even is not None:
                    ours.bias_even.copy_(_param(theirs, "bias", tuple(ours.bias_even.shape)))
            else:  # Flax (k, in, out) -> PyTorch (out, in, k)
                ours.weight.copy_(_param(theirs, "kernel", ()).permute(2, 1, 0))
                if ours.bias is not None:
                    ours.bias.copy_(_param(theirs, "bias", tuple(ours.bias.shape)))
        for ours, theirs in norms:
            if isinstance(ours, ChiralBatchNorm1d):
                spec = ours.spec
                ours.weight.copy_(_param(theirs, "scale", (spec.num_orbits,)))
                ours.bias_even.copy_(_param(theirs, "bias", (spec.num_even,)))
                ours.running_mean.copy_(ours.basis_even @ _param(theirs, "mean", (spec.num_even,)))
                ours.running_var.copy_(_param(theirs, "var", (spec.num_orbits,))[ours.orbit])
            else:
                n = ours.num_features
                ours.weight.copy_(_param(theirs, "scale", (n,)))
                ours.bias.copy_(_param(theirs, "bias", (n,)))
                ours.running_mean.copy_(_param(theirs, "mean", (n,)))
                ours.running_var.copy_(_param(theirs, "var", (n,)))
