"""The job's progress: one line per run of the variants x seeds grid, beside the trainer's epoch bar.

    run 3/9 chiral_plain_relu_w182 seed 0 · elapsed 2:31 · about 5:02 left

printed on stderr (through tqdm, so it never breaks a bar) when a run starts, and a last line when
the job ends. The estimate is the mean wall time of the runs trained so far times the runs left
(runs whose results were already in the workdir take no time and do not count). Silent when
``config.progress`` is False.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["JobProgress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``75.4`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``."""
    s = max(round(seconds), 0)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class JobProgress:
    """Reports the runs of one job (``total`` runs) on ``stream`` (stderr by default).

    Usage: ``start(name, seed)`` before each run, ``done(trained)`` after it, ``close()`` at the end.
    """

    def __init__(self, total: int, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total, self.enabled, self.stream = total, enabled, stream
        self.t0 = time.perf_counter()
        self.index = 0  # runs started
        self.finished = 0
        self.trained_seconds: list[float] = []
        self._run_start = self.t0

    def _write(self, line: str) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        tqdm.write(line, file=self.stream if self.stream is not None else sys.stderr)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float | None:
        """Estimated seconds for the runs not finished yet (None before one has trained)."""
        if not self.trained_seconds:
            return None
        mean = sum(self.trained_seconds) / len(self.trained_seconds)
        return mean * (self.total - self.finished)

    def start(self, name: str, seed: int, *, cached: bool = False) -> None:
        """A run begins: prints ``run i/n NAME seed S · elapsed · left`` (``cached``: its result is
        already in the workdir, so it is read back rather than trained)."""
        self.index += 1
        self._run_start = time.perf_counter()
        left = self.left()
        if cached:
            estimate = "result already in the workdir"
        elif left is None:
            estimate = "estimate after the first run"
        else:
            estimate = f"about {format_duration(left)} left"
        self._write(
            f"run {self.index}/{self.total} {name} seed {seed} · elapsed "
            f"{format_duration(self.elapsed())} · {estimate}"
        )

    def done(self, trained: bool) -> None:
        """The run ended; ``trained``: it trained (False: its result was already there)."""
        if trained:
            self.trained_seconds.append(time.perf_counter() - self._run_start)
        self.finished += 1

    def close(self) -> None:
        skipped = self.index - len(self.trained_seconds)
        note = f" ({skipped} already done in the workdir)" if skipped else ""
        self._write(f"{self.index}/{self.total} runs done{note} · elapsed {format_duration(self.elapsed())}")
