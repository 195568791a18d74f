"""Task networks built from :mod:`chiral_jax.nn`, each with its plain baseline."""

from chiral_jax.models.action import ActionNet, ChiralActionNet
from chiral_jax.models.graph_action import ChiralGraphActionNet, GraphActionNet
from chiral_jax.models.mlp import MLP, ChiralMLP
from chiral_jax.models.seq2seq import ChiralPoseForecaster, PoseForecaster, pose_velocity_spec
from chiral_jax.models.temporal import ChiralTemporalModel, TemporalModel
from chiral_jax.models.trajectory import ROOT_SPEC, LifterWithTrajectory, with_root, with_root_spec
from chiral_jax.models.transformer import ChiralTransformerLifter, TransformerLifter

__all__ = [
    "MLP",
    "ROOT_SPEC",
    "ActionNet",
    "ChiralActionNet",
    "ChiralGraphActionNet",
    "ChiralMLP",
    "ChiralPoseForecaster",
    "ChiralTemporalModel",
    "ChiralTransformerLifter",
    "GraphActionNet",
    "LifterWithTrajectory",
    "PoseForecaster",
    "TemporalModel",
    "TransformerLifter",
    "pose_velocity_spec",
    "with_root",
    "with_root_spec",
]
