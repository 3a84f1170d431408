#!/usr/bin/env python3
"""Figures for hostile input (issue 15 item 3), measured, printed, never asserted.

Runs every malformed scenario file of tests/malformed_corpus.py (`tlslab list --scenarios DIR`,
one file per directory) and every hostile flag/environment case through the real command, and
counts tracebacks, hangs, exit codes and errors that are not exactly one line naming the culprit.

Usage: python benchmarks/bench_malformed.py
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from _common import TLSLAB  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from malformed_corpus import FILE_CASES, CannotSetUp, flag_cases, run_flag_case, write_file_case  # noqa: E402


def judge(name: str, result: subprocess.CompletedProcess[str] | None, code: int, words: tuple[str, ...],
          codes: collections.Counter[object], bad: list[str]) -> int:
    """1 when the output holds a traceback; records the exit code and any broken promise."""
    if result is None:
        codes["hung"] += 1
        bad.append(f"{name}: hung")
        return 0
    codes[result.returncode] += 1
    lines = result.stderr.strip().splitlines()
    traceback = "Traceback" in result.stderr
    if traceback or result.returncode != code or (code and len(lines) != 1) or not all(w in result.stderr for w in words):
        bad.append(f"{name}: exit {result.returncode} (want {code}), {len(lines)} stderr lines: "
                   f"{result.stderr.strip()[-300:]}")
    return int(traceback)


def main() -> None:
    started = time.perf_counter()
    codes: collections.Counter[object] = collections.Counter()
    bad: list[str] = []
    tracebacks = 0
    with tempfile.TemporaryDirectory(prefix="tlslab-bench-malformed-") as tmp:
        root = Path(tmp)
        env = dict(os.environ, TLSLAB_CERTS=str(root / "certs"), TLSLAB_STATE=str(root / "state"))
        subprocess.run([*TLSLAB, "certs"], env=env, check=True, capture_output=True, cwd=REPO)
        for case in FILE_CASES:
            directory = root / "files" / case.name
            path = write_file_case(case, directory)
            try:
                result: subprocess.CompletedProcess[str] | None = subprocess.run(
                    [*TLSLAB, "list", "--scenarios", str(directory)], env=env, capture_output=True, text=True,
                    timeout=30, cwd=REPO)
            except subprocess.TimeoutExpired:
                result = None
            tracebacks += judge(f"file {case.name}", result, 2, (str(path), *case.words), codes, bad)
        skipped = []
        for i, flag in enumerate(flag_cases()):
            tmp_case = root / "flags" / str(i)
            tmp_case.mkdir(parents=True)
            try:
                flag_result, words = run_flag_case(flag, env, root / "certs", tmp_case, REPO)
            except CannotSetUp as exc:
                skipped.append(f"{flag.name}: {exc}")
                continue
            except subprocess.TimeoutExpired:
                flag_result, words = None, flag.words
            tracebacks += judge(f"flag {flag.name}", flag_result, flag.code, words, codes, bad)
    total = sum(codes.values())
    shown = {k: codes[k] for k in sorted(codes, key=str)}
    print(f"{total} cases ({len(FILE_CASES)} scenario files, {total - len(FILE_CASES)} flag/env): "
          f"{tracebacks} tracebacks, exit codes {shown}, {len(bad)} broken promises, "
          f"{time.perf_counter() - started:.1f}s")
    for line in bad:
        print(f"  ✗ {line}")
    for line in skipped:
        print(f"  skipped {line}")


if __name__ == "__main__":
    main()
