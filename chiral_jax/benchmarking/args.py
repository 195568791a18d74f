"""The benchmarks' common command line: ``--quick``, ``--repeats``, ``--json``, ``--seed``, and
sizes with a full and a quick default."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["BenchmarkParser"]

QUICK_HELP = "tiny sizes: a smoke test that runs in seconds"


class BenchmarkParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with the flags every benchmark shares and sizes that default by mode.

    Shared flags: ``--quick`` (tiny sizes), ``--json PATH`` (the raw numbers and the machine record,
    :func:`~chiral_jax.benchmarking.report`), ``--seed`` (with ``seed`` not None) and ``--repeats``
    (with ``repeats=(full, quick)``: timed calls per variant; ``repeats_flags`` names its options).
    A size (:meth:`size`) left unset on the command line gets its full or its ``--quick`` default
    after parsing, and must be at least its ``minimum``.

    ``doc``: the script's docstring; its first paragraph is the description.
    """

    def __init__(
        self,
        doc: str | None,
        *,
        repeats: tuple[int, int] | None = None,
        repeats_flags: Sequence[str] = ("--repeats",),
        seed: int | None = 0,
        quick_help: str = QUICK_HELP,
    ):
        super().__init__(description=(doc or "").strip().split("\n\n")[0])
        self._sizes: dict[str, tuple[Any, Any, float | None, str]] = {}
        self.add_argument("--quick", action="store_true", help=quick_help)
        self.add_argument("--json", type=str, default=None, help="write the raw numbers and the machine here")
        if seed is not None:
            self.add_argument("--seed", type=int, default=seed)
        if repeats is not None:
            self.size(*repeats_flags, full=repeats[0], quick=repeats[1], help="timed calls per variant")

    def size(
        self,
        *flags: str,
        full: Any,
        quick: Any = None,
        help: str = "",
        minimum: float | None = 1,
        type: Any = int,
        **kwargs: Any,
    ) -> argparse.Action:
        """A size option: ``full`` by default, ``quick`` (default: ``full``) with ``--quick``; values
        below ``minimum`` (None: no check) are refused. The defaults are added to ``help``."""
        quick = full if quick is None else quick

        def shown(v: Any) -> str:
            return " ".join(map(str, v)) if isinstance(v, list | tuple) else f"{v}"

        note = f"default {shown(full)}" + ("" if quick == full else f"; {shown(quick)} quick")
        action = self.add_argument(
            *flags, type=type, default=None, help=f"{help} ({note})" if help else note, **kwargs
        )
        self._sizes[action.dest] = (full, quick, minimum, action.option_strings[0])
        return action

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, rest = super().parse_known_args(args, namespace)
        for dest, (full, quick, minimum, flag) in self._sizes.items():
            value = getattr(ns, dest, None)
            if value is None:
                setattr(ns, dest, quick if ns.quick else full)
            elif minimum is not None:
                values = value if isinstance(value, list | tuple) else [value]
                if any(v < minimum for v in values):
                    self.error(f"{flag} must be >= {minimum:g}, got {value}")
        return ns, rest
