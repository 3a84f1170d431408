"""What a person reads and pastes: `run` at 80/100/120 columns, `up`'s commands on one line each."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from conftest import require_tool

TLSLAB = [sys.executable, "-m", "lab"]
MARKS = {"✓", "✗", "-", "✓†", "✗†", "-†"}


def _run(env: dict[str, str], *args: str, columns: int | None) -> subprocess.CompletedProcess[str]:
    env = {**env, **({"COLUMNS": str(columns)} if columns else {})}
    env.pop("COLUMNS", None) if columns is None else None
    return subprocess.run([*TLSLAB, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_run_all_reads_at_the_terminal_width(cli_env: dict[str, str], columns: int) -> None:
    require_tool("openssl")
    require_tool("curl")
    result = _run(cli_env, "run", "--all", columns=columns)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("scenario / phase"))
    legend = " ".join(lines[:header])
    clients = [legend.split(f"{i} ", 1)[1].split()[0] for i in range(1, 6) if f" {i} " in f" {legend} "]
    assert clients[:4] == ["python-ssl", "pyopenssl", "openssl", "curl"], legend
    rows = 0
    for line in lines[header:]:
        if not line.strip() or line.startswith(("n/a ", "PASS", "FAIL", "✗ ", "!", "    ")):
            break
        assert len(line) <= columns, f"{len(line)} > {columns}: {line!r}"
        assert line == line.rstrip(), f"trailing spaces: {line!r}"
        if line.startswith("  "):  # a phase row: every client's mark is visible
            marks = [tok for tok in line.split() if tok in MARKS]
            assert len(marks) >= 4, line
            rows += 1
    assert rows >= 40  # every phase of the 18 scenarios
    assert all(ln == ln.rstrip() for ln in lines), "piped output must carry no trailing spaces"


def test_na_reasons_are_said_once(cli_env: dict[str, str]) -> None:
    result = _run(cli_env, "run", "--all", "--client", "python-ssl", columns=80)
    na = [ln for ln in result.stdout.splitlines() if ln.startswith("n/a ")]
    assert na and len(na) == len(set(na))
    assert sum("require-staple" in ln for ln in na) == 1, na


def test_up_prints_commands_on_one_line_and_the_faulty_client(cli_env: dict[str, str]) -> None:
    proc = subprocess.Popen([*TLSLAB, "up", "sni-required"], env={**cli_env, "COLUMNS": "60"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
    finally:
        proc.terminate()
        proc.wait(10)
    openssl = next(ln for ln in lines if "openssl s_client" in ln)
    argv = shlex.split(openssl)  # pastes as one command: nothing wrapped
    assert argv[:2] == ["openssl", "s_client"] and "-noservername" in argv and argv[-1] == "-quiet"
    curl = next(ln for ln in lines if ln.strip().startswith("curl -v"))
    assert shlex.split(curl)[-1].startswith("https://api.lab.test:")
    assert any("sends no SNI" in ln for ln in lines), lines


def test_up_json_gives_the_faulty_clients_material(cli_env: dict[str, str]) -> None:
    proc = subprocess.Popen([*TLSLAB, "up", "unknown-server-cert", "--json"], env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(10)
    backend = next(e for e in info["endpoints"] if e["role"] == "backend")
    faulty = backend["scenario_client"]
    # unknown-server-cert: the gateway trusts another CA, so its trust store is not the correct ca_file
    assert faulty["ca_file"] != backend["ca_file"] and faulty["trust"] == "other-root"
    assert faulty["sends_sni"] is True
