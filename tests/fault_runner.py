"""A real intake process that SIGKILLs itself at a chosen point: ``python -m tests.fault_runner``.

Runs fetch -> load -> settle -> publish for one partner with resumable step state (see
``tests.faults.run_steps``). ``--kill-at`` names where the process dies: a step boundary (the step's work
is done but its result not yet recorded, like a worker killed before the XCom is pushed) or a point inside
a step (the named function of the pipeline is wrapped so that the process kills itself just before or just
after its n-th call). The warehouse, state folder and pseudonymisation key come from the environment.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests import faults

# point -> (module, function, "before"/"after", n-th call): the module where the caller looks the name up
INSIDE: dict[str, tuple[str, str, str, int]] = {
    "fetch:after_first_download": ("eviction_prevention.intake.fetch", "_download", "after", 1),
    "load:after_staging_insert": ("eviction_prevention.warehouse", "insert_rows", "after", 1),
    "load:before_commit": ("eviction_prevention.intake.ingest", "record_delivery", "after", 1),
    "load:between_files": ("eviction_prevention.intake.ingest", "ingest_file", "before", 3),
    "settle:after_receipt": ("eviction_prevention.intake.settle", "_move", "before", 1),
    "settle:before_ledger_mark": ("eviction_prevention.intake.settle", "mark_settled", "before", 1),
    "link:during_linkage": ("eviction_prevention.link.sources", "link_sources", "before", 1),
    # the views switched to the new build, the access layer not yet applied: the transaction never commits
    "publish:during_switch": ("eviction_prevention.operate.access", "apply_access", "before", 1),
}
BOUNDARIES = {f"boundary:after_{step}": step for step in faults.STEPS}
KILL_POINTS = sorted(INSIDE) + sorted(BOUNDARIES)


def step_of(point: str) -> str:
    """The step a kill point is in (the killed process is the task running that step)."""
    return BOUNDARIES.get(point) or point.split(":", 1)[0]


def die() -> None:
    logging.shutdown()
    os.kill(os.getpid(), signal.SIGKILL)


def _killing(func: Callable[..., Any], when: str, nth: int) -> Callable[..., Any]:
    calls = 0

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if when == "before" and calls == nth:
            die()
        result = func(*args, **kwargs)
        if when == "after" and calls == nth:
            die()
        return result

    return wrapper


def arm(point: str | None) -> Callable[[str], None]:
    """Install the kill point; returns the hook called after each step."""
    if point in INSIDE:
        module_name, name, when, nth = INSIDE[point]
        module = importlib.import_module(module_name)
        setattr(module, name, _killing(getattr(module, name), when, nth))
    boundary = BOUNDARIES.get(point or "")
    return lambda step: die() if step == boundary else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("partner")
    parser.add_argument("--sftp-port", type=int, required=True)
    parser.add_argument("--key-dir", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--steps", default=",".join(faults.STEPS))
    parser.add_argument("--kill-at", choices=KILL_POINTS)
    parser.add_argument("--start-when", type=Path, help="write <state>.ready, then start once this file exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    keys = faults.partner_keys(args.key_dir)
    after_step = arm(args.kill_at)
    if args.start_when:
        args.state.with_suffix(".ready").touch()
        while not args.start_when.exists():
            time.sleep(0.01)

    def connect() -> Any:
        return faults.sftp_session(
            args.sftp_port, args.partner, keys.client_key_paths[args.partner], keys.host_public_key
        )

    faults.run_steps(args.partner, connect, args.state, tuple(args.steps.split(",")), after_step)


if __name__ == "__main__":
    main()
