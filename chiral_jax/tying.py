"""Parameter tying as pure functions: free-parameter pytrees <-> dense equivariant weights.

Every linear map ``W`` with ``T_out W = W T_in`` maps the even part of its input to the even part of
its output and the odd part to the odd part, and nothing across (docs/design.md section 3):

    W = merge_out o [A 0; 0 B] o split_in      A: (num_even_in, num_even_out)
                                                B: (num_odd_in,  num_odd_out)

so the free parameters of a chiral linear layer are the two blocks ``{"even": A, "odd": B}``; they
span the *complete* space of equivariant maps (``num_free_linear`` is the dimension of the null space
of ``W -> T_out W - W T_in``). A bias is equivariant iff it lies in the even output part: its free
parameters are its even coordinates. A 1-D conv kernel is one ``(A, B)`` per tap. A batch-norm scale
is one value per channel orbit (tied across each left/right pair); its shift is an equivariant bias.

Conventions: weights act on the last axis as ``y = x @ W``, so ``W`` is ``(in, out)`` and a conv
kernel ``(kernel_size, in, out)`` (Flax's layout). Nothing here imports Flax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax.spec import ChiralSpec

__all__ = [
    "INIT_SCHEMES",
    "InitScheme",
    "Initializer",
    "KernelFree",
    "batch_norm_bias",
    "batch_norm_scale",
    "check_kernel",
    "conv_kernel",
    "default_kernel_init",
    "equivariance_constraint",
    "graph_adjacency",
    "init_batch_norm",
    "init_bias",
    "init_conv",
    "init_graph",
    "init_linear",
    "initializers",
    "linear_bias",
    "linear_weight",
    "num_free_bias",
    "num_free_conv",
    "num_free_linear",
    "project_batch_norm",
    "project_bias",
    "project_conv",
    "project_linear",
    "square_orthogonal_init",
    "torch_bias_init",
    "torch_kernel_init",
]

Array = jax.Array
KernelFree = dict[str, Array]
"""``{"even": (..., num_even_in, num_even_out), "odd": (..., num_odd_in, num_odd_out)}``."""
Initializer = Callable[[Array, tuple[int, ...], Any], Array]

default_kernel_init: Initializer = jax.nn.initializers.lecun_normal()
"""Flax's default, N(0, 1/fan_in) truncated. Applied per block, so each block's fan-in is its own
input half: with inputs of unit variance in every basis direction the output variance matches a
dense layer's."""

torch_kernel_init: Initializer = jax.nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
"""PyTorch's default for ``nn.Linear`` / ``nn.Conv1d`` weights: ``kaiming_uniform_(a=sqrt(5))``,
i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (std ``sqrt(1 / (3 fan_in))``), with PyTorch's fan-in
``in_channels * kernel_size``, which is also Flax's for a ``(k, in, out)`` kernel. Flax has no
initializer of this name, so it is spelt out here; ``tests/test_init.py`` checks its bound and std."""


def square_orthogonal_init(key: Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Array:
    """A ``(rows, cols)`` recurrent kernel drawn as orthogonal ``(rows, rows)`` squares side by side
    (the last one cut to ``cols``): for a fused gate kernel ``(h, 4 h)`` each gate's square is
    orthogonal, which is what Flax's ``nnx.LSTMCell`` draws per gate (its recurrent default). Drawn
    per even/odd block, the dense recurrent map of each gate is then orthogonal too (the bases are
    orthonormal)."""
    rows, cols = int(shape[-2]), int(shape[-1])
    keys = jax.random.split(key, -(-cols // rows))
    ortho = jax.nn.initializers.orthogonal()
    return jnp.concatenate([ortho(k, (rows, rows), dtype) for k in keys], axis=1)[:, :cols]


InitScheme = Literal["torch", "lecun"]
"""How a model draws its weights: ``"torch"`` (PyTorch's defaults, what the VideoPose3D recipes were
tuned with) or ``"lecun"`` (Flax's: lecun-normal kernels, zero biases)."""
INIT_SCHEMES: tuple[str, ...] = get_args(InitScheme)


def torch_bias_init(fan_in: int) -> Initializer:
    """PyTorch's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the layer's kernel fan-in."""
    if int(fan_in) < 0:
        raise ValueError(f"torch_bias_init: fan_in must be >= 0, got {fan_in}")
    if int(fan_in) == 0:
        return jax.nn.initializers.zeros
    bound = 1.0 / np.sqrt(int(fan_in))

    def init(key: Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Array:
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def initializers(scheme: str, fan_in: int, what: str = "init") -> tuple[Initializer, Initializer]:
    """``(kernel_init, bias_init)`` of an init scheme for a layer whose kernel has ``fan_in`` inputs.

    For a chiral layer pass the fan-in of its even block (``kernel_size * in_spec.num_even``): each
    block is then drawn as a PyTorch layer of its own half size (docs/design.md, "Initialization").
    ``what`` names the argument or config key in the error.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"{what} must be one of {', '.join(INIT_SCHEMES)}, got {scheme!r}")
    if scheme == "torch":
        return torch_kernel_init, torch_bias_init(fan_in)
    return default_kernel_init, jax.nn.initializers.zeros


def _init_block(init: Initializer, key: Array, shape: tuple[int, ...], dtype: Any) -> Array:
    # An empty block (e.g. the odd block into an invariant output) has nothing to draw, and Flax
    # initializers divide by its zero fan.
    if 0 in shape:
        return jnp.zeros(shape, dtype)
    return init(key, shape, dtype)


def check_kernel(free: KernelFree, in_spec: ChiralSpec, out_spec: ChiralSpec, what: str) -> None:
    if not isinstance(free, dict) or set(free) != {"even", "odd"}:
        raise ValueError(f"{what}: expected a dict with keys 'even' and 'odd', got {type(free)}")
    for key, n_in, n_out in (
        ("even", in_spec.num_even, out_spec.num_even),
        ("odd", in_spec.num_odd, out_spec.num_odd),
    ):
        shape = tuple(free[key].shape)
        if shape[-2:] != (n_in, n_out):
            raise ValueError(
                f"{what}: the {key} block must end in ({n_in}, {n_out}) for in_spec {in_spec!r} -> "
                f"out_spec {out_spec!r}, got shape {shape}"
            )


# ---------------------------------------------------------------------------------- linear


def num_free_linear(in_spec: ChiralSpec, out_spec: ChiralSpec) -> int:
    """Dimension of the space of equivariant ``(in_spec.size, out_spec.size)`` matrices."""
    return in_spec.num_even * out_spec.num_even + in_spec.num_odd * out_spec.num_odd


def init_linear(
    key: Array,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    *,
    kernel_init: Initializer = default_kernel_init,
    dtype: Any = jnp.float32,
) -> KernelFree:
    """Random free parameters ``{"even": (nE_in, nE_out), "odd": (nO_in, nO_out)}``."""
    k_even, k_odd = jax.random.split(key)
    return {
        "even": _init_block(kernel_init, k_even, (in_spec.num_even, out_spec.num_even), dtype),
        "odd": _init_block(kernel_init, k_odd, (in_spec.num_odd, out_spec.num_odd), dtype),
    }


def _basis_matrices(spec: ChiralSpec, dtype: Any) -> tuple[Array, Array]:
    even, odd = spec.basis()
    return jnp.asarray(even, dtype), jnp.asarray(odd, dtype)


def linear_weight(free: KernelFree, in_spec: ChiralSpec, out_spec: ChiralSpec) -> Array:
    """The dense equivariant weight ``(in_spec.size, out_spec.size)`` of free parameters ``free``.

    Also works on leading batch dims of the blocks (``(..., n_in, n_out)``), e.g. conv taps.
    """
    check_kernel(free, in_spec, out_spec, "linear_weight")
    dtype = jnp.result_type(free["even"], free["odd"])
    s_even, s_odd = _basis_matrices(in_spec, dtype)
    # W = S_even A M_even + S_odd B M_odd, with out_spec.merge applying the M's on the last axis.
    return out_spec.merge(
        jnp.einsum("ie,...eo->...io", s_even, free["even"]),
        jnp.einsum("id,...do->...io", s_odd, free["odd"]),
    )


def project_linear(weight: Array, in_spec: ChiralSpec, out_spec: ChiralSpec) -> KernelFree:
    """Free parameters of the equivariant map nearest to ``weight`` (in the Frobenius norm).

    ``linear_weight(project_linear(W))`` is the orthogonal projection of ``W`` onto the equivariant
    subspace, i.e. the average ``(W + T_in^T W T_out) / 2``: use it to symmetrize a trained dense
    layer. ``project_linear(linear_weight(free)) == free``.
    """
    weight = jnp.asarray(weight)
    if weight.shape[-2:] != (in_spec.size, out_spec.size):
        raise ValueError(
            f"project_linear: expected a weight ending in ({in_spec.size}, {out_spec.size}), got "
            f"{tuple(weight.shape)}"
        )
    s_even, s_odd = _basis_matrices(in_spec, weight.dtype)
    w_even, w_odd = out_spec.split(weight)  # (..., in, nE_out), (..., in, nO_out)
    return {
        "even": jnp.einsum("ie,...io->...eo", s_even, w_even),
        "odd": jnp.einsum("id,...io->...do", s_odd, w_odd),
    }


# ---------------------------------------------------------------------------------- bias


def num_free_bias(out_spec: ChiralSpec) -> int:
    return out_spec.num_even


def init_bias(
    out_spec: ChiralSpec,
    dtype: Any = jnp.float32,
    *,
    key: Array | None = None,
    bias_init: Initializer | None = None,
) -> Array:
    """Free bias ``(out_spec.num_even,)``: zeros, or ``bias_init(key, shape, dtype)`` when given."""
    shape = (out_spec.num_even,)
    if bias_init is None:
        return jnp.zeros(shape, dtype)
    if key is None:
        raise ValueError("init_bias: bias_init needs a key")
    return _init_block(bias_init, key, shape, dtype)


def linear_bias(free_bias: Array, out_spec: ChiralSpec) -> Array:
    """The dense equivariant bias ``(out_spec.size,)``: zero on negated centers, pairs s-signed."""
    if free_bias.shape[-1:] != (out_spec.num_even,):
        raise ValueError(
            f"linear_bias: expected {out_spec.num_even} free bias values (the even part of "
            f"{out_spec!r}), got shape {tuple(free_bias.shape)}"
        )
    zeros = jnp.zeros((*free_bias.shape[:-1], out_spec.num_odd), free_bias.dtype)
    return out_spec.merge(free_bias, zeros)


def project_bias(bias: Array, out_spec: ChiralSpec) -> Array:
    """Free bias of the equivariant bias nearest to ``bias`` (its even coordinates)."""
    out_spec.check_channels(bias, "project_bias")
    return out_spec.split(jnp.asarray(bias))[0]


# ---------------------------------------------------------------------------------- conv


def num_free_conv(in_spec: ChiralSpec, out_spec: ChiralSpec, kernel_size: int) -> int:
    return kernel_size * num_free_linear(in_spec, out_spec)


def init_conv(
    key: Array,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    kernel_size: int,
    *,
    kernel_init: Initializer = default_kernel_init,
    dtype: Any = jnp.float32,
) -> KernelFree:
    """Random free conv parameters: ``{"even": (k, nE_in, nE_out), "odd": (k, nO_in, nO_out)}``.

    Flax initializers take the fan-in of a ``(k, in, out)`` kernel as ``k * in``, as for a dense conv.
    """
    if int(kernel_size) < 1:
        raise ValueError(f"init_conv: kernel_size must be >= 1, got {kernel_size}")
    k_even, k_odd = jax.random.split(key)
    k = int(kernel_size)
    return {
        "even": _init_block(kernel_init, k_even, (k, in_spec.num_even, out_spec.num_even), dtype),
        "odd": _init_block(kernel_init, k_odd, (k, in_spec.num_odd, out_spec.num_odd), dtype),
    }


def conv_kernel(free: KernelFree, in_spec: ChiralSpec, out_spec: ChiralSpec) -> Array:
    """The dense equivariant conv kernel ``(k, in_spec.size, out_spec.size)``."""
    if free["even"].ndim != 3 or free["odd"].ndim != 3:
        raise ValueError(
            "conv_kernel: expected blocks of rank 3 (kernel_size, in, out), got "
            f"{free['even'].shape} and {free['odd'].shape}"
        )
    return linear_weight(free, in_spec, out_spec)


def project_conv(kernel: Array, in_spec: ChiralSpec, out_spec: ChiralSpec) -> KernelFree:
    """Free parameters of the equivariant conv kernel nearest to ``kernel`` (k, in, out)."""
    if jnp.ndim(kernel) != 3:
        raise ValueError(f"project_conv: expected a (k, in, out) kernel, got {jnp.shape(kernel)}")
    return project_linear(kernel, in_spec, out_spec)


# ---------------------------------------------------------------------------------- batch norm


def init_batch_norm(spec: ChiralSpec, dtype: Any = jnp.float32) -> dict[str, Array]:
    """``{"scale": ones (num_orbits,), "bias": zeros (num_even,)}``: one scale per channel orbit."""
    return {"scale": jnp.ones((spec.num_orbits,), dtype), "bias": init_bias(spec, dtype)}


def batch_norm_scale(free_scale: Array, spec: ChiralSpec) -> Array:
    """Per-channel scale ``(size,)``: each left/right pair shares one value."""
    if free_scale.shape[-1:] != (spec.num_orbits,):
        raise ValueError(
            f"batch_norm_scale: expected {spec.num_orbits} scales (one per channel orbit of "
            f"{spec!r}), got shape {tuple(free_scale.shape)}"
        )
    return spec.orbits_to_channels(free_scale)


def batch_norm_bias(free_bias: Array, spec: ChiralSpec) -> Array:
    """Per-channel shift ``(size,)``: an equivariant bias."""
    return linear_bias(free_bias, spec)


def project_batch_norm(scale: Array, bias: Array, spec: ChiralSpec) -> dict[str, Array]:
    """Free batch-norm parameters nearest to a dense per-channel ``scale`` and ``bias`` (size,)."""
    spec.check_channels(scale, "project_batch_norm scale")
    return {"scale": spec.channels_to_orbits(jnp.asarray(scale)), "bias": project_bias(bias, spec)}


def equivariance_constraint(in_spec: ChiralSpec, out_spec: ChiralSpec) -> np.ndarray:
    """The constraint ``C`` with ``C @ W.reshape(-1) == 0`` iff ``y = x @ W`` is equivariant.

    Equivariance of ``x @ W`` (``W`` of shape (in, out), row-major) reads ``M_in^T W = W M_out^T``
    with ``M`` the spec matrices, i.e. ``C = kron(M_in^T, I_out) - kron(I_in, M_out)``. Its null
    space is the space of equivariant weights; the tests compare its dimension with
    :func:`num_free_linear`. Dense ``(in*out, in*out)``: meant for small specs.
    """
    m_in, m_out = in_spec.matrix(), out_spec.matrix()
    # (x M_in^T) W = (x W) M_out^T for all x  <=>  M_in^T W - W M_out^T = 0.
    eye_in, eye_out = np.eye(in_spec.size), np.eye(out_spec.size)
    return np.kron(m_in.T, eye_out) - np.kron(eye_in, m_out)


# ---------------------------------------------------------------------------------- graph conv


def init_graph(
    key: Array,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    num_partitions: int,
    *,
    kernel_init: Initializer = default_kernel_init,
    dtype: Any = jnp.float32,
) -> KernelFree:
    """Free channel maps of a graph conv, one chiral linear map per partition:
    ``{"even": (K, nE_in, nE_out), "odd": (K, nO_in, nO_out)}`` (each block drawn with its own
    fan-in, as :func:`init_linear`)."""
    keys = jax.random.split(key, num_partitions)
    blocks = [init_linear(k, in_spec, out_spec, kernel_init=kernel_init, dtype=dtype) for k in keys]
    return {half: jnp.stack([b[half] for b in blocks]) for half in ("even", "odd")}


def graph_adjacency(free: Array, base: Array | np.ndarray, permutation: Any) -> Array:
    """Mirror-symmetric joint mixing ``(K, J, J)``: ``base + (B + B[:, P][:, :, P]) / 2``.

    ``free`` is the learned part ``B`` ``(K, J, J)``; ``base`` a fixed, already symmetric
    adjacency (e.g. :func:`chiral_jax.skeletons.graph_partitions`); ``permutation`` the mirror's
    joint permutation ``P`` (an involution). Averaging ``B`` with its mirror image is the
    projection onto the matrices that commute with ``P``, so the result is equivariant for any
    ``free``.
    """
    p = np.asarray(permutation, np.int64)
    sym = 0.5 * (free + free[:, p][:, :, p])
    return jnp.asarray(base, free.dtype) + sym
