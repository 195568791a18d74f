"""The runner every task shares: one comparison (variants, equal parameters, flip averaging, seeds),
trained, evaluated, summarised and reported one way.

* :mod:`~chiral_jax.runner.variants`: the one :class:`Variant` type, the variant grid and the
  exact equal-parameter matcher;
* :mod:`~chiral_jax.runner.inference`: eval-mode functions (flip-averaged in one jit) and batched,
  padded, timed inference;
* :mod:`~chiral_jax.runner.comparison`: the :class:`Task` interface, training with resume, ``results.json``
  and ``results.md``; :mod:`~chiral_jax.runner.sweep`: comparisons over config overrides;
* :mod:`~chiral_jax.runner.summary` / :mod:`~chiral_jax.runner.report`: summaries over seeds and
  any breakdown, and the markdown tables.

A task module (:mod:`chiral_jax.tasks`) holds only its data, model, loss and metrics.
"""

from chiral_jax.equivariance import flip_average
from chiral_jax.runner.comparison import (
    Task,
    TrainingSetup,
    flip_average_enabled,
    machine_description,
    num_params,
    report,
    run,
    train_variant,
)
from chiral_jax.runner.inference import batched_apply, eval_function, predict_sequences
from chiral_jax.runner.report import Column, mean_std, plot_summary, results_table, table
from chiral_jax.runner.summary import TTA_SUFFIX, summarize, summarize_breakdown
from chiral_jax.runner.sweep import SweepPoint, sweep, sweep_table
from chiral_jax.runner.variants import KINDS, Variant, comparison_grid, kinds_of, match_params, variant_name
from chiral_jax.runner.vocabulary import ALIASES, canonical_config, canonical_key

__all__ = [
    "ALIASES",
    "KINDS",
    "TTA_SUFFIX",
    "Column",
    "SweepPoint",
    "Task",
    "TrainingSetup",
    "Variant",
    "batched_apply",
    "canonical_config",
    "canonical_key",
    "comparison_grid",
    "eval_function",
    "flip_average",
    "flip_average_enabled",
    "kinds_of",
    "machine_description",
    "match_params",
    "mean_std",
    "num_params",
    "plot_summary",
    "predict_sequences",
    "report",
    "results_table",
    "run",
    "summarize",
    "summarize_breakdown",
    "sweep",
    "sweep_table",
    "table",
    "train_variant",
    "variant_name",
]
