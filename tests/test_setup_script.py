"""README command 1's set-up script: a user who is neither root nor allowed sudo gets a clear message.

(The whole script is proved on a fresh Debian 12 root by .ci/fresh-debian, as root and as a user
with sudo; here only the refusal, which needs a user without either.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO


def test_a_user_without_root_or_sudo_is_told_what_to_do() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user (CI runs as root)")
    with tempfile.TemporaryDirectory(prefix="tlslab-setup-test-", dir="/tmp") as where:  # nobody can reach /tmp
        _refused(Path(where))


def _refused(tmp_path: Path) -> None:
    ci = tmp_path / "checkout" / ".ci"
    ci.mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "setup", ci / "setup")
    for path in (tmp_path, tmp_path / "checkout", ci, ci / "setup"):
        path.chmod(0o755)
    no_sudo = tmp_path / "bin"  # a PATH with a shell and coreutils but no sudo
    no_sudo.mkdir(mode=0o755)
    for tool in ("sh", "id", "dirname", "grep", "tr", "cat"):
        found = shutil.which(tool)
        assert found, tool
        (no_sudo / tool).symlink_to(found)
    setpriv = shutil.which("setpriv")  # util-linux, in every Debian
    assert setpriv
    run = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "sh", str(ci / "setup")],
                         env={"PATH": str(no_sudo), "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=30)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "needs root" in run.stderr and "install sudo" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
