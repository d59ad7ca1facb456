"""Progress for long CLI work: numbered steps with their duration and a one-line outcome (counts only).

    steps = Steps(4)
    with steps.step("generating synthetic partner files") as done:
        summary = generate(...)
        done(f"{sum(summary['files'].values())} files")

prints to stderr ``[1/4] generating synthetic partner files ...`` and then ``[1/4] ... done in 3.2 s (20 files)``.
:func:`counted` wraps an iterable and reports every ``every`` items.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

_T = TypeVar("_T")


def _print(stream: TextIO, line: str) -> None:
    print(line, file=stream, flush=True)


class Steps:
    def __init__(self, total: int, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.clock = clock
        self.current = 0

    @contextmanager
    def step(self, label: str) -> Iterator[Callable[[str], None]]:
        self.current += 1
        prefix = f"[{self.current}/{self.total}]"
        _print(self.stream, f"{prefix} {label} ...")
        outcome: list[str] = []
        started = self.clock()
        try:
            yield outcome.append
        except BaseException:
            _print(self.stream, f"{prefix} {label} failed after {self.clock() - started:.1f} s")
            raise
        note = f" ({outcome[-1]})" if outcome else ""
        _print(self.stream, f"{prefix} {label} done in {self.clock() - started:.1f} s{note}")


def counted(
    items: Iterable[_T], label: str, total: int | None = None, every: int = 1, stream: TextIO | None = None
) -> Iterator[_T]:
    """Yield ``items``, printing ``label: n/total`` every ``every`` items and at the end."""
    stream = stream or sys.stderr
    n = 0
    for n, item in enumerate(items, start=1):
        yield item
        if n % every == 0 and n != total:
            _print(stream, f"  {label}: {n}/{total if total is not None else '?'}")
    _print(stream, f"  {label}: {n}/{total if total is not None else n}")
