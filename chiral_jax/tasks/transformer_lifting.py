"""2D -> 3D lifting with transformers (HybrIK-Transformer's lifter), plain and chiral, as a
:class:`~chiral_jax.tasks.runner.Task`.

The lifting task (:class:`~chiral_jax.tasks.lifting.LiftingTask`: data, variants x seeds, metrics,
``results.json`` in the lifting format, so temporal conv nets and transformers share one table) with
the transformer recipe of HybrIK-Transformer (Oreshkin):

* Adam with a linear warmup to ``train.lr`` over ``train.warmup_steps`` steps, then an
  inverse-square-root decay (optax schedules joined by ``optax.join_schedules``);
* **token-subset augmentation**: per batch a keep count drawn uniformly between
  ``train.keep_min`` and all of the source tokens, per sample which tokens, without replacement
  (all tokens at evaluation);
* evaluation with the **average of the last** ``eval.average_last`` epoch checkpoints' weights
  (orbax; :func:`chiral_jax.train.average_checkpoints`).

The net lifts the centre frame of a ``model.frames``-frame window; evaluation runs it on the window
of every test frame. Variants: the chiral transformer at ``model.width`` and at about the plain
net's parameters (``model.equal_params``), the plain one with mirror augmentation (and without, with
``model.baseline_without_augment``), its test-time flip averaging as a ``+ TTA`` row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax import runner, skeletons
from chiral_jax.data import MirrorAugment, PoseWindows
from chiral_jax.data.training_batches import window_epochs
from chiral_jax.models.transformer import ChiralTransformerLifter, TransformerLifter, source_tokens
from chiral_jax.runner import TrainingSetup, Variant
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import lifting
from chiral_jax.tasks.lifting import LiftingData, LiftingTask
from chiral_jax.train.schedules import inverse_sqrt_schedule

__all__ = [
    "TRANSFORMER_LIFTING",
    "TransformerLiftingTask",
    "draw_keep",
    "inverse_sqrt_schedule",
    "keep_batches",
    "make_transformer",
    "train_and_evaluate",
    "transformer_variants",
    "windowed_apply",
]

Array = jax.Array


def draw_keep(rng: np.random.Generator, batch: int, tokens: int, keep_min: float) -> np.ndarray:
    """Token-subset augmentation: ``(batch, tokens)`` booleans; one keep count for the batch,
    uniform over ``ceil(keep_min * tokens) .. tokens``, and per sample a subset of that size drawn
    without replacement."""
    if not 0.0 < keep_min <= 1.0:
        raise ValueError(f"train.keep_min must be in (0, 1], got {keep_min}")
    low = max(1, math.ceil(keep_min * tokens))
    k = int(rng.integers(low, tokens + 1))
    order = np.argsort(rng.random((batch, tokens)), axis=1)
    keep = np.zeros((batch, tokens), bool)
    np.put_along_axis(keep, order[:, :k], True, axis=1)
    return keep


def keep_batches(
    batches: Iterator[dict[str, Any]], *, seed: int, epoch: int, tokens: int, keep_min: float
) -> Iterator[dict[str, Any]]:
    """Adds each batch's token keep mask (:func:`draw_keep`, ``"keep"``: (B, tokens) booleans);
    one generator per (seed, epoch, step, process), so runs are deterministic."""
    for step, batch in enumerate(batches):
        rng = np.random.default_rng((seed, epoch, step, jax.process_index()))
        keep = draw_keep(rng, len(batch["inputs"]), tokens, keep_min)
        yield {"inputs": batch["inputs"], "targets": batch["targets"], "keep": keep}


def transformer_variants(
    model: ml_collections.ConfigDict, augment: bool, skeleton: skeletons.Skeleton = skeletons.H36M
) -> list[Variant]:
    """The comparison of ``model.kind`` at ``model.width`` (:func:`~chiral_jax.runner.comparison_grid`;
    chiral widths are multiples of ``2 * model.heads``)."""

    def params(kind: str, width: int) -> int:
        build = lambda: make_transformer(Variant("", kind, width), skeleton, model)  # noqa: E731
        return runner.num_params(nnx.eval_shape(build))

    return runner.comparison_grid(
        model.kind,
        model.width,
        augment=augment,
        equal_params=model.get("equal_params", True),
        params=params,
        multiple=2 * model.heads,
        baseline_without_augment=model.get("baseline_without_augment", False),
        architecture="transformer",
    )


def make_transformer(
    variant: Variant,
    skeleton: skeletons.Skeleton,
    model: ml_collections.ConfigDict,
    seed: int = 0,
    *,
    twist: bool = False,
) -> nnx.Module:
    """The plain or chiral lifter of ``variant``; ``twist``: also one twist token per joint (the
    net then returns ``{"joints": (B, J * 3), "twist": (B, J, 2)}``)."""
    kw = dict(
        twist=twist,
        frames=model.frames,
        layers=model.num_layers,
        heads=model.heads,
        width=variant.width,
        ffn_layers=model.get("ffn_layers", 3),
        dropout=model.dropout,
        tokens=model.tokens,
        rngs=nnx.Rngs(seed),
    )
    if variant.kind == "baseline":
        j = skeleton.num_joints
        return TransformerLifter(j * 2, j * 3, **kw)
    return ChiralTransformerLifter(skeleton.spec(2), skeleton.spec(3), **kw)


def windowed_apply(
    model: nnx.Module,
    skeleton: skeletons.Skeleton,
    *,
    frames: int,
    flip_average: bool = False,
    output: Callable[[Any], Array] | None = None,
    out_spec: ChiralSpec | None = None,
) -> Callable[[Array], Array]:
    """``(B, chunk + frames - 1, J * 2) -> (B, chunk, J * 3)``: the eval-mode net on the window of
    every output frame (all tokens kept); with ``flip_average`` the test-time flip average.

    ``output``: maps the net's output to ``(N, C)`` channels (e.g. a dict of joints and twists);
    then ``(B, chunk, C)`` comes out, whose mirror ``out_spec`` ``flip_average`` needs (default:
    ``skeleton.spec(3)``, the joints alone).
    """
    if flip_average and output is not None and out_spec is None:
        raise ValueError("windowed_apply: flip_average of a mapped output needs its out_spec")
    flip = (skeleton.spec(2), out_spec or skeleton.spec(3)) if flip_average else None
    net = runner.eval_function(
        model, lambda net, win: net(win) if output is None else output(net(win)), flip=flip
    )

    def apply(x: Array) -> Array:
        b, chunk = x.shape[0], x.shape[1] - frames + 1
        win = jnp.stack([x[:, t : t + frames] for t in range(chunk)], axis=1)
        y = net(win.reshape(b * chunk, frames, x.shape[-1]))
        return y.reshape(b, chunk, y.shape[-1])

    return apply


class TransformerLiftingTask(LiftingTask):
    """Lifting with transformer lifters (see the module doc); data, metrics and tables as lifting."""

    name = "Transformer lifting"

    def variants(self, config: ml_collections.ConfigDict, data: LiftingData) -> list[Variant]:
        return transformer_variants(config.model, config.train.augment, data.skeleton)

    def setup(
        self, variant: Variant, seed: int, data: LiftingData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        m, t = config.model, config.train
        if m.frames < 1 or m.frames % 2 == 0:
            raise ValueError(f"model.frames must be a positive odd number (a centred window), got {m.frames}")
        model = make_transformer(variant, data.skeleton, m, seed)
        windows = PoseWindows.from_sequences(
            data.train, receptive_field=m.frames, flatten=True, with_intrinsics=False
        )
        sk = data.skeleton
        augment = MirrorAugment(0.5, skeleton_in=sk, skeleton_out=sk) if variant.augment else None
        window_batches, steps, _ = window_epochs(windows, t.batch_size, seed=seed, augment=augment)
        n_src = source_tokens(m.tokens, m.frames, sk.num_joints)

        def batches(epoch: int) -> Iterator[dict[str, Any]]:
            it = window_batches(epoch)
            yield from keep_batches(it, seed=seed, epoch=epoch, tokens=n_src, keep_min=t.keep_min)

        j = sk.num_joints

        def loss_fn(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
            pred = model(batch["inputs"], keep=batch["keep"]).reshape(-1, j, 3)
            err = jnp.mean(jnp.linalg.norm(pred - batch["targets"].reshape(-1, j, 3), axis=-1))
            return err, {"mpjpe_mm": 1000 * err}

        tx = optax.adam(inverse_sqrt_schedule(t.lr, t.warmup_steps))
        return TrainingSetup(
            model,
            tx,
            loss_fn,
            batches,
            steps,
            t.epochs,
            bn_momentum=None,
            checkpoints_kept=max(3, config.eval.average_last),
            average_last=config.eval.average_last,
        )

    def evaluate(
        self,
        model: nnx.Module,
        variant: Variant,
        data: LiftingData,
        config: ml_collections.ConfigDict,
        *,
        flip_average: bool = False,
    ) -> dict[str, Any]:
        frames, ev = config.model.frames, config.eval
        return lifting.evaluate(
            model,
            data.test,
            data.skeleton,
            windowed_apply=windowed_apply(model, data.skeleton, frames=frames, flip_average=flip_average),
            receptive_field=frames,
            chunk=ev.get("chunk", 16),
            batch_size=ev.get("batch_size", 16),
        )

    def title(self, results: dict[str, Any]) -> str:
        return "Transformer " + super().title(results)


TRANSFORMER_LIFTING = TransformerLiftingTask()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Runs every variant x seed of ``config``; writes results.json / results.md / plots in ``workdir``."""
    return runner.run(TRANSFORMER_LIFTING, config, workdir)
