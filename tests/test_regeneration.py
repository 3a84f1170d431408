"""Regenerating the PKI under a running lab: runs keep working, ups keep serving what they printed.

Before generations, a regeneration during ``tlslab run --all`` crashed the run (``key values
mismatch``) and a running ``up`` served a chain its printed ``ca_file`` no longer verified
(benchmarks/stress_regenerate.py: 4 of 4 runs crashed, 12 of 12 up checks mismatched).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _stress_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("stress_regenerate", REPO / "benchmarks" / "stress_regenerate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_regenerate_during_runs_and_ups(tmp_path: Path) -> None:
    stress = _stress_module()
    env = dict(os.environ, TLSLAB_CERTS=str(tmp_path / "certs"), TLSLAB_STATE=str(tmp_path / "state"))
    subprocess.run([sys.executable, "-m", "lab", "certs"], env=env, cwd=REPO, capture_output=True, check=True)
    figures = stress.stress(runs=2, ups=1, env=env)
    assert figures.regenerations >= 1 and figures.up_checks >= 1
    assert figures.crashed == 0
    assert figures.mismatched == 0
    generations = list((tmp_path / "certs").glob("gen-*"))
    assert len(generations) <= 3, "generations nobody holds any more are collected"
