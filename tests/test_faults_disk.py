"""The landing archive's disk fills up while files are being archived: the fetch fails with a clear error,
leaves no partial file (and nothing in the warehouse, the files stay in the inbox); after space is freed
the retry converges to the clean run's marts. A real 64 kB tmpfs mounted on the landing folder (root).
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from eviction_prevention import settings
from eviction_prevention.intake import fetch as intake_fetch
from eviction_prevention.intake import files as intake_files

from tests import faults
from tests.conftest import unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.sftp]

FREE_BYTES = 6 * 1024  # room for the first two files (a page each), not the third


@contextmanager
def small_filesystem(path: Path, size: str = "64k") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        unavailable(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """Write a filler file until only ``leave`` bytes are free."""
    filler = folder / "filler"
    stats = os.statvfs(folder)
    filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - leave))
    return filler


def test_disk_full_while_archiving_fails_clearly_without_partial_state(tmp_path: Path, pg_url: str) -> None:
    with faults.fault_env(tmp_path, pg_url) as env, small_filesystem(settings.landing_dir()) as archive:
        filler = fill(archive, FREE_BYTES)
        state = tmp_path / "state"
        with pytest.raises(intake_fetch.LandingFullError) as failed:
            env.run(state, ("fetch",))
        assert failed.value.errno == errno.ENOSPC
        assert "is full (No space left on device)" in str(failed.value)
        assert "nothing was loaded; free space, then clear the fetch task" in str(failed.value)
        folder = archive / faults.FAULT_PARTNER
        assert list((folder / "tmp").iterdir()) == []  # the partial download was removed
        landed = [p for p in folder.iterdir() if p.is_file()]
        assert 0 < len(landed) < len(faults.expected_rows())  # the disk filled up part-way
        assert all(intake_files.sha256_file(p) == p.stem for p in landed)  # what was archived is complete
        assert faults.fault_partner_state(pg_url)["ledger"] == []
        assert len(os.listdir(env.sftp_home / "inbox")) == len(faults.expected_rows())
        filler.unlink()  # the engineer frees space and clears the task
        env.run(state)
        env.assert_converged("disk full while archiving")
