"""Flax NNX modules over :mod:`chiral_jax.functional` (one file per family)."""

from chiral_jax.nn.attention import ChiralMultiHeadAttention, MultiHeadAttention, TokenLinear
from chiral_jax.nn.conv import ChiralConv1d
from chiral_jax.nn.elementwise import ChiralActivation, ChiralDropout
from chiral_jax.nn.graph import ChiralGraphConv, GraphConv
from chiral_jax.nn.invariance import ChiralInvariance
from chiral_jax.nn.linear import ChiralInvariant, ChiralLinear
from chiral_jax.nn.norm import BatchNorm, BatchNormMomentum, ChiralBatchNorm
from chiral_jax.nn.recurrent import ChiralGRU, ChiralGRUCell, ChiralLSTM, ChiralLSTMCell, unsigned
from chiral_jax.nn.tokens import ChiralFeedForward, ChiralLayerNorm, ChiralTokenEmbedding, FeedForward

__all__ = [
    "BatchNorm",
    "BatchNormMomentum",
    "ChiralActivation",
    "ChiralBatchNorm",
    "ChiralConv1d",
    "ChiralDropout",
    "ChiralFeedForward",
    "ChiralGRU",
    "ChiralGRUCell",
    "ChiralGraphConv",
    "ChiralInvariance",
    "ChiralInvariant",
    "ChiralLSTM",
    "ChiralLSTMCell",
    "ChiralLayerNorm",
    "ChiralLinear",
    "ChiralMultiHeadAttention",
    "ChiralTokenEmbedding",
    "FeedForward",
    "GraphConv",
    "MultiHeadAttention",
    "TokenLinear",
    "unsigned",
]
