"""Progress lines for long CLI work: numbered steps, durations, counts."""

from __future__ import annotations

import io
from itertools import count

import pytest

from devtools.progress import Steps, counted


def test_steps_print_number_label_duration_and_outcome() -> None:
    out = io.StringIO()
    ticks = count(0.0, 1.5)
    steps = Steps(2, out, clock=lambda: next(ticks))
    with steps.step("uploading partner files over SFTP") as done:
        done("20 files")
    with pytest.raises(RuntimeError), steps.step("running partner_intake through Airflow"):
        raise RuntimeError("boom")
    assert out.getvalue().splitlines() == [
        "[1/2] uploading partner files over SFTP ...",
        "[1/2] uploading partner files over SFTP done in 1.5 s (20 files)",
        "[2/2] running partner_intake through Airflow ...",
        "[2/2] running partner_intake through Airflow failed after 1.5 s",
    ]


def test_counted_reports_every_n_items_and_the_end() -> None:
    out = io.StringIO()
    assert list(counted(range(5), "files uploaded", total=5, every=2, stream=out)) == [0, 1, 2, 3, 4]
    assert out.getvalue().splitlines() == [
        "  files uploaded: 2/5",
        "  files uploaded: 4/5",
        "  files uploaded: 5/5",
    ]
