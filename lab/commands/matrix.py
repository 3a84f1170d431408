"""``tlslab matrix``: run every scenario with every client and write the symptom matrix."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lab import matrix as matrix_lib
from lab.console import err
from lab.commands import lab_errors
from lab.errors import EnvironmentError_
from lab.harness import Harness, RunReport
from lab.paths import default_certs_dir
from lab.pki import Pki
from lab.probes import make_probes, parse_clients
from lab.scenario import Catalog
from lab.backends import make_backend

DEFAULT_MD = Path("docs/symptoms.md")
DEFAULT_JSON = Path("docs/symptoms.json")


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0].strip()


def tool_versions(clients: list[str]) -> dict[str, str]:
    """The version of what each client runs: raw messages are worded by these exact versions."""
    import ssl

    from OpenSSL import SSL
    known = {
        "python-ssl": lambda: ssl.OPENSSL_VERSION,
        "pyopenssl": lambda: SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode(),
        "openssl": lambda: _first_line(["openssl", "version"]),
        "curl": lambda: " ".join(_first_line(["curl", "--version"]).split()[:2]),
        "java": lambda: _first_line(["java", "-version"]),
        "browser": lambda: _first_line(["chromium", "--version"]),
        "go": lambda: _first_line(["go", "version"]),
        "node": lambda: _first_line(["node", "-p", "'Node ' + process.version + ' (OpenSSL ' + process.versions.openssl + ')'"]),
        "gnutls": lambda: _first_line(["gnutls-cli", "--version"]),
        "nss": lambda: _first_line(["dpkg-query", "-W", "-f=NSS ${Version} (tstclnt)", "libnss3"]),  # tstclnt prints none
    }
    return {name: known[name]() for name in clients if name in known}


def generate(clients: str = "all", backend: str = "twisted", scenarios: Path | None = None,
             certs: Path | None = None, require_all: bool = False) -> tuple[dict, str]:
    """Run the catalogue with the clients and return (matrix data, Markdown). Raises LabError."""
    catalog = Catalog.load(scenarios)
    probes = make_probes(parse_clients(clients))
    harness = Harness(make_backend(backend), probes, Pki.ensure(certs or default_certs_dir()))
    if harness.unavailable and (require_all or os.environ.get("CI") == "true"):
        raise EnvironmentError_("every client must run to write the matrix: " + "; ".join(
            f"{name}: {why}" for name, why in harness.unavailable.items()))
    report: RunReport = harness.run(list(catalog))
    data = matrix_lib.build([report], catalog, tool_versions(list(report.clients)))
    return data, matrix_lib.markdown(data)


def json_text(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def matrix(
    out_md: Annotated[Path, typer.Option("--out", "-o", help="Markdown file to write.")] = DEFAULT_MD,
    json_out: Annotated[Optional[Path], typer.Option("--json-out", help="The matrix as JSON: a file, '-' for stdout, 'none' to skip.")] = DEFAULT_JSON,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when --out differs from a fresh run.")] = False,
    client: Annotated[str, typer.Option("--client", "-c", help="Comma-separated clients, or 'all'.")] = "all",
    backend: Annotated[str, typer.Option("--backend", "-b", help="Where the servers run.")] = "twisted",
    scenarios: Annotated[Optional[Path], typer.Option("--scenarios", help="Scenario directory.", show_default=False)] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Where the lab PKI lives.", show_default=False)] = None,
) -> None:
    """Write the symptom matrix (scenario x client, fault and every fix) as Markdown and JSON.

    The committed docs/symptoms.md and docs/symptoms.json are regenerated with: tlslab matrix

    Exit codes: 0 written (or up to date with --check); 1 stale (--check) or a check failed;
    2 bad input; 3 a client or tool is missing (all clients must run).
    """
    if json_out is not None and str(json_out) == "none":
        json_out = None
    with lab_errors():
        data, text = generate(client, backend, scenarios, certs, require_all=True)
    payload = json_text(data)
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(payload)
    targets = [(out_md, text)] + ([(json_out, payload)] if json_out is not None and str(json_out) != "-" else [])
    if check:
        stale = False
        for path, fresh in targets:
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != fresh:
                stale = True
                diff = difflib.unified_diff(current.splitlines(), fresh.splitlines(), str(path), "fresh run", lineterm="")
                err.print("\n".join(list(diff)[:80]))
                err.print(f"{path} is stale: regenerate it with 'tlslab matrix' and commit it.")
        if stale:
            committed = json.loads(json_out.read_text()) if json_out and json_out.exists() and str(json_out) != "-" else {}
            if committed.get("tools") not in (None, data["tools"]):
                err.print(f"note: the matrix was made with other tool versions ({committed.get('tools')}); "
                           "their raw words may differ for that reason alone.")
            raise typer.Exit(1)
        err.print(" and ".join(str(p) for p, _ in targets) + " up to date.")
    else:
        for path, fresh in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(fresh, encoding="utf-8")
        err.print("wrote " + " and ".join(str(p) for p, _ in targets))
    if not data["passed"]:
        err.print("some checks failed: the matrix shows them with ✗ (see 'tlslab run --all --client all -v').")
        raise typer.Exit(1)
