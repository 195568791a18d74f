"""Errors for dataset files that are missing or not in the expected format.

Every message names the full path tried, what was expected there (file name and format) and where
users get it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DatasetFileError", "MalformedDatasetFile", "MissingDatasetFile", "malformed", "missing"]


class DatasetFileError(Exception):
    """A dataset file problem. Attributes: ``path``, ``expected``, ``source``, ``reason``."""

    def __init__(self, path: str | Path, expected: str, source: str, reason: str) -> None:
        self.path = Path(path).absolute()
        self.expected = expected
        self.source = source
        self.reason = reason
        super().__init__(f"{reason}: {self.path}\n  expected there: {expected}\n  where to get it: {source}")

    def short(self) -> str:
        """The message in two lines (what the command line prints): the problem and the path, then
        what was expected there and where to get it."""
        return f"{self.reason}: {self.path}\nexpected there: {self.expected}; where to get it: {self.source}"


class MissingDatasetFile(DatasetFileError, FileNotFoundError):
    """The file (or folder) is not there."""


class MalformedDatasetFile(DatasetFileError, ValueError):
    """The file is there but does not hold what the format says."""


def missing(path: str | Path, expected: str, source: str) -> MissingDatasetFile:
    return MissingDatasetFile(path, expected, source, "dataset file not found")


def malformed(path: str | Path, expected: str, source: str, reason: str) -> MalformedDatasetFile:
    return MalformedDatasetFile(path, expected, source, f"malformed dataset file ({reason})")
