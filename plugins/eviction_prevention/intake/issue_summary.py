"""What a receipt lists: one line per kind of problem, with the lines of the file it occurs on.

A file whose columns slipped one place, or whose every row misses the same field, has the same problem on
every line. Listed per line, the receipt would repeat it hundreds of times and cut the list off before the
other problems; grouped, a partner employee reads each problem once with the lines to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from eviction_prevention.parse.issues import Issue

GROUP_FROM = 3  # a problem on this many lines or more is listed once, with its lines

_ON_LINE = re.compile(r"^regel \d+: ")
_HEADER = re.compile(r"kolom ('[^']*')")  # how a message names the column, by the partner's header
# how a rejected cell is shown (convert._shown): quoted, or by its length; the header is quoted after "kolom"
_CELL_SHOWN = re.compile(r"(?<!kolom) '[^']*'| \(een tekst van \d+ tekens?\)")


def line_ranges(lines: Iterable[int]) -> str:
    """Line numbers as runs: ``[2, 3, 4, 7, 9, 10]`` -> ``"2-4, 7, 9-10"``."""
    runs: list[list[int]] = []
    for line in sorted(set(lines)):
        if runs and line == runs[-1][1] + 1:
            runs[-1][1] = line
        else:
            runs.append([line, line])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _problem(issue: Issue) -> str:
    """The problem a per-line message states, without its line and without the cell it shows."""
    return _CELL_SHOWN.sub("", _ON_LINE.sub("", issue.message))


def summarised(issues: Sequence[Issue]) -> list[str]:
    """The messages to list, in the order found: a problem found on ``GROUP_FROM`` lines or
    more once, as ``<problem>: regel 2-84 (83 regels)``; others as they were reported."""
    lines: dict[str, list[int]] = {}
    for issue in issues:
        if issue.row is not None and _ON_LINE.match(issue.message):
            lines.setdefault(_problem(issue), []).append(issue.row)
    grouped = {problem for problem, rows in lines.items() if len(set(rows)) >= GROUP_FROM}
    listed: list[str] = []
    done: set[str] = set()
    for issue in issues:
        problem = _problem(issue) if issue.row is not None and _ON_LINE.match(issue.message) else None
        if problem not in grouped:
            listed.append(issue.message)
        elif problem not in done:
            done.add(problem)
            rows = lines[problem]
            listed.append(f"{problem}: regel {line_ranges(rows)} ({len(set(rows))} regels)")
    return listed


SLIPPED = (
    "op elke regel staan in dezelfde kolommen verkeerde waarden ({columns}): staan de gegevens onder de juiste "
    "kolomnamen, of is er een kolom bijgekomen of weggevallen?"
)


def slipped_columns(issues: Sequence[Issue], rows_total: int) -> str | None:
    """A first reason when every row of a file fails in the same two columns or more: the columns most
    likely slipped against their headers, and the lines below all say so one by one."""
    if rows_total < 2:
        return None
    failing: dict[str, set[int]] = {}
    for issue in issues:
        header = _HEADER.search(issue.message)
        if issue.row is not None and header and issue.severity != "warning":
            failing.setdefault(header.group(1), set()).add(issue.row)
    everywhere = [header for header, rows in failing.items() if len(rows) == rows_total]
    return SLIPPED.format(columns=", ".join(everywhere)) if len(everywhere) >= 2 else None
