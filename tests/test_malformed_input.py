"""Hostile and unlucky input through the real `tlslab` command: one line naming the culprit, never a traceback.

Each malformed scenario file (tests/malformed_corpus.py) is put alone in a scenario directory
and loaded with `tlslab list --scenarios DIR`; each hostile flag or environment runs its own
command line. Every case must exit with its documented code (2 bad input, 3 this machine), print
exactly one line on stderr that names the file and field (or the flag / variable), and no
traceback. A FIFO or /dev/zero in the directory must not hang the command (the timeout fails it).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO, skip_or_fail
from malformed_corpus import (BASE, FILE_CASES, CannotSetUp, FileCase, FlagCase, flag_cases, run_flag_case,
                              write_file_case)

TLSLAB = [sys.executable, "-m", "lab"]


def tlslab(env: dict[str, str], *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TLSLAB, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, words: tuple[str, ...]) -> None:
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == code, f"exit {result.returncode}, stderr: {result.stderr[-2000:]}"
    if code:
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {result.stderr[:2000]}"
        assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word in result.stderr, f"{word!r} not in: {result.stderr[:2000]}"


@pytest.mark.parametrize("raw", [BASE.encode(), b"\xef\xbb\xbf" + BASE.encode(), BASE.replace("\n", "\r\n").encode()],
                         ids=["plain", "utf8-bom", "crlf"])
def test_the_corpus_base_file_is_valid(cli_env: dict[str, str], tmp_path: Path, raw: bytes) -> None:
    """Negative control: the file every case mutates loads (as editors save it), so each case's error is its own."""
    (tmp_path / "demo.toml").write_bytes(raw)
    result = tlslab(cli_env, "list", "--scenarios", str(tmp_path))
    assert result.returncode == 0 and "demo" in result.stdout, result.stderr


def test_every_malformed_scenario_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    """All FILE_CASES, a few commands at a time (each is a process start); every failure is listed."""
    def check(case: FileCase) -> str | None:
        directory = tmp_path / case.name
        path = write_file_case(case, directory)
        try:
            result = tlslab(cli_env, "list", "--scenarios", str(directory), timeout=30)
            assert_one_line_error(result, 2, (str(path), *case.words))
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            return f"{case.name}: {exc}"
        return None

    assert len(FILE_CASES) >= 53
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(check, FILE_CASES) if p]
    assert not problems, "\n\n".join(problems)


_FLAG_CASES = flag_cases()


@pytest.mark.parametrize("case", _FLAG_CASES, ids=[c.name for c in _FLAG_CASES])
def test_hostile_flag_or_environment(cli_env: dict[str, str], certs_dir: Path, tmp_path: Path, case: FlagCase) -> None:
    try:
        result, words = run_flag_case(case, cli_env, certs_dir, tmp_path, REPO)
    except CannotSetUp as exc:
        skip_or_fail(str(exc))
    assert_one_line_error(result, case.code, words)
    if case.code == 0:  # a read-only but complete cache is simply used
        assert "sni-required" in result.stdout


def test_user_text_is_printed_as_written(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Scenario text that looks like rich markup is shown verbatim by list and show, never parsed."""
    text = "[red]nope [/foo] [[resolution]] [bold]x[/bold]"
    (tmp_path / "demo.toml").write_text(BASE.replace('fault = "the server\'s certificate expired"',
                                                     f'fault = "{text}"').replace('title = "Demo"', f'title = "{text}"'))
    for command in ("list", "show"):
        args = [command] if command == "list" else [command, "demo"]
        result = tlslab(cli_env, *args, "--scenarios", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert text in result.stdout, result.stdout
