"""What the benchmark scripts in ``tools/`` share.

Each script puts ``tools/`` on ``sys.path`` first, so this module is found
whether the script runs as ``python tools/bench_x.py`` or is loaded by path
from the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator

__all__ = ["RefusedError", "at_least", "quiet_loggers", "ratio"]


class RefusedError(Exception):
    """A client gave a wrong result; the benchmark reports nothing."""


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers of at least ``minimum``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


@contextlib.contextmanager
def quiet_loggers(names: Iterable[str], ignore_warnings: bool = True) -> Iterator[None]:
    """Raises the named loggers above CRITICAL (and ignores warnings); restores them afterwards."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL + 1)
        with warnings.catch_warnings():
            if ignore_warnings:
                warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, saved):
            logger.setLevel(level)
