"""The forecasting recipe's options: held-out validation videos, zero-velocity start (zero read-out),
velocity fed to the encoder only, the losses and the learning-rate schedule."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from chiral_jax import testing
from chiral_jax.data.forecast_data import training_samples, video_group
from chiral_jax.models import ChiralPoseForecaster, PoseForecaster
from chiral_jax.skeletons import PENN_ACTION
from chiral_jax.tasks import forecasting
from chiral_jax.train.schedules import run_schedule

SPEC = PENN_ACTION.spec(2)


def _video(vid: str, frames: int = 30) -> forecasting.Video2D:
    rng = np.random.default_rng(abs(hash(vid)) % 2**32)
    return forecasting.Video2D(vid, "walk", rng.normal(size=(frames, 13, 2)).astype(np.float32),
                               np.ones((frames, 13), bool))  # fmt: skip


def test_split_validation_holds_out_whole_recordings():
    # Two camera views of each take and two clips of each view: a take goes to one side only.
    keys = [f"S{s}/take {t}/cam{c}#{a}" for s in range(2) for t in range(5) for c in (0, 1) for a in (0, 40)]
    videos = [_video(k) for k in keys]
    train, val = forecasting.split_validation(videos, 0.2)
    group = lambda v: v.video_id.split("#")[0].rsplit("/", 1)[0]  # noqa: E731
    assert {group(v) for v in train}.isdisjoint({group(v) for v in val})
    assert len(val) == 2 * 4 and len(train) + len(val) == len(videos)  # 2 of 10 takes, 4 videos each
    again = forecasting.split_validation(videos, 0.2)
    assert [v.video_id for v in again[1]] == [v.video_id for v in val]  # a fixed draw
    penn = [_video(f"{i:04d}") for i in range(1, 11)]  # Penn Action: every video its own recording
    assert len(forecasting.split_validation(penn, 0.3)[1]) == 3
    with pytest.raises(ValueError, match=r"data\.val_fraction must be 0 \(off\) or in \(0, 1\), got 1\.0"):
        forecasting.split_validation(penn, 1.0)
    with pytest.raises(ValueError, match=r"1 recording\(s\) in the training split, need >= 2"):
        forecasting.split_validation(penn[:1], 0.5)


@pytest.mark.parametrize("cls", [ChiralPoseForecaster, PoseForecaster])
def test_zero_head_starts_at_zero_velocity(cls):
    model = cls(hidden=8, num_layers=1, zero_head=True, rngs=nnx.Rngs(0))
    model.eval()
    obs = jax.random.normal(jax.random.key(0), (2, 2, SPEC.size)) + 3.0
    y = jax.jit(testing.as_function(model))(obs)
    np.testing.assert_allclose(y, jnp.broadcast_to(obs[:, -1:], y.shape), atol=1e-5)


@pytest.mark.x64
@pytest.mark.slow  # a float64 compilation of the rollout
def test_encoder_velocity_equivariant_and_used():
    model = ChiralPoseForecaster(hidden=12, num_layers=1, velocity="encoder", rngs=nnx.Rngs(0))
    testing.randomize_params(model, seed=2, scale=0.3, dtype=jnp.float64)
    model.eval()
    fn = jax.jit(testing.as_function(model))
    obs = jax.random.normal(jax.random.key(1), (3, 2, SPEC.size), jnp.float64)
    testing.assert_equivariant(fn, obs, SPEC, SPEC)
    # The velocity reaches the forecast through the encoder: a still pose forecasts otherwise.
    still = jnp.broadcast_to(obs[:, -1:], obs.shape)
    assert not np.allclose(fn(obs), fn(still))


def test_losses_and_schedule():
    model = PoseForecaster(hidden=8, num_layers=1, zero_head=True, teacher_forcing=0.0, rngs=nnx.Rngs(0))
    obs = np.zeros((1, 2, SPEC.size), np.float32)
    targets = np.zeros((1, 16, SPEC.size), np.float32)
    targets[..., 0], targets[..., 1] = 0.3, 0.4  # joint 0 is 0.5 away at every step
    visible = np.zeros((1, 16, 13), bool)
    visible[..., 0] = True
    batch = {"observed": obs, "targets": targets, "visible": visible}
    want = {"mse": 0.25, "l1": 0.7, "dist": 0.5}
    for kind, value in want.items():
        loss, metrics = forecasting.forecast_loss(model, batch, kind)
        assert float(loss) == pytest.approx(value, rel=1e-5), kind
        assert float(metrics["pck"]) == 0.0
    train = ml_collections.ConfigDict({"lr": 1e-3, "lr_schedule": "cosine"})
    schedule = run_schedule(train, 100)
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(100)) == pytest.approx(0.0)
    train.lr_schedule = "step"
    with pytest.raises(ValueError, match=r"train\.lr_schedule must be constant or cosine, got 'step'"):
        run_schedule(train, 100)
    with pytest.raises(ValueError, match="velocity must be one of"):
        ChiralPoseForecaster(velocity="last", rngs=nnx.Rngs(0))


def test_training_augmentation_reverse_and_strides():
    from chiral_jax.data.forecasting import forecast_samples, reversed_video

    video = _video("0001", frames=40)  # protocol stride (40 - 1) // 18 = 2
    back = reversed_video(video)
    assert back.video_id == "0001~rev"
    np.testing.assert_array_equal(back.keypoints_px[0], video.keypoints_px[-1])
    protocol = forecast_samples([video], actions=("walk",))
    slow = forecast_samples([video], stride_factor=2.0, actions=("walk",))  # stride 4: frames 0, 4, 8, ...
    np.testing.assert_array_equal(slow["poses"][0, 1], protocol["poses"][4, 0])
    with pytest.raises(ValueError, match="stride_factor must be > 0, got 0"):
        forecast_samples([video], stride_factor=0)
    data = ml_collections.ConfigDict({"train_reverse": True, "train_stride_factors": (1.0, 2.0)})
    kw = {"observed": 2, "future": 16, "actions": ("walk",)}
    samples = training_samples([video], data, kw)
    assert len(samples["poses"]) == 4 * 40  # two directions x two strides, one sample per frame
    assert video_group("0001~rev") == "0001"  # a reversed video stays with its recording
