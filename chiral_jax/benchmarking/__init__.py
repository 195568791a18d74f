"""The benchmark harness: every script in ``benchmarks/`` parses its command line, measures and
reports through it.

* :mod:`~chiral_jax.benchmarking.args`: :class:`BenchmarkParser`, the shared flags (``--quick``,
  ``--repeats``, ``--json``, ``--seed``) and sizes with a full and a quick default;
* :mod:`~chiral_jax.benchmarking.timing`: the interleaved timing loop (:func:`time_interleaved`);
* :mod:`~chiral_jax.benchmarking.runner`: the chiral-vs-baseline row (:func:`chiral_vs_baseline`,
  :func:`compare_calls`), its timed calls (:func:`train_call`, :func:`inference_calls`, which
  measures the baseline's test-time flip average with :func:`chiral_jax.equivariance.flip_average`)
  and the loop over rows (:func:`run_rows`);
* :mod:`~chiral_jax.benchmarking.report`: markdown tables (:func:`table`) and the report
  (:func:`report`: the machine record first, the raw numbers and the record in ``--json``);
* :mod:`~chiral_jax.benchmarking.machine`, :mod:`~chiral_jax.benchmarking.memory`,
  :mod:`~chiral_jax.benchmarking.hlo`: the machine record, XLA's planned memory, its cost analysis
  and the memory traffic of a compiled program by instruction kind.

Not imported by ``import chiral_jax``: ``from chiral_jax.benchmarking import time_interleaved``.
"""

from chiral_jax.benchmarking.args import BenchmarkParser
from chiral_jax.benchmarking.hlo import (
    COST_KEYS,
    TRAFFIC_KINDS,
    cost_analysis,
    hlo_traffic,
    shape_bytes,
    traffic_table,
    xla_flops,
)
from chiral_jax.benchmarking.machine import machine_info, machine_line
from chiral_jax.benchmarking.memory import MEMORY_FIELDS, memory_stats, mib
from chiral_jax.benchmarking.report import chiral_vs_baseline_table, mark, report, table
from chiral_jax.benchmarking.runner import (
    CHIRAL_VS_BASELINE_GROUPS,
    CHIRAL_VS_BASELINE_RATIOS,
    TimedCall,
    chiral_vs_baseline,
    compare_calls,
    copy_model,
    cycle_epochs,
    eval_apply,
    inference_calls,
    run_rows,
    train_call,
)
from chiral_jax.benchmarking.timing import Timings, time_interleaved

__all__ = [
    "CHIRAL_VS_BASELINE_GROUPS",
    "CHIRAL_VS_BASELINE_RATIOS",
    "COST_KEYS",
    "MEMORY_FIELDS",
    "TRAFFIC_KINDS",
    "BenchmarkParser",
    "TimedCall",
    "Timings",
    "chiral_vs_baseline",
    "chiral_vs_baseline_table",
    "compare_calls",
    "copy_model",
    "cost_analysis",
    "cycle_epochs",
    "eval_apply",
    "hlo_traffic",
    "inference_calls",
    "machine_info",
    "machine_line",
    "mark",
    "memory_stats",
    "mib",
    "report",
    "run_rows",
    "shape_bytes",
    "table",
    "time_interleaved",
    "traffic_table",
    "train_call",
    "xla_flops",
]
