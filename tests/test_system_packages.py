"""`make test` on a fresh machine: .ci/system-packages names what is missing (or installs it, as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from eviction_prevention import settings

SCRIPT = settings.REPO_ROOT / ".ci" / "system-packages"


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory the unprivileged user can read (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="system-packages-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def path_without(directory: Path, hidden: set[str]) -> str:
    """A PATH of one directory linking every command of /usr/bin and /usr/sbin but the hidden ones."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    for directory in (Path("/usr/bin"), Path("/usr/sbin")):
        for command in directory.iterdir():
            link = bin_dir / command.name
            if command.name not in hidden and not link.exists():
                link.symlink_to(command)
    return str(bin_dir)


def as_unprivileged(command: list[str]) -> list[str]:
    """Run as nobody when we are root, so the script cannot install and must say what is missing."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run the check without root")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]


def test_names_the_missing_packages_and_how_to_install_them(public_dir) -> None:
    env = {"PATH": path_without(public_dir, {"chromium", "chromedriver", "redis-server"}), "HOME": str(public_dir)}
    with SCRIPT.open() as script:  # read as stdin: the checkout may be private to root
        done = subprocess.run(
            as_unprivileged(["bash", "-s"]),
            stdin=script,
            cwd=public_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    missing = done.stderr.splitlines()[0]
    assert missing.startswith("The tests need these system packages, which are missing:")
    assert sorted(missing.split(":", 1)[1].split()) == ["chromium", "chromium-driver", "redis-server"]
    assert "sudo apt-get install -y" in done.stderr and "make test" in done.stderr


def test_passes_when_everything_is_there() -> None:
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert "missing" not in done.stdout + done.stderr
