"""Seq2seq pose forecasters: :class:`ChiralPoseForecaster` and its plain baseline :class:`PoseForecaster`.

An encoder (stacked recurrent layers) reads the observed 2D poses, each frame with a velocity; a
decoder (stacked recurrent layers, initialized with the encoder's final carries) rolls out
``horizon`` future poses, each the previous pose plus a predicted residual. While training, with
probability ``teacher_forcing`` per sample and step, the decoder's next input is the ground-truth
pose instead of its own prediction; at evaluation it runs free. The rollout is one ``lax.scan``
over decode steps: the whole forecast is jittable.

Inputs per frame: ``[pose (J*D), velocity (J*D)]``; the velocity mirrors like a pose, so the input
spec is :func:`pose_velocity_spec` of the pose spec (the velocity's joints follow the pose's).
``velocity="initial"`` feeds the initial velocity ``pose[1] - pose[0]`` at every step (the paper's
choice); ``"frame"`` feeds each frame's own difference with the previous (0 for the first frame; in
the decoder, the difference of its last two poses); ``"encoder"`` feeds each observed frame's
difference to the encoder only and zeros to the decoder (the motion is summarised in the carries,
not re-injected at every step, where it invites constant-velocity extrapolation).

``zero_head=True`` initializes the read-out to zero: the untrained net forecasts zero velocity
(the last observed pose repeated) and training moves it away from that only where the data pays.

Normalization (``normalize=True``): poses are centred on the mean joint of the last observed frame
and scaled by the RMS joint distance from it over the observed frames, then mapped back. Both are
mirror-compatible (the centre mirrors like a joint, the scale is invariant), so the chiral model
stays exactly equivariant, and it makes the forecast translation- and scale-invariant; a mirror
in pixel coordinates ``x -> W - x`` acts as ``x -> -x`` after centring.

The chiral model is exactly equivariant: mirroring the observed sequence (and the targets, while
teacher forcing with the same random draws) mirrors every forecast step.
"""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import tying
from chiral_jax.nn import ChiralGRU, ChiralLinear, ChiralLSTM
from chiral_jax.skeletons import PENN_ACTION
from chiral_jax.spec import ChiralSpec

__all__ = ["ChiralPoseForecaster", "PoseForecaster", "pose_velocity_spec"]

Array = jax.Array
PENN_2D: ChiralSpec = PENN_ACTION.spec(2)
"""Penn Action 2D poses (13 joints x (x, y), x negated): the forecasters' default pose spec."""
Velocity = Literal["initial", "frame", "encoder"]
VELOCITIES = ("initial", "frame", "encoder")


def pose_velocity_spec(pose_spec: ChiralSpec) -> ChiralSpec:
    """Spec of ``[pose, velocity]`` frames: the pose's joints, then as many velocity joints.

    Velocity joint ``J + j`` mirrors like pose joint ``j`` (same partner offset by ``J``, same
    negated coordinates), e.g. 52 channels for Penn Action's 13 joints x 2.
    """
    n = pose_spec.num_joints

    def both(idx: tuple[int, ...]) -> tuple[int, ...]:
        return idx + tuple(j + n for j in idx)

    return ChiralSpec(
        both(pose_spec.left), both(pose_spec.right), both(pose_spec.center), pose_spec.dim, pose_spec.negated
    )


def _normalization(observed: Array, spec: ChiralSpec, eps: float = 1e-6) -> tuple[Array, Array]:
    """Centre ``(batch, 1, D)`` tiled to ``(batch, 1, J*D)`` and scale ``(batch, 1, 1)``."""
    b, t, _ = observed.shape
    joints = observed.reshape(b, t, spec.num_joints, spec.dim)
    centre = jnp.mean(joints[:, -1], axis=1)  # (b, D): mirrors like one joint
    centred = joints - centre.reshape(b, 1, 1, spec.dim)
    scale = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(centred), axis=-1), axis=(1, 2)) + eps)  # invariant
    return jnp.tile(centre, (1, spec.num_joints)).reshape(b, 1, spec.size), scale.reshape(b, 1, 1)


class _Forecaster(nnx.Module):
    """Shared rollout; subclasses provide ``_encode``, ``_decode_step`` and the attributes below."""

    pose_spec: ChiralSpec
    horizon: int
    teacher_forcing: float
    velocity: Velocity
    normalize: bool
    deterministic: bool

    def _setup_common(
        self,
        pose_spec: ChiralSpec,
        horizon: int,
        teacher_forcing: float,
        velocity: Velocity,
        normalize: bool,
        rngs: nnx.Rngs,
    ) -> None:
        name = type(self).__name__
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"{name}: horizon must be a positive int, got {horizon!r}")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(
                f"{name}: teacher_forcing must be a probability in [0, 1], got {teacher_forcing}"
            )
        if velocity not in VELOCITIES:
            raise ValueError(f"{name}: velocity must be one of {VELOCITIES}, got {velocity!r}")
        self.pose_spec, self.horizon = pose_spec, horizon
        self.teacher_forcing, self.velocity, self.normalize = teacher_forcing, velocity, normalize
        self.deterministic = False  # .eval() sets it: free-running decoding
        self.rngs = rngs["teacher_forcing"].fork()

    def _encode(self, features: Array) -> Any:
        raise NotImplementedError

    def _decode_step(self, carries: Any, features: Array) -> tuple[Any, Array]:
        raise NotImplementedError

    def _check(self, observed: Array, targets: Array | None, horizon: int) -> None:
        name, size = type(self).__name__, self.pose_spec.size
        if getattr(observed, "ndim", 0) != 3 or observed.shape[-1] != size or observed.shape[1] < 1:
            raise ValueError(
                f"{name}: expected observed poses (batch, frames >= 1, {size}), got "
                f"{tuple(getattr(observed, 'shape', ()))}"
            )
        if targets is not None and tuple(targets.shape) != (observed.shape[0], horizon, size):
            raise ValueError(
                f"{name}: expected targets (batch, horizon, channels) = "
                f"{(observed.shape[0], horizon, size)}, got {tuple(targets.shape)}"
            )

    def __call__(
        self,
        observed: Array,
        targets: Array | None = None,
        *,
        horizon: int | None = None,
        deterministic: bool | None = None,
    ) -> Array:
        """Forecasts the next ``horizon`` poses.

        Args:
          observed: ``(batch, frames, pose_spec.size)`` observed poses (with one frame, the
            velocity input is zero).
          targets: ``(batch, horizon, pose_spec.size)`` ground truth, used for teacher forcing
            while training (ignored at evaluation or with ``teacher_forcing=0``).
          horizon: steps to forecast (default ``self.horizon``).
          deterministic: free-running decoding (default ``self.deterministic``, see ``.eval()``).

        Returns:
          ``(batch, horizon, pose_spec.size)`` forecast poses, in the coordinates of ``observed``.
        """
        horizon = self.horizon if horizon is None else horizon
        self._check(observed, targets, horizon)
        det = self.deterministic if deterministic is None else deterministic
        if self.normalize:
            centre, scale = _normalization(observed, self.pose_spec)
        else:
            centre = jnp.zeros((observed.shape[0], 1, self.pose_spec.size), observed.dtype)
            scale = jnp.ones((observed.shape[0], 1, 1), observed.dtype)
        obs = (observed - centre) / scale
        if obs.shape[1] == 1:  # the present pose alone: no velocity is known
            vel = jnp.zeros_like(obs)
        elif self.velocity == "initial":
            vel = jnp.broadcast_to(obs[:, 1:2] - obs[:, 0:1], obs.shape)
        else:
            vel = jnp.concatenate([jnp.zeros_like(obs[:, :1]), obs[:, 1:] - obs[:, :-1]], axis=1)
        carries = self._encode(jnp.concatenate([obs, vel], axis=-1))

        batch = observed.shape[0]
        use_teacher = targets is not None and not det and self.teacher_forcing > 0.0
        if use_teacher:
            truth = (targets - centre) / scale
            force = jax.random.bernoulli(self.rngs(), self.teacher_forcing, (horizon, batch, 1))
        else:
            truth = jnp.zeros((batch, horizon, self.pose_spec.size), obs.dtype)
            force = jnp.zeros((horizon, batch, 1), bool)
        if self.velocity == "initial":
            initial_vel = vel[:, 0]
        elif self.velocity == "frame":
            initial_vel = vel[:, -1]
        else:  # "encoder": the decoder sees poses alone
            initial_vel = jnp.zeros_like(vel[:, 0])

        def body(state: tuple[Any, Array, Array], step: tuple[Array, Array]) -> tuple[Any, Array]:
            carries, prev, v = state
            true_pose, forced = step
            carries, residual = self._decode_step(carries, jnp.concatenate([prev, v], axis=-1))
            pred = prev + residual
            nxt = jnp.where(forced, true_pose, pred)
            v = nxt - prev if self.velocity == "frame" else v
            return (carries, nxt, v), pred

        _, preds = jax.lax.scan(body, (carries, obs[:, -1], initial_vel), (jnp.moveaxis(truth, 1, 0), force))
        return jnp.moveaxis(preds, 0, 1) * scale + centre


class ChiralPoseForecaster(_Forecaster):
    """Exactly equivariant seq2seq forecaster: chiral recurrent encoder and decoder, chiral read-out.

    Args:
      pose_spec: spec of one pose (default Penn Action 2D, 13 joints x (x, y), x negated).
      hidden: hidden spec of every layer, or an int width (``ChiralSpec.hidden(n, negated=negated)``).
      negated: for an int width: hidden channels negated by the mirror (the paper's choice) or not.
      num_layers: stacked recurrent layers in the encoder and in the decoder.
      cell: ``"lstm"`` or ``"gru"``.
      horizon: forecast steps (16).
      teacher_forcing: probability, per sample and step, of feeding the ground truth while training.
      velocity: ``"initial"``, ``"frame"`` or ``"encoder"`` (module docstring).
      normalize: centre and scale inside the model (module docstring).
      zero_head: zero-initialized read-out: the untrained net forecasts zero velocity.
      dropout_rate: between the encoder's layers while training.
      recurrent_init: LSTM recurrent kernels ``"lecun"`` (per even/odd block) or ``"orthogonal"``
        (:func:`~chiral_jax.tying.square_orthogonal_init`: every gate's dense recurrent map
        orthogonal, as the baseline's ``nnx.LSTMCell`` draws them).
      forget_bias: the LSTM's forget-gate bias at init (the baseline's ``nnx.LSTMCell``: 0).
      dtype, param_dtype: compute and parameter dtypes (:mod:`chiral_jax.nn.precision`); the pose
        rollout stays in the observed poses' dtype.
    """

    def __init__(
        self,
        pose_spec: ChiralSpec = PENN_2D,
        *,
        hidden: int | ChiralSpec = 256,
        negated: bool = False,
        num_layers: int = 2,
        cell: Literal["lstm", "gru"] = "lstm",
        horizon: int = 16,
        teacher_forcing: float = 0.5,
        velocity: Velocity = "initial",
        normalize: bool = True,
        zero_head: bool = False,
        dropout_rate: float = 0.0,
        recurrent_init: Literal["lecun", "orthogonal"] = "lecun",
        forget_bias: float = 1.0,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self._setup_common(pose_spec, horizon, teacher_forcing, velocity, normalize, rngs)
        if recurrent_init not in ("lecun", "orthogonal"):
            raise ValueError(
                "ChiralPoseForecaster: recurrent_init must be 'lecun' or 'orthogonal', "
                f"got {recurrent_init!r}"
            )
        if cell not in ("lstm", "gru"):
            raise ValueError(f"ChiralPoseForecaster: cell must be 'lstm' or 'gru', got {cell!r}")
        self.in_spec = pose_velocity_spec(pose_spec)
        hid = hidden if isinstance(hidden, ChiralSpec) else ChiralSpec.hidden(hidden, negated=negated)
        self.hidden_spec = hid
        layer = ChiralLSTM if cell == "lstm" else ChiralGRU
        self.dtype = dtype
        kw = {"num_layers": num_layers, "dtype": dtype, "param_dtype": param_dtype, "rngs": rngs}
        if cell == "lstm":
            rec = (
                tying.square_orthogonal_init if recurrent_init == "orthogonal" else tying.default_kernel_init
            )
            kw.update(forget_bias=forget_bias, recurrent_kernel_init=rec)
        self.encoder = layer(self.in_spec, hid, dropout_rate=dropout_rate, **kw)
        self.decoder = layer(self.in_spec, hid, **kw)
        head_init = {"kernel_init": nnx.initializers.zeros_init()} if zero_head else {}
        self.head = ChiralLinear(hid, pose_spec, dtype=dtype, param_dtype=param_dtype, rngs=rngs, **head_init)

    def _encode(self, features: Array) -> Any:
        return self.encoder(features)[1]

    def _decode_step(self, carries: Any, features: Array) -> tuple[Any, Array]:
        carries, h = self.decoder.step(carries, features)
        return carries, self.head(h)


class PoseForecaster(_Forecaster):
    """The plain baseline: Flax cells (``nnx.LSTMCell`` / ``nnx.GRUCell``) and an ``nnx.Linear``
    read-out, with the same sizes, inputs, normalization and rollout as :class:`ChiralPoseForecaster`.

    Args: as :class:`ChiralPoseForecaster`, with ``hidden`` an int width.
    """

    def __init__(
        self,
        pose_spec: ChiralSpec = PENN_2D,
        *,
        hidden: int = 256,
        num_layers: int = 2,
        cell: Literal["lstm", "gru"] = "lstm",
        horizon: int = 16,
        teacher_forcing: float = 0.5,
        velocity: Velocity = "initial",
        normalize: bool = True,
        zero_head: bool = False,
        dropout_rate: float = 0.0,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self._setup_common(pose_spec, horizon, teacher_forcing, velocity, normalize, rngs)
        if cell not in ("lstm", "gru"):
            raise ValueError(f"PoseForecaster: cell must be 'lstm' or 'gru', got {cell!r}")
        cls = nnx.LSTMCell if cell == "lstm" else nnx.GRUCell
        self.cell_kind, self.hidden_size, self.dtype = cell, hidden, dtype
        in_size = 2 * pose_spec.size

        def cells() -> nnx.List:
            sizes = [in_size] + [hidden] * (num_layers - 1)
            return nnx.List([cls(s, hidden, dtype=dtype, param_dtype=param_dtype, rngs=rngs) for s in sizes])

        self.encoder = nnx.List(
            [nnx.RNN(c, return_carry=True, rngs=False) for c in cells()]  # type: ignore[arg-type]
        )
        self.decoder = cells()
        self.dropout = nnx.Dropout(dropout_rate, rngs=rngs)
        head_init = {"kernel_init": nnx.initializers.zeros_init()} if zero_head else {}
        self.head = nnx.Linear(
            hidden, pose_spec.size, dtype=dtype, param_dtype=param_dtype, rngs=rngs, **head_init
        )

    def _encode(self, features: Array) -> Any:
        carries = []
        h = features
        # Carries in the compute dtype: the cells return them in it (a scan keeps its carry's type).
        zeros = jnp.zeros((features.shape[0], self.hidden_size), self.dtype or features.dtype)
        for i, rnn in enumerate(self.encoder):
            initial = (zeros, zeros) if self.cell_kind == "lstm" else zeros
            carry, h = rnn(h, initial_carry=initial)
            carries.append(carry)
            if i + 1 < len(self.encoder):
                h = self.dropout(h)
        return tuple(carries)

    def _decode_step(self, carries: Any, features: Array) -> tuple[Any, Array]:
        new = []
        h = features
        for carry, cell in zip(carries, self.decoder, strict=True):
            carry, h = cell(carry, h)
            new.append(carry)
        return tuple(new), self.head(h)
