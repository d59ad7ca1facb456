"""A real intake process SIGKILLed at every step boundary (the intake's and the publish run's) and inside
fetch, load, settle, the linkage and the switch of a publish; the rerun (clear the task: start again at the
step without a result) converges to the clean run's marts.
Real processes, embedded SFTP server process, PostgreSQL.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests import faults
from tests.fault_runner import KILL_POINTS, step_of

pytestmark = [pytest.mark.postgres, pytest.mark.sftp]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_then_rerun_converges(point: str, tmp_path: Path, pg_url: str) -> None:
    with faults.fault_env(tmp_path, pg_url) as env:
        state = tmp_path / "state"
        earlier = faults.STEPS[: faults.STEPS.index(step_of(point))]
        if earlier:  # the tasks before the killed one ran (in their own processes) and succeeded
            env.run(state, earlier)
        killed = env.runner(state, kill_at=point)
        assert killed.wait(timeout=120) == -signal.SIGKILL, state.with_suffix(".log").read_text()
        assert faults.fault_partner_state(pg_url)["orphan_rows"] == 0  # a load is all or nothing per file
        env.run(state)  # clear the killed task and rerun from there
        env.assert_converged(f"SIGKILL at {point}")
